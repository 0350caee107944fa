"""Geometric multigrid for the coupled backward-Euler reaction–diffusion system.

Long module: one algorithm (smoother, restriction, prolongation, V-cycle, PCG) as numba
functions that call each other; the method is documented once below.  The hierarchy (level
geometry, array layout, per-call setup of the coarse levels) is built in
:mod:`tmesim.engine.multigrid_levels`; the per-row kernels (half-sweep, residual, prolongation,
fused wavefront passes) in :mod:`tmesim.engine.multigrid_rows`.

Solves ``A c = b`` with

    A = diag(d) − coef·Δ_h,   d_i ≥ 1 (varies per voxel),   coef = dt·D/dx²

on a cell-centred grid ``(nz, ny, nx)`` flattened C-order, with the stencil the coupled
oxygen solve of ``fields.py`` uses (``out = d·v + coef·Σ_faces (v − v_nb)``): x and y faces
always exist, z faces only when ``nz > 1``; at a domain face the operator has either a
homogeneous Dirichlet ghost (ghost value 0 one cell width outside, i.e. ``coef·v`` added to
the diagonal; the caller puts the far-field value into ``b``) or no flux.

API
---
``mg_solve(x, b, d, coef, grid, dirichlet, tol=1e-6, max_cycles=30, accept=None) -> int``
    V-cycles on ``x`` (initial guess) in place until ``‖b − A x‖₂ ≤ tol·‖b‖₂``; returns the
    number of V-cycles (0 if the initial guess already satisfies the tolerance, or the looser
    ``accept``; b = 0 → x = 0).
    The coarse data (restricted d, inverse diagonals, coarsest factor) is built only when a
    V-cycle is needed: a warm start that already meets the tolerance costs one residual.
``mg_vcycle(x, b, d, coef, grid, dirichlet, setup=True) -> None``
    One V-cycle in place.  As a preconditioner call it with ``x = 0``: ``x ← B b``.
    ``setup=False`` reuses the coarse data of the previous call for the same
    ``(grid, dirichlet)`` (the caller guarantees the same ``d`` and ``coef``).
``mg_pcg(x, b, d, coef, grid, dirichlet, tol=1e-6, maxiter=50) -> int``
    Conjugate gradients preconditioned by one V-cycle per iteration.
``mg_hierarchy(grid, dirichlet)`` → ``h``; ``h.setup(d, coef)``; then the jitted
    ``vcycle_nb(x, b, d, h.arrays)`` / ``solve_nb(x, b, d, h.arrays, tol, max_cycles)`` can be
    called from other numba code.
All arrays are float64, 1D, C-contiguous, of length nz·ny·nx.

Method
------
* Coarsening: every axis with more than one cell is halved by merging cell pairs
  ``(2J, 2J+1)``; on an odd axis the last coarse cell takes three cells (its node, where its
  value lives, is its middle child's node; all other nodes are cell centres), so any size
  works (160, 161, 100, 37, ...) and no cell becomes much narrower than its neighbours.
  Coarsening stops when no axis has more than ``COARSEST`` (4) cells; that level (≤ 64
  unknowns) is solved directly (dense Cholesky of the symmetric V·A, factored per setup).
* Coarse operators: finite-volume rediscretisation on the actual coarse cells (coupling
  ``coef/(w·node distance)`` per face in fine-cell units, i.e. ``coef/4`` per level on
  uniform cells) times ``COARSE_SCALE`` (0.8, see below); the Dirichlet ghost stays where
  the fine grid has it (one fine cell outside the face) on every level; ``d`` is restricted
  by volume averaging.
* Transfers: prolongation P = (bi/tri)linear interpolation between coarse nodes (towards 0
  at the Dirichlet ghost position, constant next to a no-flux face); restriction
  R = V_H⁻¹ Pᵀ V_h (volume-weighted transpose; on uniform cells the cell-centred
  ``[1 3 3 1]/8`` full weighting per axis).  The residual is restricted right after the
  last (black) pre-smoothing half-sweep, so it is evaluated on red cells only.
* Smoother: red-black Gauss–Seidel, V(2,2): pre-smoothing red, black, red, black;
  post-smoothing black, red, black, red (the adjoint order).
* ``COARSE_SCALE``: the plain rediscretised coarse Laplacian is stiffer than the Galerkin
  operator RAP at high coarse frequencies.  Measured V(2,2) factors with scale 1.0:
  0.16–0.22; with 0.8: 0.08 (2D) and 0.12–0.16 (3D) for coef ≥ 200, both boundary kinds;
  0.7 is worse again in some 2D cases.  Set it to 1.0 for the textbook ``coef/4`` scaling.

Convergence (asymptotic V(2,2) factor, worst over seeds; see tests/test_multigrid.py):
d uniform random in [1, 100]: ≤ 0.08 (2D), ≤ 0.16 (3D) for every coef.  d = 1.6 with boxes
of 61 ("cells"): 0.08 (2D) / 0.12–0.16 (3D) for coef ≥ 200; worst at coef ≈ 5–50 on odd
sizes with no-flux faces (161²: 0.25, 33³: 0.29; even sizes ≤ 0.18) -- there d, not the
Laplacian, decides the smooth error near the boxes and linear interpolation ignores d.

Performance (this 2-core VM, another process busy on one core; ``benchmarks/multigrid.py``,
coef 1500, d 1.6–61 boxes, x = 0, tol 1e-6, setup included): 160² 6 cycles, 2.0–2.5 ms;
1000² 7 cycles, 105–115 ms; 100³ 8–10 cycles, 150–195 ms.  CPU time of one thread at a
load of ~14, before → after the fused passes of large levels: 1000² 157 → 120 ms (Dirichlet)
and 156 → 119 ms (no flux); 100³ 155 → 139 ms and 193 → 176 ms.

Symmetry: with V-weighted inner products on the coarse levels each level operator is
symmetric, R is the weighted adjoint of P, the post-smoother is the adjoint of the
pre-smoother and the coarsest solve is exact, so the V-cycle started from ``x = 0`` is a
symmetric linear operator B (to rounding: the red-only residual takes the black residual,
zero in exact arithmetic, as 0; measured max|B − Bᵀ| ≤ 5e-16·max|B|).  Its error propagator
I − BA has spectral radius < 1, hence B is positive definite: a valid CG preconditioner
(``mg_pcg``; also usable as-is since it converges on its own).

Determinism: every kernel is element-wise or red-black (race-free), and every norm or dot
product is a fixed per-row partial sum (4 interleaved accumulators) followed by a serial sum
over rows, so results are bitwise identical for any number of threads.  Levels with at least
``PARALLEL_MIN`` cells use threaded copies of the residual/restriction and prolongation
kernels (same arithmetic as the serial copies) and smooth in one pass over memory
(``_smooth_fused``: the four half-sweeps of a smoothing step as a wavefront, rows (planes in
3D) one behind the other; the same values as four separate half-sweeps); the pass also does
the prolongation before the post-smoothing, the residual and its restriction along x after
the pre-smoothing, and the stopping test's residual after the last post-smoothing, so a
V-cycle reads a large level about twice instead of about eleven times.  The smoother is
memory bound on such levels: on this 2-core VM under load, 4.4 ns per cell and half-sweep
on a 1118² level with one thread, 5.2 with two (threaded half-sweeps), 2.5 fused on one
thread, against 1.6 on a 128² level that fits in cache.  The fused pass runs as two bands
of rows (planes), one per thread, each a wavefront that stops short of the band boundary by
one row per stage, and then a short serial seam (a triangle of ≤ 2·stages rows per stage)
at the boundary: every stage on a row sees exactly the values it sees in the serial
wavefront, so the result is bitwise the same for any thread count.  V-cycle on a 1118² 2D
level (``mg_vcycle``, setup skipped, best of ~160, other core idle): 17.1 ms with one
thread (as the serial wavefront), 9.3 ms with two.  Level arrays are allocated once
per ``(grid, dirichlet)`` and cached; a solve allocates nothing proportional to the grid.

Not thread-safe: the level buffers of one ``(grid, dirichlet)`` are shared.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from .multigrid_levels import (
    _CHOL,
    _CVEC,
    _I,
    _PART,
    _PW,
    _RB,
    _RW,
    _T1,
    _T2,
    _WID,
    COARSE_SCALE,
    COARSEST,
    MGHierarchy,
    _axes,
    _check,
    _fill,
    _level,
    _region,
    _setup_coef_nb,
    _setup_d_nb,
    _stencil,
    mg_hierarchy,
)
from .multigrid_rows import (
    _axpy,
    _prolong_row,
    _residual_row,
    _restrict_mid,
    _row_dot,
    _smooth2_s,
    _smooth_fused,
    _smooth_row,
    _xpby,
)

__all__ = ["mg_solve", "mg_vcycle", "mg_pcg", "mg_hierarchy", "vcycle_nb", "solve_nb",
           "MGHierarchy", "COARSEST", "COARSE_SCALE", "PARALLEL_MIN"]

PARALLEL_MIN = 1 << 15  # levels with at least this many cells use the threaded kernels
MAX_CYCLES = 30  # mg_solve's default limit on V-cycles


# ---------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------


def _smooth3_py(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color):
    """One Gauss–Seidel half-sweep over the cells with (x + y + z) % 2 == color: every row by
    :func:`_smooth_row` (the rows of one colour are independent)."""
    for line in prange(nz * ny):
        z = line // ny
        _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, z, line - z * ny, color)


def _residual_py(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                 nz, ny, nx, mx, color):
    """r = b − A x on all cells; the sums below take all cells (color < 0) or the cells of
    one colour only (right after a half-sweep of the other colour, whose residual is then
    zero up to rounding and is taken as 0).  Per row:
      mx == 0: part[row] = Σ r² over the summed cells (fixed partial sums);
      mx > 0 (color ≥ 0): t[row, J] = Σ_k rwx[J, k] r[row, 2J−1+k], the restriction along x,
               over the summed cells only (the others count as zero)."""
    for line in prange(nz * ny):
        _residual_row(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                      nz, ny, nx, mx, color, line)


def _prolong_py(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx):
    """x += P e (tensor-product linear interpolation, ≤ 2 coarse cells per axis)."""
    for line in prange(nz * ny):
        _prolong_row(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx, line)


def _compile(f, parallel):
    """Serial or threaded copy of kernel f.  Each copy is its own function object (own
    __qualname__): numba's on-disk cache is keyed by qualname and signature, not by the
    ``parallel`` flag, so compiling one function twice with cache=True would load the same
    variant for both.  The threaded copy is not cached on its own (see ``_solve_entry``)."""
    suffix = "_par" if parallel else "_ser"
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + suffix, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = f.__qualname__ + suffix
    return njit(parallel=parallel, cache=not parallel)(g)


_smooth3_s = _compile(_smooth3_py, False)
_residual_s = _compile(_residual_py, False)
_residual_p = _compile(_residual_py, True)
_prolong_s = _compile(_prolong_py, False)
_prolong_p = _compile(_prolong_py, True)


# ---------------------------------------------------------------------------------------
# level kernels (the threaded copies are chosen by level size only)
# ---------------------------------------------------------------------------------------



@njit
def _smooth(A, lev, xl, bl, il, first):
    """Two red-black sweeps: half-sweeps of colours first, 1−first, first, 1−first."""
    shp = A[0]
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
    if nz * ny * nx >= PARALLEL_MIN:  # a level larger than the caches: one pass (see _smooth_fused)
        one = _I(1)
        _smooth_fused(xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, first, _I(4),
                      _I(0), xl, lx, lx, lx, one, one, one, _I(-2), xl, sx, sx, sx, xl, sx, xl, sx, _I(0))
        return
    for sweep in range(4):
        color = first ^ (sweep & 1)
        if nz == 1:
            _smooth2_s(xl, bl, il, ly, hy, lx, hx, ny, nx, color)
        else:
            _smooth3_s(xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, color)


@njit
def _residual(A, lev, xl, bl, dl, rl, color, t, rwx, mx):
    """Residual kernel dispatch (see ``_residual_py``); returns √(Σ part) when mx == 0."""
    shp = A[0]
    part = _region(A, _I(_PART))
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
    if nz * ny * nx >= PARALLEL_MIN:
        _residual_p(xl, bl, dl, sz, sy, sx, lz, hz, ly, hy, lx, hx, rl, part, t, rwx,
                    nz, ny, nx, mx, color)
    else:
        _residual_s(xl, bl, dl, sz, sy, sx, lz, hz, ly, hy, lx, hx, rl, part, t, rwx,
                    nz, ny, nx, mx, color)
    if mx > 0:
        return 0.0
    acc = 0.0
    for i in range(nz * ny):
        acc += part[i]
    return np.sqrt(acc)


@njit(cache=True)
def _dot(A, a, c):
    shp = A[0]
    part = _region(A, _I(_PART))
    nrows = shp[0, 0] * shp[0, 1]
    ncol = shp[0, 2]
    for line in range(nrows):
        part[line] = _row_dot(a, c, line * ncol, ncol)
    acc = 0.0
    for i in range(nrows):
        acc += part[i]
    return acc


@njit(cache=True)
def _coarse_solve(A, xl, bl):
    """Dense Cholesky solve on the coarsest level: (V A) x = V b."""
    shp = A[0]
    chol = _region(A, _I(_CHOL))
    cvec = _region(A, _I(_CVEC))
    lev = shp.shape[0] - 1
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    wz, wy, wx = _axes(A, _I(_WID), _I(1), lev)
    n = nz * ny * nx
    for z in range(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                cvec[i] = wz[z] * wy[y] * wx[xx] * bl[i]
    for i in range(n):  # L y = V b
        acc = cvec[i]
        for k in range(i):
            acc -= chol[i * n + k] * cvec[k]
        cvec[i] = acc / chol[i * n + i]
    for i in range(n - 1, -1, -1):  # Lᵀ x = y
        acc = cvec[i]
        for k in range(i + 1, n):
            acc -= chol[k * n + i] * cvec[k]
        cvec[i] = acc / chol[i * n + i]
    for i in range(n):
        xl[i] = cvec[i]


# ---------------------------------------------------------------------------------------
# the V-cycle
# ---------------------------------------------------------------------------------------


@njit
def _restrict(A, lev, x, b, d, xdone):
    """b_{lev+1} = R r_lev, right after the pre-smoothing (whose last half-sweep is colour
    1, so the residual is computed on colour 0 only).  ``xdone``: the residual and its
    restriction along x are already in ``_restrict_target`` (``_smooth_restrict``)."""
    shp, crs = A[0], A[1]
    nz, ny = shp[lev, 0], shp[lev, 1]
    mz, my, mx = shp[lev + 1, 0], shp[lev + 1, 1], shp[lev + 1, 2]
    xl, bl, dl, il, rl = _level(A, lev, x, b, d)
    xc, bc, dc, ic, rc = _level(A, lev + 1, x, b, d)
    t2 = _region(A, _I(_T2))
    rwz, rwy, rwx = _axes(A, _I(_RW), _I(4), lev + 1)
    cy = crs[lev, 1]
    cz = crs[lev, 0]
    if crs[lev, 2]:  # colour-0 residual fused with the restriction along x
        dst = _restrict_target(A, lev, x, b, d)
        if not xdone:
            _residual(A, lev, xl, bl, dl, rl, _I(0), dst, rwx, mx)
        src = dst
    else:  # nx == 1: no x restriction; the y/z passes need the residual everywhere
        _residual(A, lev, xl, bl, dl, rl, _I(-1), rl, rwx, _I(0))
        src = rl
    if cy:
        dst = bc if cz == 0 else t2[0:nz * my * mx]
        _restrict_mid(src, dst, rwy, nz, ny, my, mx)
        src = dst
    if cz:
        _restrict_mid(src, bc, rwz, _I(1), nz, mz, my * mx)


@njit(cache=True)
def _restrict_target(A, lev, x, b, d):
    """Where the residual restricted along x goes: b_{lev+1} when no other axis is halved,
    else the temporary T1."""
    shp, crs = A[0], A[1]
    nz, ny, mx = shp[lev, 0], shp[lev, 1], shp[lev + 1, 2]
    if crs[lev, 1] == 0 and crs[lev, 0] == 0:
        return _level(A, lev + 1, x, b, d)[1]
    return _region(A, _I(_T1))[0:nz * ny * mx]


@njit
def _smooth_restrict(A, lev, x, b, d):
    """Pre-smoothing (red, black, red, black) of a large level with x halved, fused with its
    colour-0 residual and the residual's restriction along x (``_smooth_fused``)."""
    shp = A[0]
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    mx = shp[lev + 1, 2]
    xl, bl, dl, il, rl = _level(A, lev, x, b, d)
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
    rwz, rwy, rwx = _axes(A, _I(_RW), _I(4), lev + 1)
    one = _I(1)
    _smooth_fused(xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, _I(0), _I(4),
                  _I(0), xl, lx, lx, lx, one, one, one, _I(0), dl, sz, sy, sx, rl,
                  _region(A, _I(_PART)), _restrict_target(A, lev, x, b, d), rwx, mx)


