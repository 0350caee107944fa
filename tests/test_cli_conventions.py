"""CLI conventions: --version, -h, --quiet/--verbose, --json, every validation error at once,
`tmesim schema`, shell completion, and a progress line per simulated day in logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tmesim
from conftest import small_dict
from tmesim.cli import app

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("m") / "small.yaml"
    d = small_dict(size=16, days=1.0)
    d["time"]["output_interval"] = "1 day"
    path.write_text(yaml.safe_dump(d))
    return path


def test_version_and_short_help():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"tmesim {tmesim.__version__}"
    top = runner.invoke(app, ["-h"])
    assert top.exit_code == 0
    for word in ("--version", "--quiet", "--verbose", "--install-completion", "--show-completion",
                 "schema", "import", "export", "--json"):
        assert word in top.stdout, word
    sub = runner.invoke(app, ["rules", "export", "-h"])
    assert sub.exit_code == 0 and "--format" in sub.stdout


def test_shell_completion_script():
    res = runner.invoke(app, ["--show-completion", "bash"], prog_name="tmesim")
    assert res.exit_code == 0 and "complete" in res.stdout and "_TMESIM_COMPLETE" in res.stdout


def test_quiet_verbose_and_day_lines(model_file, tmp_path):
    # stdout of the test runner is not a terminal: one progress line per simulated day
    res = runner.invoke(app, ["run", str(model_file), "--days", "2", "--out", str(tmp_path / "a"), "--no-report"])
    assert res.exit_code == 0, res.output
    days = [line for line in res.stderr.splitlines() if line.startswith("day ")]
    assert [line.split(":")[0] for line in days] == ["day 1/2", "day 2/2"]
    assert "done" in res.stderr
    quiet = runner.invoke(app, ["--quiet", "run", str(model_file), "--days", "1", "--out", str(tmp_path / "b"), "--no-report"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    both = runner.invoke(app, ["--quiet", "--verbose", "validate", str(model_file)])
    assert both.exit_code == 2


def test_validate_json_and_all_errors(model_file, tmp_path):
    ok = runner.invoke(app, ["validate", "--json", str(model_file)])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["valid"] and data["errors"] == [] and "cancer" in data["cell_types"]
    bad = yaml.safe_load(model_file.read_text())
    bad["domain"]["dims"] = 4
    bad["substrates"][0]["diffusion"] = "fast"
    bad["colour"] = "red"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 3, res.stderr  # one line per problem, all at once
    assert any("domain.dims" in line for line in lines) and any("colour" in line for line in lines)
    res = runner.invoke(app, ["validate", "--json", str(path)])
    data = json.loads(res.stdout)
    assert res.exit_code == 2 and not data["valid"] and len(data["errors"]) == 3


def test_therapies_and_catalog_json():
    res = runner.invoke(app, ["therapies", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert any(t["therapy"] == "atezolizumab" for t in data) and all("drugs" in t for t in data)
    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--json", "--cell-type", "CAF"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == "tnbc-core" and data["rules"] and all("CAF" in r["cell_type"] for r in data["rules"])


@pytest.mark.parametrize("kind", ["model", "trial", "therapy"])
def test_schema(kind):
    res = runner.invoke(app, ["schema", kind])
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert schema["type"] == "object" and schema["$schema"].startswith("https://json-schema.org/")
    key = {"model": "cell_types", "trial": "arms", "therapy": "start"}[kind]
    assert key in schema["properties"]


def test_trial_json(tmp_path, monkeypatch):
    # The trial itself is tested in test_cohort_trial; here: --json prints its summary as JSON on
    # stdout, with non-finite medians as null, and nothing else goes to stdout.
    import tmesim.cohort

    trial = Path(tmesim.__file__).parent / "presets" / "trials" / "impassion130.yaml"
    summary = {"patients": 4, "wall_s": 1.0, "patients_per_s": 4.0, "arms": {"a": 2, "b": 2},
               "medians_days": {"os": {"a": float("inf"), "b": 427.0}}, "hazard_ratios": [], "logrank": []}
    monkeypatch.setattr(tmesim.cohort, "run_trial", lambda *a, **k: summary)
    res = runner.invoke(app, ["trial", str(trial), "--n", "4", "--out", str(tmp_path / "t"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["patients"] == 4 and data["medians_days"]["os"] == {"a": None, "b": 427.0}
