"""Property-based fuzzing of everything a user hands the command line: model files, rules
CSVs, trial files and arguments. Every case either succeeds or ends in exactly one line
``error: <field or option>: <message>`` with a non-zero exit status — never a traceback, a
usage panel or an "internal error". Only validation paths run: a case that would simulate
fails the test (``Simulation.run`` is replaced by a tripwire).

600 generated cases (derandomized, so CI sees the same ones); about half a minute.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tmesim
from conftest import small_dict
from tmesim.cli import app

FUZZ = settings(deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: a case is shown as generated
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
ERROR_LINE = re.compile(r"^error: \S.*?: \S")  # a named field/option, then the message
_count = itertools.count()
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CASES: dict[str, int] = {}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(autouse=True)
def no_simulation(monkeypatch) -> None:
    def tripwire(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a fuzz case reached the simulation; cases must stop at validation")

    monkeypatch.setattr(tmesim.engine.Simulation, "run", tripwire)
    import typer.testing

    # typer builds the click command tree anew on every invoke (~50 ms); build it once
    command = typer.testing._get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)
    from tmesim import assay

    monkeypatch.setattr(assay.spheroid, "Simulation", tripwire, raising=False)


def invoke(args: list[str], kind: str) -> None:
    """Run the CLI in-process and check the one-line-error contract."""
    CASES[kind] = CASES.get(kind, 0) + 1
    res = CliRunner().invoke(app, args)
    err = res.stderr
    context = f"args={args!r}\nexit={res.exit_code}\nstderr={err!r}\nexception={res.exception!r}"
    assert res.exception is None or isinstance(res.exception, SystemExit), context
    assert "Traceback" not in err and "internal error" not in err and "╭" not in err, context
    if res.exit_code != 0:
        lines = err.strip("\n").split("\n")  # one line, or one per problem of a model file
        assert lines and all(ERROR_LINE.match(line) for line in lines), context
        assert len(lines) == 1 or args[0] == "validate", context
        assert res.exit_code == 2, context


def new_file(work: Path, suffix: str) -> Path:
    return work / f"case{next(_count):05d}{suffix}"


# --------------------------------------------------------------------------------- values
HOSTILE_TEXT = ["inf", "-inf", "nan", ".inf", "1e400", "inf 1/day", "-3 um", "1e40 1/min", "1 parsec",
                "", " ", "[bold red]x[/]", ":x: :thumbs_up:", "\x00", "\u202e", "𝟙𝟚", "NaN ng/mL",
                "../../etc/passwd", "9" * 400, "a,b,\"c", "%s%n", "{{x}}", "&a", "*a"]
hostile = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 5e-324, 0.0, -0.0]),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63, 2**64, -1, 0, 10**30]),
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=12),
    st.sampled_from([None, True, False, [], {}, [1, 2], {"value": "inf", "unit": "1/day"}, {"x": 1}]),
)


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [path] + [p for k, v in node.items() for p in leaves(v, (*path, k))]
    if isinstance(node, list):
        return [path] + [p for i, v in enumerate(node) for p in leaves(v, (*path, i))]
    return [path]


def mutate(data: Any, draw: st.DrawFn, n: int) -> Any:
    data = copy.deepcopy(data)
    paths = [p for p in leaves(data) if p]
    for _ in range(n):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for k in path[:-1]:
                parent = parent[k]
            action = draw(st.sampled_from(["set", "set", "set", "delete", "extra"]))
            if action == "set":
                parent[path[-1]] = draw(hostile)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(["colour", "[x]", ":x:", "days2"]))] = draw(hostile)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    return data


@st.composite
def file_bytes(draw: st.DrawFn, data: Any) -> bytes:
    """A mutated document, sometimes mangled as bytes (encoding, truncation, binary, aliases)."""
    text = yaml.dump(mutate(data, draw, draw(st.integers(1, 3))), Dumper=DUMPER, allow_unicode=True)
    how = draw(st.sampled_from(["plain"] * 6 + ["latin1", "utf16", "truncate", "binary", "bomb", "tabs"]))
    if how == "latin1":
        return ("# café\n" + text).encode("latin-1", errors="replace")
    if how == "utf16":
        return text.encode("utf-16")
    if how == "truncate":
        return text.encode()[: draw(st.integers(0, len(text)))]
    if how == "binary":
        return draw(st.binary(max_size=200))
    if how == "bomb":
        bomb = "b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, 9))
        return (bomb + text).encode()
    if how == "tabs":
        return text.replace("  ", "\t").encode()
    return text.encode()


# --------------------------------------------------------------------------------- models
MODEL = small_dict(size=16)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_model_files(work, data) -> None:
    f = new_file(work, ".yaml")
    f.write_bytes(data.draw(file_bytes(MODEL)))
    invoke(["validate", str(f)], "model files")


# ---------------------------------------------------------------------------------- rules
RULES = (Path(tmesim.preset_path("tnbc-core")).parent / "tnbc_rules.csv").read_text().splitlines()


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_rules_csv(work, data) -> None:
    rows = [line.split(",", 9) for line in RULES[:12]]
    for _ in range(data.draw(st.integers(1, 3))):
        r = data.draw(st.integers(0, len(rows) - 1))
        how = data.draw(st.sampled_from(["cell", "cell", "cut", "junk", "huge"]))
        if how == "cell":
            c = data.draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = str(data.draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=8))))
        elif how == "cut":
            rows[r] = rows[r][: data.draw(st.integers(0, len(rows[r])))]
        elif how == "junk":
            rows.insert(r, [data.draw(st.text(max_size=30))])
        else:
            rows[r][-1] = "x" * 200_000  # past the csv module's field size limit
    text = "\n".join(",".join(r) for r in rows) + "\n"
    enc = data.draw(st.sampled_from(["utf-8"] * 4 + ["latin-1", "utf-16"]))
    f = new_file(work, ".csv")
    f.write_bytes(text.encode(enc, errors="replace"))
    invoke(["rules", "import", str(f), "--preset", "tnbc-core"], "rules CSVs")


# --------------------------------------------------------------------------------- trials
TRIAL = {"name": "t", "preset": "tnbc-core", "n": 4, "seed": 1, "follow_up": 365,
         "timing": {"run_in_days": 21, "treatment_days": 42},
         "randomisation": {"ratio": [1, 1], "seed": 2},
         "arms": [{"name": "a", "therapies": ["nab-paclitaxel@day=0"]}, {"name": "b", "therapies": []}]}


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_trial_files(work, data) -> None:
    f = new_file(work, ".yaml")
    f.write_bytes(data.draw(file_bytes(TRIAL)))
    invoke(["validate", str(f)], "trial files")


# ------------------------------------------------------------------------------ arguments
BAD_NUMBER = st.sampled_from(["-1", "0", "inf", "-inf", "nan", "1e400", "abc", "", "--", "-0.0", "0x10",
                              "1e-400", "Infinity", "1,5"])
BAD_SEED = st.sampled_from([str(2**63), str(2**64), "-1", "1.5", "1e3", "abc", str(10**40)])
NUMBER = st.one_of(BAD_NUMBER, st.integers(-(2**70), 2**70).map(str), st.floats().map(str))
TEXT = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(alphabet=st.characters(blacklist_characters="\x00"),
                                                        max_size=10))


@pytest.fixture(scope="module")
def places(work) -> dict[str, str]:
    (work / "afile.txt").write_text("not a folder")
    (work / "empty").mkdir()
    model = work / "tiny.yaml"
    model.write_text(yaml.safe_dump(small_dict(size=16)))
    return {"file": str(work / "afile.txt"), "under_file": str(work / "afile.txt" / "run"),
            "missing": str(work / "missing" / "x"), "dot": ".", "root": "/", "empty": str(work / "empty"),
            "model": str(model), "binary": "/bin/sh" if Path("/bin/sh").exists() else str(model),
            "markup": str(work / "[bold]x[/] :x:")}


def path_in(places: dict[str, str]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(places.values()))


@st.composite
def argv(draw: st.DrawFn, places: dict[str, str]) -> list[str]:
    P = path_in(places)
    model = st.sampled_from([places["dot"], places["file"], places["missing"], places["binary"], places["markup"]])
    bad = draw(st.sampled_from(["days", "seed", "out", "model", "resume"]))  # what a `run` gets wrong
    run = ["run", draw(model) if bad == "model" else places["model"]]
    if bad == "days":
        run += ["--days", draw(BAD_NUMBER)]
    elif bad == "seed":
        run += ["--seed", draw(BAD_SEED)]
    elif bad == "out":
        run += ["--out", draw(st.sampled_from([places["under_file"], places["file"], places["model"]]))]
    elif bad == "resume":
        run = ["run", "--resume", draw(P), *draw(st.sampled_from([[], ["--days", "2"], ["--seed", "9"]]))]
    choices = [
        run,
        ["validate", draw(P)],
        ["validate", *draw(st.lists(TEXT, min_size=0, max_size=2))],
        ["rules", "export", "--preset", draw(st.sampled_from(["tnbc-core", "nope", "../tnbc", ""])),
         "--format", draw(st.sampled_from(["tmesim", "physicell", "xml", ""])), "--out",
         draw(st.sampled_from([places["under_file"], places["missing"], places["dot"]]))],
        ["catalog", "--preset", "tnbc-core", "--cell-type", draw(TEXT), "--signal", draw(TEXT)],
        ["catalog", "--preset", "tnbc-core", "--reference", draw(NUMBER)],
        ["therapies", draw(TEXT)],
        ["report", draw(P)],
        ["view", draw(P), "--port", draw(st.sampled_from(["-1", "65536", "abc", "99999999999999999999"]))],
        ["view", draw(st.sampled_from([places["missing"], places["file"], places["empty"]]))],
        ["animate", draw(P), "--fps", draw(NUMBER)],
        ["readout", draw(st.sampled_from(["scrna", "spatial", "regions"])), draw(P)],
        ["trial", draw(P), "--workers", draw(NUMBER)],
        ["trial", draw(st.sampled_from([places["missing"], places["dot"], places["binary"]]))],
        ["cohort", "--out", draw(P), "--n", draw(BAD_NUMBER)],
        ["cohort", "--out", draw(P), "--engine", draw(TEXT)],
        ["cohort", "--out", draw(P), "--seed", draw(BAD_SEED)],
        ["cohort", "--out", draw(P), "--days", draw(BAD_NUMBER)],
        ["cohort", "--out", draw(P), "--workers", draw(st.sampled_from(["0", "-3", "inf"]))],
        ["assay", "spheroid", "--days", draw(BAD_NUMBER)],
        ["assay", "spheroid", "--matrix", draw(TEXT), "--days", draw(BAD_NUMBER)],
        [draw(st.sampled_from(["nope", "--nope", "rules", "assay", "readout"])), *draw(st.lists(TEXT, max_size=3))],
    ]
    return draw(st.sampled_from(choices))


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_cli_arguments(places, data) -> None:
    args = data.draw(argv(places))
    if any("\x00" in a for a in args):
        return
    if args[:2] == ["view", places["empty"]]:
        return
    invoke(args, "CLI arguments")


def test_report_counts() -> None:
    """Runs last (file order): the number of fuzzed inputs, for the closing note."""
    print("fuzzed inputs:", CASES, "total", sum(CASES.values()))
    assert sum(CASES.values()) >= 500 or not CASES
