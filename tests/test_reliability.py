"""Reliability and security guarantees (docs/reliability.md): locks, crash-consistent
checkpoints, resume rules, non-finite values, bounded YAML, strict JSON, the viewer's server.

Every test here is light (no run longer than a 16×16 lattice for a day); the kill tests are in
test_reliability_slow.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tmesim
from conftest import build, small_dict
from tmesim.io import LockedError, RunWriter, locked, read_checkpoint, resolved_config
from tmesim.io.atomic import dumps_json
from tmesim.io.lock import HOLDER_NAME, FolderLock
from tmesim.model import ModelError
from tmesim.model.errors import NonFiniteError

SRC = Path(tmesim.__file__).parent


def tiny(days: float = 1.0) -> tmesim.Model:
    return build(small_dict(size=16, days=days))


def same_run(a: Path, b: Path) -> None:
    """Two run directories hold the same results (tables, snapshots, fields), bit for bit."""
    ra, rb = tmesim.RunDirectory(a), tmesim.RunDirectory(b)
    for name in ("summary.parquet", "metrics.parquet", "events.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name), check_exact=True, obj=name)
    assert ra.snapshot_times() == rb.snapshot_times()
    for t in ra.snapshot_times():
        pd.testing.assert_frame_equal(ra.cells(t), rb.cells(t), check_exact=True)
    fa, fb = ra.fields(), rb.fields()
    assert fa.sizes == fb.sizes and all(np.array_equal(fa[v].values, fb[v].values) for v in fa.data_vars)


# ------------------------------------------------------------------------------------ locks
def test_second_writer_is_refused_with_the_holders_pid_and_start_time(tmp_path) -> None:
    with locked(tmp_path / "run", "run directory"):
        with pytest.raises(LockedError) as err:
            FolderLock(tmp_path / "run", "run directory").acquire()
        with pytest.raises(LockedError, match="in use by process"):
            tmesim.simulate(tiny(), out=tmp_path / "run", report=False)  # refused before simulating
    msg = str(err.value)
    assert f"process {os.getpid()}" in msg and re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", msg), msg
    FolderLock(tmp_path / "run").acquire().release()  # free again once released


def test_stale_lock_of_a_dead_process_is_reported_and_taken_over(tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that held the folder and died without releasing it
    folder = tmp_path / "trial"
    folder.mkdir()
    (folder / HOLDER_NAME).write_text(json.dumps({"pid": child.pid, "started": 1.0, "started_at": "then",
                                                  "command": "tmesim trial t.yaml"}))
    heard: list[str] = []
    with FolderLock(folder, "trial folder", notice=heard.append) as lk:
        assert lk.stale is not None and lk.stale["pid"] == child.pid
        assert json.loads((folder / HOLDER_NAME).read_text())["pid"] == os.getpid()
    assert len(heard) == 1 and "stale lock" in heard[0] and str(child.pid) in heard[0]
    assert not (folder / HOLDER_NAME).exists()


def test_resume_of_a_locked_run_is_refused(tmp_path) -> None:
    out = tmp_path / "run"
    RunWriter(out, resolved_config(tiny(), 0, 1.0, "test"))
    with locked(out, "run directory"), pytest.raises(LockedError, match=f"process {os.getpid()}"):
        tmesim.resume(out, report=False)


# --------------------------------------------------------------------- crash consistency
def test_checkpoint_is_committed_by_one_pointer_and_survives_a_torn_swap(tmp_path) -> None:
    straight = tmesim.simulate(tiny(), out=tmp_path / "straight", seed=3, report=False).path
    ckpt = straight / "checkpoint"
    assert (ckpt / "CURRENT").read_text().strip() in {p.name for p in ckpt.iterdir() if p.is_dir()}
    assert len([p for p in ckpt.iterdir() if p.is_dir()]) == 1  # older checkpoints are gone

    # A run killed at day 0.5 while writing its next checkpoint: the next checkpoint folder is
    # half written (and a later one fully written but not committed); CURRENT still names day 0.5.
    killed = tmp_path / "killed"
    m = tiny()
    sim = tmesim.engine.Simulation(m, seed=3)
    from tmesim.api import _Recorder

    rec = _Recorder(RunWriter(killed, resolved_config(m, 3, 1.0, tmesim.__version__)))
    sim.run(days=0.5, observer=rec)
    rec.on_checkpoint(sim)
    sim.run(days=0.75, observer=rec)  # outputs after the checkpoint, to be rolled back
    (killed / "checkpoint" / ".step-000000180-deadbeef.tmp").mkdir()
    (killed / "checkpoint" / ".step-000000180-deadbeef.tmp" / "state.npz").write_bytes(b"PK\x03\x04torn")
    committed = (killed / "checkpoint" / "CURRENT").read_text().strip()
    _, meta, _ = read_checkpoint(killed)
    assert meta["time_days"] == 0.5
    tmesim.resume(killed, report=False)
    same_run(straight, killed)
    assert committed not in os.listdir(killed / "checkpoint")  # replaced by the final checkpoint
    assert not [p for p in (killed / "checkpoint").iterdir() if p.name.startswith(".")]


def test_run_killed_before_its_first_checkpoint_restarts_cleanly(tmp_path) -> None:
    straight = tmesim.simulate(tiny(), out=tmp_path / "straight", seed=5, report=False).path
    killed = tmp_path / "killed"
    RunWriter(killed, resolved_config(tiny(), 5, 1.0, tmesim.__version__))  # config written, then killed
    (killed / "events" / "part-000007.parquet").write_bytes(b"half a file")  # debris of the killed run
    (killed / "cells" / "cells_day_0000.25.parquet").write_bytes(b"")
    with pytest.raises(ModelError, match="no checkpoint"):
        read_checkpoint(killed)
    tmesim.resume(killed, report=False)
    same_run(straight, killed)


def test_resume_refuses_other_days_or_seed(tmp_path) -> None:
    out = tmp_path / "run"
    RunWriter(out, resolved_config(tiny(), 4, 1.0, "test"))
    with pytest.raises(ModelError, match=r"days: .*started with --days 1;"):
        tmesim.resume(out, days=3, report=False)
    with pytest.raises(ModelError, match=r"seed: .*started with --seed 4;"):
        tmesim.resume(out, seed=5, report=False)


# ---------------------------------------------------------------------- non-finite values
@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["substrates"][0].update(diffusion=float("inf")), "substrates[oxygen].diffusion"),
    (lambda d: d["substrates"][1].update(initial="nan ng/mL"), "substrates[vegf].initial"),
    (lambda d: d["cell_types"][0]["behaviours"].update(apoptosis=float("inf")),
     "cell_types[cancer].behaviours.apoptosis"),
    (lambda d: d["cell_types"][0]["behaviours"].update(apoptosis="inf 1/day"), "apoptosis"),
    (lambda d: d["time"].update(days=float("nan")), "time.days"),
    (lambda d: d["domain"].update(site_size=10**400), "domain.site_size"),
])
def test_non_finite_values_are_refused_naming_the_field(edit, field) -> None:
    d = small_dict(size=16)
    edit(d)
    with pytest.raises(ModelError, match="finite") as err:
        build(d)
    assert field in str(err.value), str(err.value)


def test_non_finite_rule_value_in_a_rules_csv_is_refused(tmp_path) -> None:
    from tmesim.model.rules_csv import read_rules_csv

    f = tmp_path / "rules.csv"
    f.write_text("cell_type,signal,direction,behaviour,saturation,half_max,hill_power,apply_to_dead\n"
                 "cancer,oxygen,increases,cycle entry,inf,10,4,0\n")
    with pytest.raises(ModelError, match=r"line 2\.saturation: must be a finite number"):
        read_rules_csv(f)


def test_nan_during_a_run_stops_it_naming_step_substrate_and_cell_type() -> None:
    d = small_dict(size=16, days=0.5)
    d["cell_types"][0]["behaviours"].update({"vegf secretion": 1.0, "vegf secretion target": 1e300})
    with pytest.raises(NonFiniteError) as err:  # finite in float64, overflows the float32 field
        tmesim.simulate(build(d), days=0.5)
    msg = str(err.value)
    assert msg.startswith("step 0:") and "substrate 'vegf' became inf" in msg and " cell sits" in msg, msg



def test_finiteness_check_finds_every_non_finite_value_and_passes_huge_finite_ones() -> None:
    from tmesim.engine.simulation import _all_finite

    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, (3, 1, 50, 70)).astype(np.float32)
    assert _all_finite(a)
    big = np.full((4, 1000), 3e38, np.float32)  # finite, but their float32 sum overflows
    assert _all_finite(big) and _all_finite(-big)
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0, 0, 0), (2, 0, 49, 69), (1, 0, 17, 33)):
            b = a.copy()
            b[where] = bad
            assert not _all_finite(b)
        c = big.copy()
        c[3, 999] = bad
        assert not _all_finite(c)
    assert not _all_finite(np.array([[np.inf, -np.inf]], np.float32))

# ------------------------------------------------------------------------------- bad YAML
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def test_alias_bomb_fails_fast_with_one_line(tmp_path) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_text("extends: tnbc-core\n" + BOMB + "substrates:\n  - {name: oxygen, initial: *i}\n")
    t = time.perf_counter()
    with pytest.raises(ModelError, match="alias bomb") as err:
        tmesim.load_model(f)
    assert time.perf_counter() - t < 5 and "\n" not in str(err.value)


def test_recursive_alias_and_non_utf8_are_one_line(tmp_path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("a: &a [1, *a]\n")
    with pytest.raises(ModelError, match="recursive"):
        tmesim.load_model(f)
    f.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ModelError, match=r"not UTF-8 text \(byte 0xe9 at offset 9\)"):
        tmesim.load_model(f)
    with pytest.raises(ModelError, match="is a folder"):
        tmesim.load_model(tmp_path)


# ----------------------------------------------------------------------------- strict JSON
def test_json_is_strict_non_finite_as_null() -> None:
    text = dumps_json({"hr": float("inf"), "p": np.float32("nan"), "n": np.int64(3), "ok": [1.5, -np.inf]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == {
        "hr": None, "p": None, "n": 3, "ok": [1.5, None]}


def test_every_json_writer_in_the_package_is_strict() -> None:
    """No json.dumps in the package may emit Infinity/NaN: each passes allow_nan=False or goes
    through tmesim.io.atomic.dumps_json (hashing-only uses are listed)."""
    loose = []
    for f in SRC.rglob("*.py"):
        for m in re.finditer(r"json\.dumps\(([^()]|\([^()]*\))*\)", f.read_text()):
            call = m.group(0)
            if "allow_nan=False" not in call and "sort_keys=True" not in call and f.name != "atomic.py":
                loose.append(f"{f.relative_to(SRC)}: {call[:80]}")
    assert not loose, loose


# --------------------------------------------------------------------------- the viewer
@pytest.fixture
def served(tmp_path):
    from tmesim.viz.viewer import make_server

    run = tmp_path / "run"
    (run / "cells").mkdir(parents=True)
    (run / "viewer.html").write_text("<html>viewer</html>")
    (tmp_path / "secret.txt").write_text("not yours")
    (run / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (run / "inner.html").symlink_to(run / "viewer.html")  # a link inside the run is fine
    server = make_server(run, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_viewer_serves_run_files_to_localhost(served) -> None:
    assert _get(served, "/viewer.html") == (200, b"<html>viewer</html>")
    assert _get(served, "/viewer.html", host=f"localhost:{served}")[0] == 200
    assert _get(served, "/inner.html")[0] == 200


def test_viewer_refuses_links_leading_out_of_the_run(served) -> None:
    assert _get(served, "/leak.txt")[0] == 404
    assert _get(served, "/../secret.txt")[0] == 404
    assert _get(served, "/%2e%2e/secret.txt")[0] == 404


def test_viewer_lists_no_directories(served) -> None:
    for path in ("/", "/cells/", "/cells"):
        status, body = _get(served, path)
        assert status == 404 and b"Directory listing" not in body


def test_viewer_refuses_other_host_headers(served) -> None:
    for host in ("evil.example", f"evil.example:{served}", f"127.0.0.1.evil.example:{served}", ""):
        assert _get(served, "/viewer.html", host=host)[0] == 421, host


# ----------------------------------------------------------------------------- schedulers
def test_unreachable_scheduler_is_one_error_within_seconds() -> None:
    from tmesim.cohort import dask_client

    t = time.perf_counter()
    with pytest.raises(ModelError, match=r"cannot reach the dask scheduler 'tcp://127.0.0.1:9'") as err:
        with dask_client(scheduler="tcp://127.0.0.1:9", connect_timeout=1.0):
            pass
    assert err.value.field == "--scheduler" and time.perf_counter() - t < 15


def test_trial_file_limits(tmp_path) -> None:
    from tmesim.cohort import load_trial

    f = tmp_path / "t.yaml"
    base = "name: t\npreset: tnbc\narms:\n  - {name: a}\n"
    for extra, needle in (("follow_up: .inf\n", "follow_up: must be a finite number"),
                          ("n: 100000000000\n", "n: Input should be less than or equal to 10000000"),
                          ("seed: 18446744073709551616\n", "seed: Input should be less than or equal to")):
        f.write_text(base + extra)
        with pytest.raises(ModelError, match=needle):
            load_trial(f)
    f.write_text(yaml.safe_dump({"name": "t"}) + BOMB)
    with pytest.raises(ModelError, match="alias bomb"):
        load_trial(f)


# ------------------------------------------------------------------- the command line
@pytest.mark.parametrize(("args", "expected"), [
    (["run", "--days", "-1"], "error: --days: Input should be greater than or equal to 0.001"),
    (["run", "--days", "inf"], "error: --days: must be a finite number of days > 0, got inf"),
    (["run", "--seed", str(2**64)], "error: --seed: Input should be less than or equal to 9223372036854775807"),
    (["validate", "."], "error: .: is a folder; give a model or trial file"),
    (["therapies", ":x: [bold]boom[/] :thumbs_up:"], "error: therapy: unknown therapy ':x: [bold]boom[/] :thumbs_up:';"),
    (["run", "--nope"], "error: --nope: No such option: --nope (see --help)"),
])
def test_cli_errors_are_one_literal_line(args, expected) -> None:
    from typer.testing import CliRunner

    from tmesim.cli import app

    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and res.stderr.startswith(expected), res.stderr


def test_cli_out_under_a_file_and_resume_settings(tmp_path) -> None:
    from typer.testing import CliRunner

    from tmesim.cli import app

    (tmp_path / "notes.txt").write_text("x")
    res = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "notes.txt" / "run")])
    assert res.exit_code == 2 and res.stderr.startswith("error: --out: ") and "is a file" in res.stderr
    out = tmp_path / "run"
    RunWriter(out, resolved_config(tiny(), 4, 1.0, "test"))
    res = CliRunner().invoke(app, ["run", "--resume", str(out), "--seed", "5"])
    assert res.exit_code == 2 and res.stderr.startswith("error: --seed: the run in"), res.stderr
