"""Geometric multigrid for the coupled backward-Euler reaction–diffusion system.

Long module: one algorithm (smoother, restriction, prolongation, V-cycle, PCG) as numba
functions that call each other; the method is documented once below.  The hierarchy (level
geometry, array layout, per-call setup of the coarse levels) is built in
:mod:`tmesim.engine.multigrid_levels`.

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
    U,
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

__all__ = ["mg_solve", "mg_vcycle", "mg_pcg", "mg_hierarchy", "vcycle_nb", "solve_nb",
           "MGHierarchy", "COARSEST", "COARSE_SCALE", "PARALLEL_MIN"]

PARALLEL_MIN = 1 << 15  # levels with at least this many cells use the threaded kernels


# ---------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------


def _smooth3_py(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color):
    """One Gauss–Seidel half-sweep over the cells with (x + y + z) % 2 == color: every row by
    :func:`_smooth_row` (the rows of one colour are independent)."""
    for line in prange(nz * ny):
        z = line // ny
        _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, z, line - z * ny, color)


@njit(cache=True)
def _smooth2_s(x, b, invd, ly, hy, lx, hx, ny, nx, color):
    """2D (nz == 1) single-threaded version of ``_smooth3_py`` (≈ 10 % faster there;
    same arithmetic)."""
    last = nx - 1
    for y in range(ny):
        o = y * nx
        cyl = ly[y]
        cyh = hy[y]
        oyl = o - nx if y > 0 else o
        oyh = o + nx if y < ny - 1 else o
        st = (color + y) & 1
        if st == 0:
            ip = o + 1 if nx > 1 else o
            x[U(o)] = (b[U(o)] + hx[0] * x[U(ip)] + cyl * x[U(oyl)] + cyh * x[U(oyh)]) * invd[U(o)]
            st = 2
        for xx in range(st, last, 2):
            i = o + xx
            x[U(i)] = (b[U(i)] + lx[U(xx)] * x[U(i - 1)] + hx[U(xx)] * x[U(i + 1)]
                       + cyl * x[U(oyl + xx)] + cyh * x[U(oyh + xx)]) * invd[U(i)]
        if last > 0 and ((last - st) & 1) == 0:
            i = o + last
            x[U(i)] = (b[U(i)] + lx[U(last)] * x[U(i - 1)] + cyl * x[U(oyl + last)]
                       + cyh * x[U(oyh + last)]) * invd[U(i)]


@njit(cache=True)
def _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, z, y, color):
    """The cells of one colour in row (z, y); a missing neighbour has coefficient 0 and any
    valid index."""
    plane = nx * ny
    last = nx - 1
    o = (z * ny + y) * nx
    cyl = ly[y]
    cyh = hy[y]
    czl = lz[z]
    czh = hz[z]
    oyl = o - nx if y > 0 else o
    oyh = o + nx if y < ny - 1 else o
    ozl = o - plane if z > 0 else o
    ozh = o + plane if z < nz - 1 else o
    st = (color + y + z) & 1
    if st == 0:
        ip = o + 1 if nx > 1 else o
        x[U(o)] = (b[U(o)] + hx[0] * x[U(ip)] + cyl * x[U(oyl)] + cyh * x[U(oyh)]
                   + czl * x[U(ozl)] + czh * x[U(ozh)]) * invd[U(o)]
        st = 2
    for xx in range(st, last, 2):
        i = o + xx
        v = (b[U(i)] + lx[U(xx)] * x[U(i - 1)] + hx[U(xx)] * x[U(i + 1)]
             + cyl * x[U(oyl + xx)] + cyh * x[U(oyh + xx)])
        if nz > 1:
            v += czl * x[U(ozl + xx)] + czh * x[U(ozh + xx)]
        x[U(i)] = v * invd[U(i)]
    if last > 0 and ((last - st) & 1) == 0:
        i = o + last
        x[U(i)] = (b[U(i)] + lx[U(last)] * x[U(i - 1)] + cyl * x[U(oyl + last)]
                   + cyh * x[U(oyh + last)] + czl * x[U(ozl + last)]
                   + czh * x[U(ozh + last)]) * invd[U(i)]


@njit(cache=True)
def _fused_stage(s, w, x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, first, halves,
                 pro, e, pwz, pwy, pwx, mz, my, mx, d, sz, sy, sx, r, part, t, rwx, mxr,
                 rcolor):
    """Stage s of ``_smooth_fused`` on unit w (a row in 2D, a plane in 3D): the prolongation
    (s = 0 when ``pro``), half-sweep s − pro, or the residual (s = pro + halves)."""
    rows = 1 if nz == 1 else ny
    if pro == 1 and s == 0:
        for line in range(w * rows, (w + 1) * rows):
            _prolong_row(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx, line)
        return
    k = s - pro
    if k < halves:
        color = first ^ (k & 1)
        if nz == 1:
            _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, 0, w, color)
        else:
            for y in range(ny):
                _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, y, color)
        return
    for line in range(w * rows, (w + 1) * rows):
        _residual_row(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                      nz, ny, nx, mxr, rcolor, line)


@njit(cache=True)
def _fused_band(side, m, units, nst, x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, first,
                halves, pro, e, pwz, pwy, pwx, mz, my, mx, d, sz, sy, sx, r, part, t, rwx, mxr,
                rcolor):
    """Band ``side`` of ``_smooth_fused`` as a wavefront: stage s on the units w with
    0 ≤ w < m − s (side 0) or m + s ≤ w < units (side 1).  Written out like the serial
    wavefront (own function, stages not dispatched through ``_fused_stage``): both cost
    ≈ 15 % on one thread."""
    rows = 1 if nz == 1 else ny
    res = 1 if rcolor >= -1 else 0
    lo = 0 if side == 0 else m
    hi = m + nst - 1 if side == 0 else units + nst - 1
    for u in range(lo, hi):
        if pro == 1 and ((u < m) if side == 0 else (u < units)):
            for line in range(u * rows, (u + 1) * rows):
                _prolong_row(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx, line)
        for k in range(halves):
            s = pro + k
            w = u - s
            if not ((0 <= w < m - s) if side == 0 else (m + s <= w < units)):
                continue
            color = first ^ (k & 1)
            if nz == 1:
                _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, 0, w, color)
            else:
                for y in range(ny):
                    _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, y, color)
        if res == 1:
            s = pro + halves
            w = u - s
            if (0 <= w < m - s) if side == 0 else (m + s <= w < units):
                for line in range(w * rows, (w + 1) * rows):
                    _residual_row(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                                  nz, ny, nx, mxr, rcolor, line)


@njit(cache=True, parallel=True)
def _smooth_fused(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, first, halves,
                  pro, e, pwz, pwy, pwx, mz, my, mx, rcolor, d, sz, sy, sx, r, part, t, rwx, mxr):
    """``halves`` half-sweeps (colours first, 1−first, …) in one pass over memory, optionally
    preceded by the prolongation x += P e (``pro`` = 1; coarse shape mz, my, mx) and followed
    by the residual of ``_residual_py`` (``rcolor`` ≥ −1: its colour argument, with ``mxr``,
    ``t``, ``rwx``, ``part``; −2: none).  The row (2D; plane in 3D) u is prolonged while
    half-sweep k works on row u − pro − k and the residual on row u − pro − halves.  Each
    stage reads only the row and its two neighbours, which the previous stage has finished and
    the next one has not yet touched (a half-sweep of one colour reads only the other colour),
    so every value is bitwise that of the separate passes, while a large level streams through
    memory once instead of halves + 2 times (the smoother is memory bound there: 4.4 vs 1.6 ns
    per cell and half-sweep on a 1118² level vs a 128² one).

    Two bands of units, [0, m) and [m, units), one per thread: band 0 runs stage s on units
    below m − s, band 1 on units from m + s on (each as a wavefront), then the seam (stage s
    on units m − s … m + s − 1, stages in order) runs serially.  Stage s on unit w needs
    exactly stage s − 1 on units w − 1 … w + 1 and no other stage touches what it reads or
    writes, and the two bands meet only at stage 0 of units m − 1 and m (a half-sweep writes
    one colour and reads the other; the prolongation is element-wise), so every value is
    bitwise that of the serial wavefront for any thread count."""
    units = ny if nz == 1 else nz
    nst = pro + halves + (1 if rcolor >= -1 else 0)
    m = units // 2
    for side in prange(2):
        _fused_band(side, m, units, nst, x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx,
                    first, halves, pro, e, pwz, pwy, pwx, mz, my, mx, d, sz, sy, sx, r, part,
                    t, rwx, mxr, rcolor)
    for s in range(1, nst):
        for w in range(max(0, m - s), min(units, m + s)):
            _fused_stage(s, w, x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, first, halves,
                         pro, e, pwz, pwy, pwx, mz, my, mx, d, sz, sy, sx, r, part, t, rwx,
                         mxr, rcolor)


@njit(cache=True)
def _residual_row(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                  nz, ny, nx, mx, color, line):
    """One row (line = z·ny + y) of ``_residual_py``."""
    plane = nx * ny
    last = nx - 1
    step = 1 if color < 0 else 2  # cells that enter the sums
    z = line // ny
    y = line - z * ny
    o = line * nx
    cyl = ly[y]
    cyh = hy[y]
    czl = lz[z]
    czh = hz[z]
    syz = sy[y] + sz[z]
    oyl = o - nx if y > 0 else o
    oyh = o + nx if y < ny - 1 else o
    ozl = o - plane if z > 0 else o
    ozh = o + plane if z < nz - 1 else o
    p = 0 if color < 0 else (color + y + z) & 1  # first cell of the row in the sums
    # r is computed on the whole row, both colours: a unit-stride loop that LLVM
    # vectorises runs faster than the stride-2 loop over one colour (same arithmetic per
    # cell, so the colour's values and everything summed from them are unchanged)
    ip = o + 1 if nx > 1 else o
    r[U(o)] = (b[U(o)] + hx[0] * x[U(ip)] + cyl * x[U(oyl)] + cyh * x[U(oyh)]
               + czl * x[U(ozl)] + czh * x[U(ozh)] - (d[U(o)] + syz + sx[0]) * x[U(o)])
    for xx in range(1, last):
        i = o + xx
        v = (b[U(i)] + lx[U(xx)] * x[U(i - 1)] + hx[U(xx)] * x[U(i + 1)]
             + cyl * x[U(oyl + xx)] + cyh * x[U(oyh + xx)]
             - (d[U(i)] + syz + sx[U(xx)]) * x[U(i)])
        if nz > 1:
            v += czl * x[U(ozl + xx)] + czh * x[U(ozh + xx)]
        r[U(i)] = v
    if last > 0:
        i = o + last
        r[U(i)] = (b[U(i)] + lx[U(last)] * x[U(i - 1)] + cyl * x[U(oyl + last)]
                   + cyh * x[U(oyh + last)] + czl * x[U(ozl + last)]
                   + czh * x[U(ozh + last)] - (d[U(i)] + syz + sx[U(last)]) * x[U(i)])
    if mx == 0:
        part[line] = _row_sumsq(r, o + p, (nx - p + step - 1) // step, step)
    else:
        q = (p + 1) & 1  # fine cell 2J−1+k has parity p  <=>  k ≡ q (mod 2)
        to = line * mx
        for jj in (0, mx - 1):  # ends: fine cells may be missing
            acc = 0.0
            for k in range(q, 4, 2):
                fi = 2 * jj - 1 + k
                if 0 <= fi < nx:
                    acc += rwx[4 * jj + k] * r[U(o + fi)]
            t[U(to + jj)] = acc
        for jj in range(1, mx - 1):
            f0 = o + 2 * jj - 1 + q
            t[U(to + jj)] = (rwx[U(4 * jj + q)] * r[U(f0)]
                             + rwx[U(4 * jj + q + 2)] * r[U(f0 + 2)])


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


@njit(cache=True)
def _row_sumsq(a, o, n, step):
    """Σ a[o + k·step]² for k < n, with 4 interleaved accumulators (fixed order)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    n4 = n - (n & 3)
    for k in range(0, n4, 4):
        i = o + k * step
        a0 += a[U(i)] * a[U(i)]
        a1 += a[U(i + step)] * a[U(i + step)]
        a2 += a[U(i + 2 * step)] * a[U(i + 2 * step)]
        a3 += a[U(i + 3 * step)] * a[U(i + 3 * step)]
    for k in range(n4, n):
        a0 += a[U(o + k * step)] * a[U(o + k * step)]
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def _row_dot(a, c, o, n):
    """Σ a·c over [o, o+n), with 4 interleaved accumulators (fixed order)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    n4 = n - (n & 3)
    for k in range(0, n4, 4):
        i = o + k
        a0 += a[U(i)] * c[U(i)]
        a1 += a[U(i + 1)] * c[U(i + 1)]
        a2 += a[U(i + 2)] * c[U(i + 2)]
        a3 += a[U(i + 3)] * c[U(i + 3)]
    for k in range(n4, n):
        a0 += a[U(o + k)] * c[U(o + k)]
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def _restrict_mid(src, dst, rw, nouter, nf, nc, inner):
    """Restriction along a strided axis: (nouter, nf, inner) → (nouter, nc, inner)."""
    for t in range(nouter * nc):
        o = t // nc
        j = t - o * nc
        so = o * nf * inner
        do = t * inner
        w0 = rw[4 * j]
        w1 = rw[4 * j + 1]
        w2 = rw[4 * j + 2]
        w3 = rw[4 * j + 3]
        f1 = 2 * j
        f0 = f1 - 1 if j > 0 else f1  # weight 0 where the fine cell does not exist
        f2 = f1 + 1 if f1 + 1 < nf else f1
        f3 = f1 + 2 if f1 + 2 < nf else f1
        i0 = so + f0 * inner
        i1 = so + f1 * inner
        i2 = so + f2 * inner
        i3 = so + f3 * inner
        for k in range(inner):
            dst[U(do + k)] = (w0 * src[U(i0 + k)] + w1 * src[U(i1 + k)] + w2 * src[U(i2 + k)]
                              + w3 * src[U(i3 + k)])


@njit(cache=True)
def _prolong_row(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx, line):
    """One row (line = z·ny + y) of ``_prolong_py``."""
    z = line // ny
    y = line - z * ny
    o = line * nx
    jz0 = (z - 1) >> 1
    jz1 = jz0 + 1
    if jz0 < 0:
        jz0 = jz1  # weight 0 where the coarse cell does not exist
    if jz1 > mz - 1:
        jz1 = jz0
    jy0 = (y - 1) >> 1
    jy1 = jy0 + 1
    if jy0 < 0:
        jy0 = jy1
    if jy1 > my - 1:
        jy1 = jy0
    ra = (jz0 * my + jy0) * mx
    rb = (jz0 * my + jy1) * mx
    rc = (jz1 * my + jy0) * mx
    rd = (jz1 * my + jy1) * mx
    wa = pwz[2 * z] * pwy[2 * y]
    wb = pwz[2 * z] * pwy[2 * y + 1]
    wc = pwz[2 * z + 1] * pwy[2 * y]
    wd = pwz[2 * z + 1] * pwy[2 * y + 1]
    # c_J = (y/z-interpolated coarse row)[J]; fine 2J+1 and 2J+2 lie between c_J, c_J+1
    c0 = wa * e[U(ra)] + wb * e[U(rb)] + wc * e[U(rc)] + wd * e[U(rd)]
    x[U(o)] += pwx[1] * c0  # fine 0: coarse 0 only
    if wa == 0.0 and wb == 0.0:  # one coarse plane (always in 2D)
        for jj in range(mx - 1):
            c1 = wc * e[U(rc + jj + 1)] + wd * e[U(rd + jj + 1)]
            i = o + 2 * jj + 1
            k = 4 * jj + 2  # = 2·(2jj + 1)
            x[U(i)] += pwx[U(k)] * c0 + pwx[U(k + 1)] * c1
            x[U(i + 1)] += pwx[U(k + 2)] * c0 + pwx[U(k + 3)] * c1
            c0 = c1
    else:
        for jj in range(mx - 1):
            m = jj + 1
            c1 = (wa * e[U(ra + m)] + wb * e[U(rb + m)] + wc * e[U(rc + m)]
                  + wd * e[U(rd + m)])
            i = o + 2 * jj + 1
            k = 4 * jj + 2
            x[U(i)] += pwx[U(k)] * c0 + pwx[U(k + 1)] * c1
            x[U(i + 1)] += pwx[U(k + 2)] * c0 + pwx[U(k + 3)] * c1
            c0 = c1
    for i in range(2 * mx - 1, nx):  # past the last coarse centre: coarse mx − 1 only
        x[U(o + i)] += pwx[U(2 * i)] * c0


def _prolong_py(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx):
    """x += P e (tensor-product linear interpolation, ≤ 2 coarse cells per axis)."""
    for line in prange(nz * ny):
        _prolong_row(x, e, pwz, pwy, pwx, nz, ny, nx, mz, my, mx, line)


@njit(cache=True)
def _axpy(x, p, a):
    """x += a p."""
    for i in range(x.shape[0]):
        x[U(i)] += a * p[U(i)]


@njit(cache=True)
def _xpby(p, z, beta):
    """p = z + beta p."""
    for i in range(p.shape[0]):
        p[U(i)] = z[U(i)] + beta * p[U(i)]


def _compile(f, parallel):
    """Serial or threaded copy of kernel f.  Each copy is its own function object (own
    __qualname__): numba's on-disk cache is keyed by qualname and signature, not by the
    ``parallel`` flag, so compiling one function twice with cache=True would load the same
    variant for both."""
    suffix = "_par" if parallel else "_ser"
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + suffix, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = f.__qualname__ + suffix
    return njit(parallel=parallel, cache=True)(g)


_smooth3_s = _compile(_smooth3_py, False)
_residual_s = _compile(_residual_py, False)
_residual_p = _compile(_residual_py, True)
_prolong_s = _compile(_prolong_py, False)
_prolong_p = _compile(_prolong_py, True)


# ---------------------------------------------------------------------------------------
# level kernels (the threaded copies are chosen by level size only)
# ---------------------------------------------------------------------------------------



@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def vcycle_nb(x, b, d, A):
    """One V(2,2)-cycle on x in place (A = ``mg_hierarchy(...).arrays`` after ``setup``)."""
    _vcycle(x, b, d, A, False)


@njit(cache=True)
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


@njit(cache=True)
def solve_nb(x, b, d, A, tol, max_cycles):
    """V-cycles until ‖b − A x‖₂ ≤ tol ‖b‖₂; returns the number of cycles."""
    r = _region(A, _I(_RB))
    bn = _norm_if_unsolved(x, b, d, A, r, tol)
    if bn < 0.0:
        return 0
    return _cycles_nb(x, b, d, A, r, bn, tol, max_cycles)


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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
# public API
# ---------------------------------------------------------------------------------------


def mg_solve(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
             grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
             max_cycles: int = 30, accept: float | None = None, check: bool = True) -> int:
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
    return int(_solve_setup_nb(x, b, d, float(coef), h.arrays, float(tol), int(max_cycles),
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
    vcycle_nb(x, b, d, h.arrays)


def mg_pcg(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
           grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
           maxiter: int = 50) -> int:
    """Conjugate gradients preconditioned with one V-cycle per iteration; x in place.
    Returns the number of CG iterations (stop: recursive residual ≤ tol·‖b‖₂)."""
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    h.setup(d, coef)
    return int(_pcg_nb(x, b, d, h.arrays, *h.cg_work(), float(tol), int(maxiter)))
