"""The model option ``field_solve``: the fast coupled oxygen solve against the default one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.engine.fields import FAST_TOL, MG_TOL


def _slab(mode: str | None) -> tuple[np.ndarray, float, int]:
    """Frozen tumor block (x < 400 µm) facing a vessel wall (x = 780-800 µm) for 0.1 days:
    the mean oxygen profile along x, its penetration depth into the block (µm from the block
    edge to where oxygen has fallen halfway from its edge value to its minimum in the block;
    oxygen also enters from the far domain face) and the V-cycles spent."""
    d = small_dict(size=40, days=0.2)
    if mode is not None:
        d["field_solve"] = mode
    d["initial"] = [{"cell_type": "cancer", "region": "box", "low": [0, 0], "high": [400, 800], "fraction": 1.0},
                    {"cell_type": "endothelial", "region": "box", "low": [780, 0], "high": [800, 800],
                     "fraction": 1.0}]
    sim = tmesim.engine.Simulation(build(d), seed=0)
    for name in ("cancer", "endothelial"):
        sim.cm.base[sim.cm.type_names.index(name), 0:4] = 0.0  # no division, death or motion
    sim.rules = sim.rules._replace(r_count=np.zeros_like(sim.rules.r_count))
    s = sim.cm.substrate_names.index("oxygen")
    cycles = 0
    for _ in range(int(round(0.1 * 1440 / sim.cm.dt))):
        sim.step()
        cycles += int(sim.solver.last_iterations[s])
    o2 = sim.fields[s, 0].mean(axis=0).astype(np.float64)
    edge = 19  # last site of the block
    inside = o2[edge::-1]  # from the block edge inward
    level = 0.5 * (inside[0] + inside.min())
    k = int(np.argmax(inside < level))
    assert k > 0 and inside[0] - inside.min() > 2.0, "oxygen must fall inside the block"
    depth = 20.0 * (k - 1 + (inside[k - 1] - level) / (inside[k - 1] - inside[k]))
    return o2, depth, cycles


def test_fast_solve_keeps_the_oxygen_penetration_depth() -> None:
    """field_solve: fast stops at a relative residual of 1e-3 instead of 1e-6: the same
    penetration depth (within 2 %, i.e. ~2 µm of ~100 µm) and profile (within 0.1 mmHg) as
    the default solve, for fewer V-cycles."""
    assert FAST_TOL > MG_TOL
    o2, depth, cycles = _slab(None)
    o2_fast, depth_fast, cycles_fast = _slab("fast")
    o2_conv, depth_conv, cycles_conv = _slab("converged")
    assert depth_conv == depth and cycles_conv == cycles and np.array_equal(o2_conv, o2)  # the default, spelled out
    assert 20.0 < depth < 200.0, f"penetration depth {depth:.1f} µm; sqrt(D/u) = 100 µm expected"
    assert abs(depth_fast - depth) <= 0.02 * depth, f"fast {depth_fast:.2f} µm vs default {depth:.2f} µm"
    assert np.abs(o2_fast - o2).max() < 0.1, "fast oxygen profile differs from the default by >= 0.1 mmHg"
    assert cycles_fast < 0.6 * cycles, f"fast solve spent {cycles_fast} V-cycles, default {cycles}"


def test_field_solve_is_validated_and_recorded(tmp_path: Path) -> None:
    d = small_dict(size=16, days=0.01)
    assert "field_solve" not in build(d).model_dump()  # unset: the model's dump (and hash) as before
    d["field_solve"] = "fast"
    assert build(d).model_dump()["field_solve"] == "fast"
    d["field_solve"] = "quick"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(d))
    res = CliRunner().invoke(app, ["run", str(path), "--days", "0.01", "--out", str(tmp_path / "r")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code != 0 and len(lines) == 1, res.output
    assert lines[0].startswith("error: field_solve:") and "'converged' or 'fast'" in lines[0], res.output


def test_fast_solve_resumes_identically() -> None:
    """The fast solve keeps no state between steps beyond the fields (its warm start), so a
    run resumed from an in-memory checkpoint ends exactly where the straight run does."""
    d = small_dict(size=24, days=0.3)
    d["field_solve"] = "fast"
    model = build(d)
    straight = tmesim.engine.Simulation(model, seed=5).run(days=0.3)
    first = tmesim.engine.Simulation(model, seed=5).run(days=0.1)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in first.get_state().items()}
    resumed = tmesim.engine.Simulation(model, seed=5)
    resumed.set_state(state)
    resumed.run(days=0.3)
    assert straight.solver.tolerance == resumed.solver.tolerance == FAST_TOL
    assert straight.fields.tobytes() == resumed.fields.tobytes()
    assert all(np.array_equal(np.asarray(v), np.asarray(resumed.cells()[k])) for k, v in straight.cells().items())


@pytest.mark.parametrize("grid", [(1, 9, 12), (5, 6, 7), (1, 17, 20), (10, 9, 17)])
@pytest.mark.parametrize("dirichlet", [True, False])
def test_warm_start_residual_matches_the_assembled_system(grid: tuple[int, int, int], dirichlet: bool) -> None:
    """The one-pass check that lets field_solve: fast keep the previous field computes the
    same ‖b‖, ‖b − A x‖ (x = field) and norm of the residual's block means as the assembled
    coupled system."""
    from tmesim.engine.fields import _coupled_prepare
    from tmesim.engine.warm_check import BLOCK, groups, warm_check

    nz, ny, nx = grid
    rng = np.random.default_rng(3)
    n = nz * ny * nx
    field = (38 * rng.random(n)).astype(np.float32)
    gain = (50 * (rng.random(n) < 0.1)).astype(np.float32)
    loss = (10 * (rng.random(n) < 0.5)).astype(np.float32)
    dt, lam, value, coef = 6.0, 0.1, 38.0, 1500.0
    x, diag, b = np.empty(n), np.empty(n), np.empty(n)
    _coupled_prepare(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, x, diag, b)
    v = x.reshape(grid)
    ax = x.reshape(grid) * diag.reshape(grid)
    for axis in (0, 1, 2) if nz > 1 else (1, 2):
        pad = np.pad(v, [(1, 1) if a == axis else (0, 0) for a in range(3)],
                     mode="constant" if dirichlet else "edge")  # Dirichlet ghost 0: value is in b
        lo = np.take(pad, range(0, grid[axis]), axis=axis)
        hi = np.take(pad, range(2, grid[axis] + 2), axis=axis)
        ax = ax + coef * ((v - lo) + (v - hi))
    bn, rn, sn = warm_check(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, np.empty((groups(grid), 3)))
    assert bn == pytest.approx(np.linalg.norm(b), rel=1e-12)
    assert rn == pytest.approx(np.linalg.norm(b - ax.ravel()), rel=1e-9)
    r = (b - ax.ravel()).reshape(grid)
    means = np.zeros_like(r)
    for z0 in range(0, nz, BLOCK):
        for y0 in range(0, ny, BLOCK):
            for x0 in range(0, nx, BLOCK):
                blk = (slice(z0, z0 + BLOCK), slice(y0, y0 + BLOCK), slice(x0, x0 + BLOCK))
                means[blk] = r[blk].mean()
    assert sn == pytest.approx(np.linalg.norm(means), rel=1e-9)


@pytest.mark.parametrize("coef", [1500.0, 45.0])
@pytest.mark.parametrize("kind", ["points", "smooth", "random"])
def test_block_error_bound_holds(coef: float, kind: str) -> None:
    """warm_check.error_bound(‖r‖, ‖r_s‖) bounds the kept field's error ‖A⁻¹ r‖₂ (A assembled as
    a sparse matrix and solved exactly), and for scattered point residuals (cells that changed
    their uptake) it is far below the old bound ‖r‖₂."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    from tmesim.engine.fields import _coupled_prepare
    from tmesim.engine.warm_check import error_bound, groups, warm_check

    grid = (1, 40, 48)
    nz, ny, nx = grid
    n = ny * nx
    rng = np.random.default_rng(7)
    loss = (10 * (rng.random(n) < 0.4)).astype(np.float32)
    gain = np.zeros(n, np.float32)
    dt, lam, value = 6.0, 0.1, 38.0
    diag, ghosts = np.empty(n), np.empty(n)  # b at field 0: the Dirichlet ghosts' far-field value
    _coupled_prepare(np.zeros(n, np.float32), gain, loss, dt, lam, value, coef, True, nz, ny, nx,
                     np.empty(n), diag, ghosts)
    lap = sp.kronsum(sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(nx, nx)),
                     sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(ny, ny)))  # Dirichlet ghosts at 0
    a = (sp.diags(diag) + coef * lap).tocsc()
    field = np.zeros(n)
    if kind == "points":  # the steady state (c = A⁻¹ (c + ghosts)), then a few voxels change their uptake
        field = spl.spsolve((a - sp.identity(n)).tocsc(), ghosts)
        hit = rng.choice(n, 12, replace=False)
        loss[hit] = np.where(loss[hit] > 0, 0.0, 10.0)
    elif kind == "smooth":
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        field = (20 + 5 * np.sin(np.pi * yy / ny) * np.sin(np.pi * xx / nx)).ravel()
    else:
        field = 38 * rng.random(n)
    f32 = field.astype(np.float32)
    x, d, b = np.empty(n), np.empty(n), np.empty(n)
    _coupled_prepare(f32, gain, loss, dt, lam, value, coef, True, nz, ny, nx, x, d, b)
    a = (sp.diags(d) + coef * lap).tocsc()
    err = np.linalg.norm(spl.spsolve(a, b - a @ x))
    bn, rn, sn = warm_check(f32, gain, loss, dt, lam, value, coef, True, nz, ny, nx, np.empty((groups(grid), 3)))
    bound = error_bound(rn, sn, coef)
    assert err <= bound * (1 + 1e-9), f"error {err:.4g} above the bound {bound:.4g}"
    if kind == "points" and coef == 1500.0:
        assert bound < 0.3 * rn, f"bound {bound:.4g} vs ‖r‖ {rn:.4g}"
