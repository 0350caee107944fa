"""The coupled reaction–diffusion step (fast uptake) against a direct sparse solve."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import tmesim
from conftest import build, small_dict


def _operator(diag: np.ndarray, coef: float, shape: tuple[int, int, int], dirichlet: bool) -> sp.csr_matrix:
    """diag·I − coef·Δ_h on a cell-centred grid; no-flux or homogeneous Dirichlet faces."""
    mats = []
    for n in shape:
        if n == 1:
            mats.append(sp.csr_matrix((1, 1)))
            continue
        main = np.full(n, 2.0)
        if not dirichlet:
            main[0] = main[-1] = 1.0
        mats.append(sp.diags([-np.ones(n - 1), main, -np.ones(n - 1)], [-1, 0, 1]))
    nz, ny, nx = shape
    eye = [sp.identity(k) for k in shape]
    lap = (sp.kron(sp.kron(mats[0], eye[1]), eye[2]) + sp.kron(sp.kron(eye[0], mats[1]), eye[2])
           + sp.kron(sp.kron(eye[0], eye[1]), mats[2]))
    return (sp.diags(diag) + coef * lap).tocsr()


@pytest.mark.parametrize("dims", [2, 3])
def test_coupled_oxygen_step_matches_direct_solve(dims: int) -> None:
    size = 24 if dims == 2 else 10
    model = build(small_dict(size=size, dims=dims, days=0.1))
    sim = tmesim.engine.Simulation(model, seed=0)
    sim.step()  # develop a non-trivial field
    sim.evaluate_behaviours()
    s = sim.cm.substrate_names.index("oxygen")
    cm = sim.cm
    before = sim.fields[s].reshape(-1).astype(np.float64).copy()
    gain, loss = sim.solver.gain[s].astype(np.float64), sim.solver.loss[s].astype(np.float64)
    assert loss.max() * cm.dt > 1.0, "oxygen uptake must take the coupled path"
    sim.exchange_and_diffuse()
    assert sim.solver.coupled[s]
    coef = cm.dt * cm.diffusion[s] / cm.dx**2
    diag = 1.0 + cm.dt * (cm.decay[s] + loss)
    A = _operator(diag, coef, cm.grid, True)
    b = before + cm.dt * gain
    # Dirichlet far field: ghost voxels hold the boundary value
    ghost = np.zeros(cm.grid)
    for axis in range(3):
        if cm.grid[axis] > 1:
            idx = [slice(None)] * 3
            idx[axis] = 0
            ghost[tuple(idx)] += 1
            idx[axis] = -1
            ghost[tuple(idx)] += 1
    b += coef * cm.boundary_value[s] * ghost.reshape(-1)
    exact = spla.spsolve(A.tocsc(), b)
    got = sim.fields[s].reshape(-1)
    err = np.abs(got - exact).max() / exact.max()
    assert err < 1e-4, f"coupled solve differs from the direct solve by {err:.2e} (relative, tolerance 1e-4)"


def test_oxygen_penetration_length_is_independent_of_time_step() -> None:
    """Steady oxygen in tissue decays over sqrt(D/u) whatever dt is (no splitting error)."""
    profiles = []
    for dt in ("0.5 min", "6 min"):
        d = small_dict(size=40, days=0.2)
        d["time"]["dt"] = dt
        d["initial"] = [{"cell_type": "cancer", "region": "box", "low": [0, 0], "high": [400, 800], "fraction": 1.0}]
        d["initial"].append({"cell_type": "endothelial", "region": "box", "low": [780, 0], "high": [800, 800],
                             "fraction": 1.0})
        sim = tmesim.engine.Simulation(build(d), seed=0)
        for name in ("cancer", "endothelial"):
            t = sim.cm.type_names.index(name)
            sim.cm.base[t, 0:4] = 0.0  # freeze cells: no division, death or motion
        sim.cm.base[0, sim.cm.behaviour_names.index("immunogenicity to CD8_T_cell")] = 1.0
        sim.rules = sim.rules._replace(r_count=np.zeros_like(sim.rules.r_count))
        sim.run(days=0.1)
        o2 = sim.fields[sim.cm.substrate_names.index("oxygen"), 0].mean(axis=0)
        profiles.append(o2)
    fine, coarse = profiles
    tissue = slice(5, 18)  # inside the cell block, away from the edge
    assert np.allclose(coarse[tissue], fine[tissue], rtol=0.05, atol=0.05), "oxygen profile depends on dt"


def test_split_substrates_diffuse_in_place_as_each_alone() -> None:
    """Split substrates in runs with gaps (coupled ones between them) are diffused in place on
    views of the fields, each exactly as if diffused alone; the coupled rows are untouched."""
    from tmesim.engine.compiled import compile_model
    from tmesim.engine.diffusion import diffuse
    from tmesim.engine.fields import FieldSolver, _runs

    assert _runs([7, 2, 3, 4]) == [(2, 5), (7, 8)] and _runs([]) == []
    cm = compile_model(tmesim.load_model(tmesim.preset_path("tnbc")))
    S = cm.n_sub
    nz, ny, nx = cm.grid
    rng = np.random.default_rng(0)
    fields = rng.random((S, nz, ny, nx)).astype(np.float32) * 40
    split = [s for s in range(S) if s not in (0, 4, 5, S - 3)]
    want = fields.copy()
    for s in split:
        one = fields[s:s + 1].copy()
        diffuse(one, cm.diffusion[s:s + 1], cm.decay[s:s + 1], cm.dirichlet[s:s + 1], cm.boundary_value[s:s + 1],
                cm.dt, cm.dx)
        want[s] = one[0]
    FieldSolver(cm)._advance_split(fields, split)
    assert np.array_equal(fields, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_coupled_pair_side_by_side_gives_the_fields_of_one_after_the_other(threads: int) -> None:
    """On the 160² tnbc section oxygen and VEGF are solved side by side (one per thread); cells,
    fields and V-cycle counts are bitwise those of solving them one after the other."""
    import numba

    from tmesim.engine import Simulation
    from tmesim.engine.fields import FieldSolver

    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        pair, alone = Simulation(model, seed=2), Simulation(model, seed=2)
        alone.solver._pairs_side_by_side = lambda fields: False  # type: ignore[method-assign]
        pairs = 0
        for _ in range(6):
            for sim in (pair, alone):
                sim.step()
            assert np.array_equal(pair.solver.last_iterations, alone.solver.last_iterations)
            pairs += int(pair.solver.coupled.sum() >= 2)
    finally:
        numba.set_num_threads(before)
    assert pairs == 6 and isinstance(pair.solver, FieldSolver) and len(pair.solver._pair) == 2
    assert not alone.solver._pair
    a, b = pair.get_state(), alone.get_state()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
