"""Tests of the geometric multigrid solver (``tmesim.engine.multigrid``).

The reference operator is built with scipy.sparse from the stencil of
``fields._apply_A_py``: A = diag(d) + coef·Σ_faces (x_i − x_nb), Dirichlet faces adding
coef·x_i (ghost value 0), no-flux faces nothing, no z faces when nz == 1.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl

from tmesim.engine import multigrid as mg
from tmesim.engine import multigrid_levels as levels
from tmesim.engine.multigrid import mg_hierarchy, mg_pcg, mg_solve, mg_vcycle


def _matrix(d: np.ndarray, coef: float, grid, dirichlet: bool) -> sp.csr_matrix:
    nz, ny, nx = grid
    n = nz * ny * nx
    idx = np.arange(n).reshape(grid)
    diag = d.astype(np.float64).copy()
    rows, cols, vals = [], [], []
    axes = [(2, nx), (1, ny)] + ([(0, nz)] if nz > 1 else [])
    for ax, m in axes:
        lo = np.take(idx, range(m - 1), axis=ax).ravel()
        hi = np.take(idx, range(1, m), axis=ax).ravel()
        rows += [lo, hi]
        cols += [hi, lo]
        vals += [np.full(lo.size, -coef)] * 2
        np.add.at(diag, lo, coef)
        np.add.at(diag, hi, coef)
        if dirichlet:
            np.add.at(diag, np.take(idx, [0], axis=ax).ravel(), coef)
            np.add.at(diag, np.take(idx, [m - 1], axis=ax).ravel(), coef)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n))


def _patches(grid, rng, lo=1.6, hi=61.0, count=40):
    """d = lo with random boxes of hi (cells with fast uptake)."""
    d = np.full(grid, lo)
    r = max(grid[1] // 10, 2)
    for _ in range(count):
        c = [rng.integers(0, m) for m in grid]
        d[tuple(slice(max(0, ci - r), ci + r) if m > 1 else slice(None)
                for ci, m in zip(c, grid, strict=True))] = hi
    return d.ravel()


def _problem(grid, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(grid))
    return rng.uniform(1.0, 100.0, n), rng.standard_normal(n)


GRIDS = [(1, 16, 16), (1, 17, 23), (1, 37, 10), (6, 7, 9), (8, 8, 8), (1, 1, 9), (5, 1, 11),
         (1, 3, 3), (1, 1, 1), (2, 2, 2)]


def _apply_a_loops(x, diag, coef, nz, ny, nx, dirichlet):
    """The coupled-oxygen operator as the former ``fields._apply_A_py`` wrote it (loops)."""
    out = np.empty_like(x)
    for z in range(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                v = x[i]
                acc = 0.0
                for has, j in ((xx > 0, i - 1), (xx < nx - 1, i + 1), (y > 0, i - nx),
                               (y < ny - 1, i + nx)):
                    acc += v - x[j] if has else (v if dirichlet else 0.0)
                if nz > 1:
                    for has, j in ((z > 0, i - nx * ny), (z < nz - 1, i + nx * ny)):
                        acc += v - x[j] if has else (v if dirichlet else 0.0)
                out[i] = diag[i] * v + coef * acc
    return out


def test_reference_matrix_is_the_fields_operator():
    rng = np.random.default_rng(3)
    for grid in [(1, 5, 7), (3, 4, 5), (2, 1, 3), (1, 1, 1)]:
        for dirichlet in (False, True):
            n = int(np.prod(grid))
            d, v = rng.uniform(1, 10, n), rng.standard_normal(n)
            ref = _apply_a_loops(v, d, 7.0, *grid, dirichlet)
            assert np.allclose(_matrix(d, 7.0, grid, dirichlet) @ v, ref, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("dirichlet", [False, True])
@pytest.mark.parametrize("coef", [0.5, 50.0, 5000.0])
def test_matches_spsolve(grid, dirichlet, coef):
    d, b = _problem(grid)
    ref = spl.spsolve(_matrix(d, coef, grid, dirichlet).tocsc(), b)
    x = np.zeros_like(b)
    cycles = mg_solve(x, b, d, coef, grid, dirichlet, tol=1e-10, max_cycles=40)
    err = np.linalg.norm(x - ref) / np.linalg.norm(ref)
    assert err <= 1e-6, f"relative error {err:.1e} > 1e-6 ({cycles} cycles)"
    assert cycles < 40


@pytest.mark.parametrize("grid", [(1, 64, 64), (1, 65, 100), (1, 37, 37), (12, 13, 11),
                                  (16, 16, 16)])
@pytest.mark.parametrize("dirichlet", [False, True])
@pytest.mark.parametrize("coef", [0.5, 50.0, 5000.0])
@pytest.mark.parametrize("dkind", ["uniform", "patches"])
def test_vcycle_convergence_factor(grid, dirichlet, coef, dkind):
    rng = np.random.default_rng(1)
    n = int(np.prod(grid))
    d = rng.uniform(1.0, 100.0, n) if dkind == "uniform" else _patches(grid, rng)
    b = rng.standard_normal(n)
    A = _matrix(d, coef, grid, dirichlet)
    x = np.zeros(n)
    res = [np.linalg.norm(b)]
    for _ in range(8):
        mg_vcycle(x, b, d, coef, grid, dirichlet)
        res.append(np.linalg.norm(b - A @ x))
        if res[-1] < 1e-11 * res[0]:  # rounding floor reached
            break
    k = len(res) - 1
    factor = (res[-1] / res[1]) ** (1.0 / (k - 1))
    assert factor < 0.3, f"V-cycle convergence factor {factor:.3f} >= 0.3"


def test_target_case_cycles():
    """160x160, coef 1500, d in 1.6-61 (patches): 1e-6 in <= 10 V-cycles."""
    grid = (1, 160, 160)
    rng = np.random.default_rng(2)
    d = _patches(grid, rng)
    b = 1.0 + rng.random(d.size)
    for dirichlet in (False, True):
        x = np.zeros_like(b)
        cycles = mg_solve(x, b, d, 1500.0, grid, dirichlet)
        r = np.linalg.norm(b - _matrix(d, 1500.0, grid, dirichlet) @ x) / np.linalg.norm(b)
        assert cycles <= 10, f"{cycles} V-cycles > 10"
        assert r <= 1e-6, f"relative residual {r:.1e} > 1e-6"


@pytest.mark.parametrize("grid", [(1, 200, 200), (34, 34, 34)])  # threaded fine levels
def test_parallel_levels_accurate_and_thread_independent(grid):
    assert np.prod(grid) >= mg.PARALLEL_MIN
    rng = np.random.default_rng(4)
    d = _patches(grid, rng)
    b = rng.standard_normal(d.size)
    results = []
    default = numba.get_num_threads()
    try:
        for threads in sorted({1, default}) + [default]:
            numba.set_num_threads(threads)
            x = np.zeros_like(b)
            cycles = mg_solve(x, b, d, 800.0, grid, True, tol=1e-8)
            results.append((cycles, x))
    finally:
        numba.set_num_threads(default)
    for cycles, x in results[1:]:
        assert cycles == results[0][0] and np.array_equal(x, results[0][1]), "not bitwise equal"
    r = np.linalg.norm(b - _matrix(d, 800.0, grid, True) @ results[0][1]) / np.linalg.norm(b)
    assert r <= 1e-8, f"relative residual {r:.1e} > 1e-8"


def test_deterministic_repeat():
    grid = (5, 9, 13)
    d, b = _problem(grid, seed=5)
    out = []
    for _ in range(2):
        x = np.zeros_like(b)
        n = mg_solve(x, b, d, 300.0, grid, False)
        y = np.zeros_like(b)
        mg_vcycle(y, b, d, 300.0, grid, False)
        out.append((n, x, y))
    assert out[0][0] == out[1][0]
    assert np.array_equal(out[0][1], out[1][1]) and np.array_equal(out[0][2], out[1][2])


@pytest.mark.parametrize("grid", [(1, 13, 11), (5, 6, 7)])
@pytest.mark.parametrize("dirichlet", [False, True])
def test_vcycle_is_symmetric_positive_definite(grid, dirichlet):
    rng = np.random.default_rng(6)
    n = int(np.prod(grid))
    d = rng.uniform(1.0, 100.0, n)
    coef = 2000.0
    B = np.empty((n, n))
    for j in range(n):  # columns of the preconditioner B (V-cycle from x = 0)
        e = np.zeros(n)
        e[j] = 1.0
        col = np.zeros(n)
        mg_vcycle(col, e, d, coef, grid, dirichlet, setup=(j == 0))
        B[:, j] = col
    asym = np.abs(B - B.T).max() / np.abs(B).max()
    assert asym < 1e-10, f"V-cycle asymmetry {asym:.1e}"
    assert np.linalg.eigvalsh(0.5 * (B + B.T)).min() > 0.0, "V-cycle not positive definite"


@pytest.mark.parametrize("grid", [(1, 33, 40), (9, 10, 11)])
@pytest.mark.parametrize("dirichlet", [False, True])
def test_pcg_matches_spsolve(grid, dirichlet):
    d, b = _problem(grid, seed=7)
    ref = spl.spsolve(_matrix(d, 3000.0, grid, dirichlet).tocsc(), b)
    x = np.zeros_like(b)
    it = mg_pcg(x, b, d, 3000.0, grid, dirichlet, tol=1e-10)
    assert it <= 12, f"{it} PCG iterations"
    assert np.linalg.norm(x - ref) / np.linalg.norm(ref) <= 1e-8


def test_zero_rhs_and_converged_guess():
    grid = (1, 12, 12)
    d, b = _problem(grid, seed=8)
    x = np.ones_like(b)
    assert mg_solve(x, np.zeros_like(b), d, 10.0, grid, True) == 0
    assert not x.any()
    ref = spl.spsolve(_matrix(d, 10.0, grid, True).tocsc(), b)
    x = ref.copy()
    assert mg_solve(x, b, d, 10.0, grid, True, tol=1e-8) == 0
    assert np.array_equal(x, ref)


def test_levels_are_cached_and_setup_can_be_skipped():
    grid = (1, 30, 31)
    d, b = _problem(grid, seed=9)
    h = mg_hierarchy(grid, True)
    ids = [id(a) for a in h.arrays]
    x1 = np.zeros_like(b)
    mg_vcycle(x1, b, d, 40.0, grid, True)
    x2 = np.zeros_like(b)
    mg_vcycle(x2, b, d, 40.0, grid, True, setup=False)
    mg_solve(np.zeros_like(b), b, d, 40.0, grid, True)
    assert mg_hierarchy(grid, True) is h and [id(a) for a in h.arrays] == ids
    assert np.array_equal(x1, x2)


def test_transfer_operators():
    """Odd/even axes: P preserves constants next to no-flux faces, R = V_H⁻¹ Pᵀ V_h."""
    for n in (2, 5, 8, 37, 161):
        fine = levels._Axis.fine(n, True)
        for _ in range(3):  # also non-uniform coarse-coarse pairs
            coarse = fine.coarsen()
            for dirichlet in (False, True):
                pw, rw, cw = levels._transfer(fine, coarse, dirichlet, -1.0, float(n))
                P = levels.pw_dense(pw, coarse.n)
                if not dirichlet:
                    assert np.allclose(P.sum(axis=1), 1.0)
                R = np.zeros((coarse.n, fine.n))
                for j in range(coarse.n):
                    for k in range(4):
                        if 0 <= 2 * j - 1 + k < fine.n:
                            R[j, 2 * j - 1 + k] = rw[j, k]
                assert np.allclose(R, (P * fine.width[:, None]).T / coarse.width[:, None])
                assert np.allclose(cw.sum(axis=1), 1.0)
            fine = coarse


def test_rejects_bad_arrays():
    grid = (1, 4, 5)
    good = np.zeros(20)
    with pytest.raises(ValueError):
        mg_solve(np.zeros(19), good, good + 1, 1.0, grid, True)
    with pytest.raises(ValueError):
        mg_solve(good.astype(np.float32), good, good + 1, 1.0, grid, True)


@pytest.mark.parametrize("grid", [(1, 37, 40), (1, 200, 201), (9, 12, 13)])
def test_fused_smoother_equals_separate_half_sweeps(grid):
    """Large levels run their four half-sweeps in one pass (rows, in 3D planes, lagging one
    behind the other): bitwise the same field as four separate half-sweeps."""
    from tmesim.engine.multigrid_levels import _I, _level, _stencil

    rng = np.random.default_rng(7)
    d, b = _patches(grid, rng), rng.standard_normal(int(np.prod(grid)))
    h = mg_hierarchy(grid, True)
    h.setup(d, 300.0)
    nz, ny, nx = grid
    lz, hz, ly, hy, lx, hx, *_ = _stencil(h.arrays, _I(0))
    il = _level(h.arrays, _I(0), b, b, d)[3]
    for first in (0, 1):
        x0 = rng.standard_normal(b.size)
        fused, sep = x0.copy(), x0.copy()
        one = _I(1)
        mg._smooth_fused(fused, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, _I(first), _I(4),
                         _I(0), b, lx, lx, lx, one, one, one, _I(-2), d, lx, lx, lx, b, lx, b, lx, _I(0))
        for k in range(4):
            mg._smooth3_s(sep, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, first ^ (k & 1))
        assert fused.tobytes() == sep.tobytes()
        assert not np.array_equal(fused, x0)


def test_accept_keeps_a_close_guess_and_solves_a_far_one_to_tol():
    grid = (1, 30, 31)
    d, b = _problem(grid, seed=5)
    ref = np.zeros_like(b)
    mg_solve(ref, b, d, 40.0, grid, True, tol=1e-10)
    A = _matrix(d, 40.0, grid, True)
    rng = np.random.default_rng(1)
    for scale, kept in ((1e-4, True), (1e-1, False)):
        x0 = ref * (1.0 + scale * rng.standard_normal(b.size))
        rel = np.linalg.norm(b - A @ x0) / np.linalg.norm(b)
        x = x0.copy()
        cycles = mg_solve(x, b, d, 40.0, grid, True, tol=1e-6, accept=1e-2)
        assert (rel <= 1e-2) == kept
        if kept:
            assert cycles == 0 and np.array_equal(x, x0)
        else:
            assert cycles > 0 and np.linalg.norm(b - A @ x) <= 1e-6 * np.linalg.norm(b)
            y = x0.copy()  # check=False: the caller already knows; same solve, no first residual
            assert mg_solve(y, b, d, 40.0, grid, True, tol=1e-6, check=False) == cycles
            assert np.array_equal(x, y)


@pytest.mark.parametrize("grid", [(1, 1, 12), (1, 2, 9), (1, 3, 40), (1, 37, 40), (3, 5, 8),
                                  (9, 12, 13)])
def test_banded_fused_pass_equals_separate_passes_for_any_thread_count(grid):
    """The fused pass runs two bands of rows (3D: planes) on two threads and the seam between
    them afterwards: prolongation, four half-sweeps and the residual (with its restriction
    along x, or its squared norm per row) are bitwise those of the separate kernels, with one
    thread and with two, on any number of rows (1, 2, 3: bands empty or seam-only)."""
    from tmesim.engine.multigrid_levels import _I, _axes, _level, _stencil

    rng = np.random.default_rng(11)
    n = int(np.prod(grid))
    d, b = _patches(grid, rng), rng.standard_normal(n)
    h = mg_hierarchy(grid, False)
    h.setup(d, 300.0)
    A = h.arrays
    nz, ny, nx = grid
    mz, my, mx = (int(v) for v in A[0][1])
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, _I(0))
    il = _level(A, _I(0), b, b, d)[3]
    pwz, pwy, pwx = _axes(A, _I(mg._PW), _I(2), _I(1))
    rwx = _axes(A, _I(mg._RW), _I(4), _I(1))[2]
    e = rng.standard_normal(mz * my * mx)
    x0 = rng.standard_normal(n)
    one = _I(1)

    # reference: separate kernels
    pre, pre_r, pre_t = x0.copy(), np.zeros(n), np.zeros(nz * ny * mx)
    for k in range(4):
        mg._smooth3_s(pre, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, k & 1)
    mg._residual_s(pre, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, pre_r, np.zeros(nz * ny),
                   pre_t, rwx, nz, ny, nx, mx, 0)
    post, post_r, post_part = x0.copy(), np.zeros(n), np.zeros(nz * ny)
    mg._prolong_s(post, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx)
    for k in range(4):
        mg._smooth3_s(post, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, 1 ^ (k & 1))
    mg._residual_s(post, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, post_r, post_part, post_r,
                   rwx, nz, ny, nx, 0, 1)

    default = numba.get_num_threads()
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            x, r, t = x0.copy(), np.zeros(n), np.zeros(nz * ny * mx)
            mg._smooth_fused(x, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, _I(0), _I(4),
                             _I(0), x, lx, lx, lx, one, one, one, _I(0), d, sz, sy, sx, r,
                             np.zeros(nz * ny), t, rwx, _I(mx))
            assert x.tobytes() == pre.tobytes() and t.tobytes() == pre_t.tobytes(), threads
            x, r, part = x0.copy(), np.zeros(n), np.zeros(nz * ny)
            mg._smooth_fused(x, b, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, _I(1), _I(4),
                             one, e, pwz, pwy, pwx, _I(mz), _I(my), _I(mx), one, d, sz, sy, sx,
                             r, part, r, rwx, _I(0))
            assert x.tobytes() == post.tobytes(), threads
            assert part.tobytes() == post_part.tobytes(), threads
    finally:
        numba.set_num_threads(default)
    assert not np.array_equal(pre, x0)