@njit
def _prolong_smooth(A, lev, x, b, d, want_norm):
    """x_lev += P x_{lev+1} and the post-smoothing (black, red, black, red) of a large level
    in one pass; with ``want_norm`` also the black residual's norm (as ``_cycles_nb`` checks
    it), else −1."""
    shp = A[0]
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    mz, my, mx = shp[lev + 1, 0], shp[lev + 1, 1], shp[lev + 1, 2]
    xl, bl, dl, il, rl = _level(A, lev, x, b, d)
    xc = _level(A, lev + 1, x, b, d)[0]
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
    pwz, pwy, pwx = _axes(A, _I(_PW), _I(2), lev)
    part = _region(A, _I(_PART))
    rcolor = _I(1) if want_norm else _I(-2)
    _smooth_fused(xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, _I(1), _I(4),
                  _I(1), xc, pwz, pwy, pwx, mz, my, mx, rcolor, dl, sz, sy, sx, rl, part, rl, rl, _I(0))
    if not want_norm:
        return -1.0
    acc = 0.0
    for i in range(nz * ny):
        acc += part[i]
    return np.sqrt(acc)


@njit
def _prolong(A, lev, x, b, d):
    """x_lev += P x_{lev+1}."""
    shp = A[0]
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    mz, my, mx = shp[lev + 1, 0], shp[lev + 1, 1], shp[lev + 1, 2]
    xl, bl, dl, il, rl = _level(A, lev, x, b, d)
    xc, bc, dc, ic, rc = _level(A, lev + 1, x, b, d)
    pwz, pwy, pwx = _axes(A, _I(_PW), _I(2), lev)
    if nz * ny * nx >= PARALLEL_MIN:
        _prolong_p(xl, xc, pwz, pwy, pwx, nz, ny, nx, mz, my, mx)
    else:
        _prolong_s(xl, xc, pwz, pwy, pwx, nz, ny, nx, mz, my, mx)


