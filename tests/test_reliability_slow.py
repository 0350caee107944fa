"""Fault injection (slow): runs and trials killed with SIGKILL at random points must resume
to outputs identical to uninterrupted ones, and a killed trial must leave no worker behind.

Run with ``pytest -m slow tests/test_reliability_slow.py``. The kill points are drawn from a
seeded generator (printed with -s) so a failure can be replayed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import yaml

import tmesim
from conftest import small_dict
from test_reliability import same_run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
RUN_KILLS = 8  # kill points of a single run (plus one resume killed again)
TRIAL_KILLS = 3


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tmesim", *args], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, **kw)


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` (only it) after ``delay`` s; False if it had already finished."""
    t = time.monotonic() + delay
    while time.monotonic() < t:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def test_run_killed_at_random_points_resumes_identically(tmp_path) -> None:
    d = small_dict(size=24, days=2.0)
    d["time"]["checkpoint_interval"] = "0.25 day"
    model_file = tmp_path / "m.yaml"
    model_file.write_text(yaml.safe_dump(d))
    t0 = time.monotonic()
    ref = _start(["run", str(model_file), "--seed", "21", "--out", str(tmp_path / "ref"), "--no-report"])
    assert ref.wait(timeout=900) == 0, ref.stderr.read().decode()
    wall = time.monotonic() - t0  # includes start-up: kill points before the first checkpoint too
    rng = np.random.default_rng(20)
    delays = sorted(rng.uniform(0.0, wall, RUN_KILLS))
    print(f"run wall {wall:.1f} s; kill points (s): {[round(x, 2) for x in delays]}")
    killed_at: list[float] = []
    phases: list[str] = []
    for i, delay in enumerate(delays):
        out = tmp_path / f"k{i}"
        if not _kill_after(_start(["run", str(model_file), "--seed", "21", "--out", str(out), "--no-report"]), delay):
            continue
        killed_at.append(delay)
        if not (out / "config.yaml").exists():
            continue  # killed before the run directory existed: nothing to resume
        from tmesim.io.rundir import checkpoint_dir

        phases.append("no checkpoint yet" if checkpoint_dir(out) is None else "after a checkpoint")
        if i == len(delays) - 1:  # kill the resume as well, then resume again
            _kill_after(_start(["run", "--resume", str(out), "--no-report"]), rng.uniform(0, wall / 2))
        tmesim.resume(out, report=False)
        same_run(tmp_path / "ref", out)
    print(f"killed at {[round(x, 2) for x in killed_at]} s; resumed: {phases}")
    assert len(killed_at) >= RUN_KILLS // 2, killed_at


def _trial_file(tmp_path: Path) -> Path:
    f = tmp_path / "t.yaml"
    f.write_text("name: t\npreset: tnbc\nn: 8\nseed: 3\nfollow_up: 365\n"
                 "timing: {run_in_days: 21, treatment_days: 42}\n"
                 "arms:\n  - {name: a, therapies: ['nab-paclitaxel@day=0']}\n  - {name: b}\n")
    return f


def _patients(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "patients.parquet")
    return df.drop(columns=[c for c in df.columns if c.startswith("runtime")])


def test_trial_killed_leaves_no_workers_and_resumes_identically(tmp_path) -> None:
    trial = _trial_file(tmp_path)
    ref = _start(["trial", str(trial), "--out", str(tmp_path / "ref"), "--workers", "2"])
    t0 = time.monotonic()
    err = ref.communicate(timeout=900)[1].decode()
    wall = time.monotonic() - t0
    assert ref.returncode == 0, err
    assert "Traceback" not in err and "CommClosedError" not in err, err  # a clean shutdown
    rng = np.random.default_rng(30)
    delays = sorted(rng.uniform(0.3 * wall, 0.9 * wall, TRIAL_KILLS))
    print(f"trial wall {wall:.1f} s; kill points (s): {[round(x, 2) for x in delays]}")
    for i, delay in enumerate(delays):
        out = tmp_path / f"k{i}"
        proc = _start(["trial", str(trial), "--out", str(out), "--workers", "2"])
        deadline = time.monotonic() + delay
        children: dict[int, psutil.Process] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                children |= {c.pid: c for c in psutil.Process(proc.pid).children(recursive=True)}
            except psutil.Error:
                pass
            time.sleep(0.1)
        if proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGKILL)  # the parent only: its workers must follow by themselves
        proc.wait()
        gone, alive = psutil.wait_procs(list(children.values()), timeout=15)
        assert not alive, f"left running after kill -9 of the trial: {[p.pid for p in alive]}"
        assert children, "the trial had started no worker processes"
        from tmesim.cohort import load_trial, run_trial

        spec = load_trial(trial)
        run_trial(spec, out, workers=2, resume=True, report=False, base=trial.parent)
        pd.testing.assert_frame_equal(_patients(tmp_path / "ref"), _patients(out), check_exact=True)
