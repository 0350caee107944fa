"""The spatial engine: rules semantics, determinism, checkpoint/resume, 2D and 3D."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tmesim
from conftest import build, small_dict
from tmesim.engine import kernels as K


def _state_signature(sim: tmesim.engine.Simulation) -> tuple:
    c = sim.cells()
    return tuple(np.asarray(v).tobytes() for v in c.values()) + (sim.fields.tobytes(),)


def test_same_seed_same_result_different_seed_differs(small_model) -> None:
    a = tmesim.engine.Simulation(small_model, seed=3).run(days=0.5)
    b = tmesim.engine.Simulation(small_model, seed=3).run(days=0.5)
    c = tmesim.engine.Simulation(small_model, seed=4).run(days=0.5)
    assert _state_signature(a) == _state_signature(b)
    assert _state_signature(a) != _state_signature(c)


def test_in_memory_checkpoint_resume_is_identical(small_model) -> None:
    straight = tmesim.engine.Simulation(small_model, seed=5).run(days=1.0)
    first = tmesim.engine.Simulation(small_model, seed=5).run(days=0.4)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in first.get_state().items()}
    resumed = tmesim.engine.Simulation(small_model, seed=5)
    resumed.set_state(state)
    resumed.run(days=1.0)
    assert _state_signature(straight) == _state_signature(resumed)


def test_behaviour_rule_combination_matches_physicell_form(small_model) -> None:
    """One up and one down rule give b = (1-D)[(1-U) b0 + U bmax] + D bmin."""
    sim = tmesim.engine.Simulation(small_model, seed=0)
    cm = sim.cm
    t = cm.type_names.index("cancer")
    i = int(np.flatnonzero(sim.ctype[: sim.n] == t)[0])
    for pdl1 in (0.0, 0.3, 0.5, 0.9):
        sim.var[i, cm.var_names.index("pdl1")] = pdl1
        got = sim.behaviour_value(i, "immunogenicity to CD8_T_cell")
        p = float(np.float32(pdl1))
        h = p**2 / (0.5**2 + p**2)
        assert got == pytest.approx((1 - h) * 1.0 + h * 0.1, rel=1e-6)  # pdl1 is stored as float32


def test_hypoxic_core_becomes_necrotic_and_vessels_feed_the_rim() -> None:
    d = small_dict()
    d["initial"][0] = {"cell_type": "endothelial", "region": "annulus", "radius": 480, "inner_radius": 320,
                       "density": 300}
    d["initial"][1] = {"cell_type": "cancer", "region": "disc", "radius": 300, "fraction": 0.95}
    sim = tmesim.engine.Simulation(build(d), seed=1).run(days=1.0)
    o2 = sim.fields[sim.cm.substrate_names.index("oxygen")].reshape(-1)
    cells = sim.cells()
    site = (cells["z"] * sim.cm.grid[1] + cells["y"]) * sim.cm.grid[2] + cells["x"]
    necrotic = cells["dead"] == K.NECROTIC
    live_cancer = (cells["type"] == 0) & (cells["dead"] == K.ALIVE)
    assert necrotic.sum() > 0
    assert o2[site[necrotic]].mean() < o2[site[live_cancer]].mean()


def test_three_dimensional_run(small_model) -> None:
    m3 = build(small_dict(size=16, dims=3, days=0.25))
    sim = tmesim.engine.Simulation(m3, seed=2).run()
    assert sim.lattice.offs.shape[0] == 26
    assert sim.cz[: sim.n].max() > 0 and sim.count("cancer") > 0
    assert np.isfinite(sim.fields).all()


def test_cells_never_share_a_site(small_model) -> None:
    sim = tmesim.engine.Simulation(small_model, seed=9).run(days=1.0)
    c = sim.cells()
    sites = (c["z"].astype(np.int64) * sim.cm.grid[1] + c["y"]) * sim.cm.grid[2] + c["x"]
    assert len(np.unique(sites)) == len(sites)
    assert (sim.occ[sites] == np.arange(sim.n)).all()
    assert (sim.occ >= 0).sum() == sim.n


def test_killed_run_resumes_to_identical_outputs(tmp_path: Path) -> None:
    """Run straight vs. run → SIGKILL after a checkpoint → resume: identical tables."""
    d = small_dict(days=2.0)
    model_file = tmp_path / "small.yaml"
    model_file.write_text(yaml.safe_dump(d))
    straight = tmesim.simulate(tmesim.load_model(model_file), out=tmp_path / "straight", seed=11, report=False)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "tmesim", "run", str(model_file), "--seed", "11",
                             "--out", str(killed), "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    meta = killed / "run.json"  # rewritten at each checkpoint with the checkpoint's time
    deadline = time.time() + 240
    while time.time() < deadline:
        if meta.exists() and yaml.safe_load(meta.read_text()).get("time_days", 0) >= 1.0:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (killed / "run.json").exists() and yaml.safe_load((killed / "run.json").read_text())["status"] == "running", \
        "the run should have been killed mid-way"
    resumed = tmesim.resume(killed, report=False)
    for name in ("summary.parquet", "metrics.parquet", "events.parquet"):
        a = pd.read_parquet(straight.path / name)
        b = pd.read_parquet(resumed.path / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    assert straight.snapshot_times() == resumed.snapshot_times()
    pd.testing.assert_frame_equal(straight.cells(), resumed.cells(), check_exact=True)
    fa, fb = straight.fields(), resumed.fields()
    assert fa.sizes == fb.sizes
    assert all(np.array_equal(fa[v].values, fb[v].values) for v in fa.data_vars)


def test_fixed_behaviour_indices_match_the_grammar() -> None:
    """The kernels address the fixed behaviours by index; the grammar's order must agree."""
    from tmesim.engine import compiled as c
    from tmesim.model.grammar import SIMPLE_BEHAVIOURS

    names = list(SIMPLE_BEHAVIOURS)
    assert [names.index(n) for n in ("cycle entry", "apoptosis", "necrosis", "migration speed",
                                     "recruitment", "intravasation")] == [
        c.B_CYCLE, c.B_APOPTOSIS, c.B_NECROSIS, c.B_SPEED, c.B_RECRUIT, c.B_INTRAVASATE]