@njit
def vcycle_nb(x, b, d, A):
    """One V(2,2)-cycle on x in place (A = ``mg_hierarchy(...).arrays`` after ``setup``)."""
    _vcycle(x, b, d, A, False)


@njit
def _vcycle(x, b, d, A, want_norm):
    """``vcycle_nb``; on a large fine level with ``want_norm`` it also returns the black
    residual's norm of the result (computed in the last pass), else −1."""
    shp, crs = A[0], A[1]
    nlev = shp.shape[0]
    for lev in range(nlev - 1):
        xl, bl, dl, il, rl = _level(A, lev, x, b, d)
        if lev > 0:
            _fill(xl, 0.0)
        if shp[lev, 0] * shp[lev, 1] * shp[lev, 2] >= PARALLEL_MIN and crs[lev, 2]:
            _smooth_restrict(A, lev, x, b, d)  # red, black, red, black + residual along x
            _restrict(A, lev, x, b, d, True)
        else:
            _smooth(A, lev, xl, bl, il, _I(0))  # red, black, red, black
            _restrict(A, lev, x, b, d, False)
    xl, bl, dl, il, rl = _level(A, nlev - 1, x, b, d)
    _coarse_solve(A, xl, bl)
    norm = -1.0
    for lev in range(nlev - 2, -1, -1):
        if shp[lev, 0] * shp[lev, 1] * shp[lev, 2] >= PARALLEL_MIN:
            norm = _prolong_smooth(A, lev, x, b, d, want_norm and lev == 0)
        else:
            _prolong(A, lev, x, b, d)
            xl, bl, dl, il, rl = _level(A, lev, x, b, d)
            _smooth(A, lev, xl, bl, il, _I(1))  # black, red, black, red (the adjoint order)
    return norm


@njit
def solve_nb(x, b, d, A, tol, max_cycles):
    """V-cycles until ‖b − A x‖₂ ≤ tol ‖b‖₂; returns the number of cycles."""
    r = _region(A, _I(_RB))
    bn = _norm_if_unsolved(x, b, d, A, r, tol)
    if bn < 0.0:
        return 0
    return _cycles_nb(x, b, d, A, r, bn, tol, max_cycles)


@njit
def _norm_if_unsolved(x, b, d, A, r, accept):
    """‖b‖₂ when the initial guess x misses ‖b − A x‖₂ ≤ accept·‖b‖₂, else −1 (b = 0: x ← 0,
    −1)."""
    bn = np.sqrt(_dot(A, b, b))
    if bn == 0.0:
        _fill(x, 0.0)
        return -1.0
    if _residual(A, _I(0), x, b, d, r, _I(-1), r, r, _I(0)) <= accept * bn:
        return -1.0
    return bn


@njit
def _cycles_nb(x, b, d, A, r, bn, tol, max_cycles):
    """V-cycles from an initial guess that misses the tolerance; returns the number of cycles."""
    for it in range(1, max_cycles + 1):
        # the cycle ends with a red half-sweep (or the exact coarsest solve): the red
        # residual is zero up to rounding (~1e-16·(b_i + coupling terms)), so only the
        # black cells are evaluated (on a large level within the cycle's last pass)
        rn = _vcycle(x, b, d, A, True)
        if rn < 0.0:
            rn = _residual(A, _I(0), x, b, d, r, _I(1), r, r, _I(0))
        if rn <= tol * bn:
            return it
    return max_cycles