@pytest.mark.parametrize("preset", ["tnbc-immune", "tnbc-compartmentalized"])
def test_same_result_with_one_and_two_threads(preset: str) -> None:
    """Evaluation runs in parallel over cells and the action phase's scan of acting cells in
    parallel over chunks: the state after 0.2 days is byte-identical whatever the thread count
    (immune attacks, divisions, moves, exchanges of places and recruitment all happen)."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread available")
    model = tmesim.load_model(tmesim.preset_path(preset))
    default = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            sim = tmesim.engine.Simulation(model, seed=8).run(days=0.2)
            ev = sim.take_events()
            runs.append((_state_signature(sim) + tuple(v.tobytes() for v in ev.values()),
                         {K.EVENT_NAMES[int(k)] for k in np.unique(ev["kind"])}))
    finally:
        numba.set_num_threads(default)
    assert runs[0][0] == runs[1][0]
    assert {"division", "recruitment"} <= runs[0][1], runs[0][1]


def test_acting_cells_lists_every_cell_with_something_to_do() -> None:
    from tmesim.engine.acting import CHUNKS, acting_cells

    rng = np.random.default_rng(2)
    for n in (0, 1, CHUNKS - 1, CHUNKS + 3, 10_007):
        size = n + 5
        kill = np.where(rng.uniform(size=size) < 0.05, rng.integers(0, max(n, 1), size), -1).astype(np.int64)
        fate = np.where(rng.uniform(size=size) < 0.05, rng.integers(1, 6, size), 0).astype(np.int8)
        nmove = np.where(rng.uniform(size=size) < 0.1, rng.integers(-1, 4, size), 0).astype(np.int16)
        out = np.full(size, -7, np.int64)
        na = acting_cells(n, kill, fate, nmove, out)
        expect = np.flatnonzero(((kill >= 0) | (fate != K.F_NONE) | (nmove > 0))[:n])
        assert na == len(expect)
        assert np.array_equal(out[:na], expect)