@njit
def _solve_setup_nb(x, b, d, coef, A, tol, max_cycles, accept):
    """``_setup_nb`` then ``solve_nb``, with the part of the setup that only the V-cycle
    needs (restricted d, inverse diagonals, coarsest factor) done only when the initial
    guess does not already meet the tolerance: the same numbers as setup-then-solve.
    ``accept < 0``: the caller knows the initial guess misses the tolerance (no first
    residual)."""
    _setup_coef_nb(coef, A)
    r = _region(A, _I(_RB))
    if accept < 0.0:
        bn = np.sqrt(_dot(A, b, b))
        if bn == 0.0:
            _fill(x, 0.0)
            return 0
    else:
        bn = _norm_if_unsolved(x, b, d, A, r, accept)
    if bn < 0.0:
        return 0
    _setup_d_nb(d, A)
    return _cycles_nb(x, b, d, A, r, bn, tol, max_cycles)


@njit
def _pcg_nb(x, b, d, A, r, z, p, q, zero, tol, maxiter):
    bn = np.sqrt(_dot(A, b, b))
    if bn == 0.0:
        _fill(x, 0.0)
        return 0
    if _residual(A, _I(0), x, b, d, r, _I(-1), r, r, _I(0)) <= tol * bn:
        return 0
    _fill(z, 0.0)
    vcycle_nb(z, r, d, A)
    _xpby(p, z, 0.0)
    rz = _dot(A, r, z)
    for it in range(1, maxiter + 1):
        _residual(A, _I(0), p, zero, d, q, _I(-1), q, q, _I(0))  # q = −A p
        alpha = -rz / _dot(A, p, q)
        _axpy(x, p, alpha)
        _axpy(r, q, alpha)
        if np.sqrt(_dot(A, r, r)) <= tol * bn:
            return it
        _fill(z, 0.0)
        vcycle_nb(z, r, d, A)
        rz_new = _dot(A, r, z)
        beta = rz_new / rz
        rz = rz_new
        _xpby(p, z, beta)
    return maxiter



# ---------------------------------------------------------------------------------------
# cached entry points
# ---------------------------------------------------------------------------------------
# numba's on-disk cache can crash a process (SIGSEGV) that loads a cached function whose code
# includes a threaded (parallel=True) kernel when that function was compiled in a process that
# itself loaded the kernel, or another function containing it, from the cache (numba issues
# #8578, #10128; seen here as mg_solve in one process, mg_vcycle in a second and mg_vcycle in a
# third crashing).  So the threaded kernels and every function that calls them are compiled
# without a cache of their own, and Python reaches them only through the three functions below,
# which nothing else calls: whichever process compiles one of them compiles its threaded code
# afresh.  Separate entries keep a first solve from also compiling PCG.


@njit(cache=True)
def _solve_entry(x, b, d, coef, A, tol, max_cycles, accept):
    return _solve_setup_nb(x, b, d, coef, A, tol, max_cycles, accept)


@njit(cache=True)
def _vcycle_entry(x, b, d, A):
    vcycle_nb(x, b, d, A)


@njit(cache=True)
def _pcg_entry(x, b, d, A, r, z, p, q, zero, tol, maxiter):
    return _pcg_nb(x, b, d, A, r, z, p, q, zero, tol, maxiter)


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------


def mg_solve(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
             grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
             max_cycles: int = MAX_CYCLES, accept: float | None = None, check: bool = True) -> int:
    """Solve (diag(d) − coef Δ_h) x = b by V-cycles; x (the initial guess) is overwritten.

    Returns the number of V-cycles; stops when ‖b − A x‖₂ ≤ tol·‖b‖₂ (b = 0 → x = 0) or
    after ``max_cycles``.  ``accept`` (≥ tol; default tol): an initial guess whose relative
    residual is already ≤ ``accept`` is returned unchanged (0 cycles); one that is not is
    solved down to ``tol`` (a warm start that stays within ``accept`` over several calls is
    re-solved only once the right-hand side or d has drifted that far).  ``check=False``: the
    caller has found that x misses the tolerance (at least one V-cycle, no first residual).
    """
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    h.coef = None  # the coarse data may be skipped: a later mg_vcycle(setup=False) sets up
    return int(_solve_entry(x, b, d, float(coef), h.arrays, float(tol), int(max_cycles),
                            -1.0 if not check else float(tol if accept is None else max(accept, tol))))


def mg_vcycle(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
              grid: tuple[int, int, int], dirichlet: bool, setup: bool = True) -> None:
    """One symmetric V(2,2)-cycle on x in place.  With x = 0 on entry this applies the
    preconditioner x = B b ≈ A⁻¹ b (B symmetric positive definite).  ``setup=False`` skips
    restricting d and refactoring the coarsest level (valid when d and coef are those of the
    previous call for this grid and boundary kind)."""
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    if setup or h.coef is None:
        h.setup(d, coef)
    _vcycle_entry(x, b, d, h.arrays)


def mg_pcg(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
           grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
           maxiter: int = 50) -> int:
    """Conjugate gradients preconditioned with one V-cycle per iteration; x in place.
    Returns the number of CG iterations (stop: recursive residual ≤ tol·‖b‖₂)."""
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    h.setup(d, coef)
    return int(_pcg_entry(x, b, d, h.arrays, *h.cg_work(), float(tol), int(maxiter)))
