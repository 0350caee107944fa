"""Geometric multigrid for the coupled backward-Euler reaction–diffusion system.

Solves ``A c = b`` with

    A = diag(d) − coef·Δ_h,   d_i ≥ 1 (varies per voxel),   coef = dt·D/dx²

on a cell-centred grid ``(nz, ny, nx)`` flattened C-order, with exactly the stencil of
``fields._apply_A_py``: x and y faces always exist, z faces only when ``nz > 1``; at a
domain face the operator either has a homogeneous Dirichlet ghost (ghost value 0 one
cell-width outside, i.e. ``coef·v`` added to the diagonal; the caller puts the far-field
value into ``b``) or no flux.

API
---
``mg_solve(x, b, d, coef, grid, dirichlet, tol=1e-6, max_cycles=30) -> int``
    V-cycles on ``x`` in place until ``‖b − A x‖₂ ≤ tol·‖b‖₂``; returns the cycle count.
``mg_vcycle(x, b, d, coef, grid, dirichlet, setup=True) -> None``
    One V-cycle in place.  As a preconditioner call it with ``x = 0``: ``x ← B b``.
    ``setup=False`` reuses the coarse data from the previous call on the same
    ``(grid, dirichlet)`` (caller guarantees the same ``d`` and ``coef``).
``mg_pcg(x, b, d, coef, grid, dirichlet, tol=1e-6, maxiter=50) -> int``
    Conjugate gradients preconditioned by one V-cycle per iteration.
``mg_hierarchy(grid, dirichlet)`` / ``_vcycle_nb(x, b, d, h.arrays)``
    For calling the V-cycle from other numba code: ``h.setup(d, coef)`` once, then the
    jitted ``_vcycle_nb`` as often as needed.

Method
------
* Coarsening: every axis with more than one cell (z only when present) is halved, cell
  pairs ``(2J, 2J+1)`` merged; an odd axis keeps its last cell unpaired (a coarse cell of
  half width).  Coarsening stops when no axis has more than ``COARSEST`` (4) cells; the
  coarsest system (≤ 64 unknowns) is solved directly (dense Cholesky, factored once per
  setup).
* Coarse operators: finite-volume rediscretisation on the actual (possibly non-uniform)
  coarse cells: coupling ``coef·h²/(w_J·dist)`` per face (``coef/4`` per level on uniform
  cells); the Dirichlet ghost stays at the fine ghost position (one fine cell outside the
  face), so the boundary is the same on all levels; ``d`` is restricted by volume
  averaging.
* Transfers: prolongation P = (bi/tri)linear interpolation between coarse cell centres
  (towards value 0 at the Dirichlet ghost position, constant next to a no-flux face);
  restriction R = V_H⁻¹ Pᵀ V_h (volume-weighted transpose of P; on uniform cells the
  cell-centred ``[1 3 3 1]/8`` full weighting per axis).
* Smoother: red-black Gauss–Seidel, pre-smoothing red, black, red, black; post-smoothing
  black, red, black, red (the adjoint order).

Symmetry: with V-weighted inner products on the coarse levels each level operator is
symmetric, R is the (scaled) adjoint of P, the post-smoother is the adjoint of the
pre-smoother and the coarsest solve is exact, so the V-cycle started from ``x = 0`` is a
symmetric linear operator B (to rounding; the residual at the just-relaxed colour, which is
zero in exact arithmetic, is not recomputed).  Its error propagator I − BA has spectral
radius < 1 (measured ≤ 0.1), hence B is also positive definite: it is a valid CG
preconditioner.

Determinism: all kernels are element-wise or red-black (race-free) and every norm is a
fixed per-row partial sum followed by a serial sum, so results are bitwise identical for
any number of threads.  Levels with fewer than ``PARALLEL_MIN`` cells use single-threaded
copies of the kernels (identical arithmetic).

Not thread-safe: the level buffers of one ``(grid, dirichlet)`` are shared.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["mg_solve", "mg_vcycle", "mg_pcg", "mg_hierarchy", "COARSEST", "PARALLEL_MIN"]

COARSEST = 4  # stop coarsening once no axis has more cells than this
PARALLEL_MIN = 1 << 15  # levels with at least this many cells use the threaded kernels
U = np.uint64  # unsigned indices: no negative-index wraparound checks (≈3x faster loops)

# ---------------------------------------------------------------------------------------
# kernels (compiled twice: serial and parallel; identical arithmetic)
# Axis order everywhere: z, y, x.  Per-axis coefficient arrays hold, per cell index along
# that axis: lo/hi = coupling to the lower/upper neighbour (0 where there is none) and
# s = the axis' contribution to the diagonal (including Dirichlet ghost couplings).
# ---------------------------------------------------------------------------------------


def _smooth_py(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color):
    """One Gauss–Seidel half-sweep over the cells with (x + y + z) % 2 == color."""
    plane = nx * ny
    last = nx - 1
    for line in prange(nz * ny):
        z = line // ny
        y = line - z * ny
        o = line * nx
        cyl = ly[y]
        cyh = hy[y]
        czl = lz[z]
        czh = hz[z]
        oyl = o - nx if y > 0 else o
        oyh = o + nx if y < ny - 1 else o
        ozl = o - plane if z > 0 else o
        ozh = o + plane if z < nz - 1 else o
        st = (color + y + z) & 1
        if st == 0:  # x = 0: no lower x neighbour
            ip = o + 1 if nx > 1 else o
            x[U(o)] = (b[U(o)] + hx[0] * x[U(ip)] + cyl * x[U(oyl)] + cyh * x[U(oyh)]
                       + czl * x[U(ozl)] + czh * x[U(ozh)]) * invd[U(o)]
            st = 2
        for xx in range(st, last, 2):
            i = o + xx
            x[U(i)] = (b[U(i)] + lx[U(xx)] * x[U(i - 1)] + hx[U(xx)] * x[U(i + 1)]
                       + cyl * x[U(oyl + xx)] + cyh * x[U(oyh + xx)]
                       + czl * x[U(ozl + xx)] + czh * x[U(ozh + xx)]) * invd[U(i)]
        if last > 0 and ((last - st) & 1) == 0:  # x = nx − 1: no upper x neighbour
            i = o + last
            x[U(i)] = (b[U(i)] + lx[U(last)] * x[U(i - 1)] + cyl * x[U(oyl + last)]
                       + cyh * x[U(oyh + last)] + czl * x[U(ozl + last)]
                       + czh * x[U(ozh + last)]) * invd[U(i)]


def _smooth2_py(x, b, invd, ly, hy, lx, hx, ny, nx, color):
    """2D (nz == 1) version of ``_smooth_py``."""
    last = nx - 1
    for y in prange(ny):
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


def _residual_py(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, nz, ny, nx, color):
    """r = b − A x.  color = 0/1: only cells of that colour, the others set to 0 (used right
    after a sweep of the other colour, whose residual is then zero up to rounding).
    color = −1: all cells, and part[line] = Σ r² over the line (fixed partial sums →
    independent of the thread count)."""
    plane = nx * ny
    last = nx - 1
    for line in prange(nz * ny):
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
        if color < 0:
            st = 0
            step = 1
        else:
            st = (color + y + z) & 1
            step = 2
            for xx in range(1 - st, nx, 2):
                r[U(o + xx)] = 0.0
        acc2 = 0.0
        for xx in range(st, nx, step):
            i = o + xx
            im = i - 1 if xx > 0 else i
            ip = i + 1 if xx < last else i
            v = (b[U(i)] + lx[U(xx)] * x[U(im)] + hx[U(xx)] * x[U(ip)] + cyl * x[U(oyl + xx)]
                 + cyh * x[U(oyh + xx)] + czl * x[U(ozl + xx)] + czh * x[U(ozh + xx)]
                 - (d[U(i)] + syz + sx[U(xx)]) * x[U(i)])
            r[U(i)] = v
            acc2 += v * v
        part[line] = acc2


def _restrict_x_py(src, dst, ri, rw, nrows, nf, nc):
    """Restriction along the contiguous axis: dst[row, J] = Σ_k rw[J,k] src[row, ri[J,k]]."""
    for row in prange(nrows):
        so = row * nf
        do = row * nc
        for j in range(nc):
            dst[U(do + j)] = (rw[U(j), 0] * src[U(so + ri[U(j), 0])]
                              + rw[U(j), 1] * src[U(so + ri[U(j), 1])]
                              + rw[U(j), 2] * src[U(so + ri[U(j), 2])]
                              + rw[U(j), 3] * src[U(so + ri[U(j), 3])])


def _restrict_mid_py(src, dst, ri, rw, nouter, nf, nc, inner):
    """Restriction along a strided axis of a (nouter, nf, inner) array → (nouter, nc, inner)."""
    for t in prange(nouter * nc):
        o = t // nc
        j = t - o * nc
        so = o * nf * inner
        do = t * inner
        i0 = so + ri[j, 0] * inner
        i1 = so + ri[j, 1] * inner
        i2 = so + ri[j, 2] * inner
        i3 = so + ri[j, 3] * inner
        w0 = rw[j, 0]
        w1 = rw[j, 1]
        w2 = rw[j, 2]
        w3 = rw[j, 3]
        for k in range(inner):
            dst[U(do + k)] = (w0 * src[U(i0 + k)] + w1 * src[U(i1 + k)] + w2 * src[U(i2 + k)]
                              + w3 * src[U(i3 + k)])


def _prolong_py(x, e, pjz, pwz, pjy, pwy, pjx, pwx, nz, ny, nx, my, mx):
    """x += P e (tensor-product linear interpolation, ≤ 2 coarse cells per axis)."""
    for line in prange(nz * ny):
        z = line // ny
        y = line - z * ny
        o = line * nx
        r0 = (pjz[z, 0] * my + pjy[y, 0]) * mx
        r1 = (pjz[z, 0] * my + pjy[y, 1]) * mx
        r2 = (pjz[z, 1] * my + pjy[y, 0]) * mx
        r3 = (pjz[z, 1] * my + pjy[y, 1]) * mx
        w0 = pwz[z, 0] * pwy[y, 0]
        w1 = pwz[z, 0] * pwy[y, 1]
        w2 = pwz[z, 1] * pwy[y, 0]
        w3 = pwz[z, 1] * pwy[y, 1]
        if w2 == 0.0 and w3 == 0.0:
            for xx in range(nx):
                j0 = pjx[U(xx), 0]
                j1 = pjx[U(xx), 1]
                a0 = pwx[U(xx), 0]
                a1 = pwx[U(xx), 1]
                x[U(o + xx)] += (w0 * (a0 * e[U(r0 + j0)] + a1 * e[U(r0 + j1)])
                                 + w1 * (a0 * e[U(r1 + j0)] + a1 * e[U(r1 + j1)]))
        else:
            for xx in range(nx):
                j0 = pjx[U(xx), 0]
                j1 = pjx[U(xx), 1]
                a0 = pwx[U(xx), 0]
                a1 = pwx[U(xx), 1]
                x[U(o + xx)] += (w0 * (a0 * e[U(r0 + j0)] + a1 * e[U(r0 + j1)])
                                 + w1 * (a0 * e[U(r1 + j0)] + a1 * e[U(r1 + j1)])
                                 + w2 * (a0 * e[U(r2 + j0)] + a1 * e[U(r2 + j1)])
                                 + w3 * (a0 * e[U(r3 + j0)] + a1 * e[U(r3 + j1)]))


def _restrict_d_py(d, dc, cjz, cwz, cjy, cwy, cjx, cwx, mz, my, mx, ny, nx):
    """Volume average of d over the children of each coarse cell."""
    for line in prange(mz * my):
        zc = line // my
        yc = line - zc * my
        for xc in range(mx):
            acc = 0.0
            for a in range(2):
                wz = cwz[zc, a]
                if wz == 0.0:
                    continue
                for bb in range(2):
                    wy = cwy[yc, bb]
                    if wy == 0.0:
                        continue
                    row = (cjz[zc, a] * ny + cjy[yc, bb]) * nx
                    wzy = wz * wy
                    for c in range(2):
                        wx = cwx[xc, c]
                        if wx != 0.0:
                            acc += wzy * wx * d[U(row + cjx[xc, c])]
            dc[U(line * mx + xc)] = acc


def _invdiag_py(d, invd, sz, sy, sx, nz, ny, nx):
    for line in prange(nz * ny):
        z = line // ny
        y = line - z * ny
        syz = sy[y] + sz[z]
        o = line * nx
        for xx in range(nx):
            invd[U(o + xx)] = 1.0 / (d[U(o + xx)] + syz + sx[U(xx)])


def _axpy_py(x, p, a):
    """x += a p."""
    for i in prange(x.shape[0]):
        x[U(i)] += a * p[U(i)]


def _xpby_py(p, z, beta):
    """p = z + beta p."""
    for i in prange(p.shape[0]):
        p[U(i)] = z[U(i)] + beta * p[U(i)]


def _dot_rows_py(a, c, part, nrows, ncol):
    """part[row] = Σ a·c over one row (fixed partial sums)."""
    for line in prange(nrows):
        acc = 0.0
        for i in range(line * ncol, (line + 1) * ncol):
            acc += a[U(i)] * c[U(i)]
        part[line] = acc


def _compile(parallel):
    def jit(f):
        return njit(parallel=parallel, cache=True)(f)

    return (jit(_smooth_py), jit(_smooth2_py), jit(_residual_py), jit(_restrict_x_py),
            jit(_restrict_mid_py), jit(_prolong_py), jit(_restrict_d_py), jit(_invdiag_py),
            jit(_axpy_py), jit(_xpby_py), jit(_dot_rows_py))


(_smooth_s, _smooth2_s, _residual_s, _restrict_x_s, _restrict_mid_s, _prolong_s,
 _restrict_d_s, _invdiag_s, _axpy_s, _xpby_s, _dot_rows_s) = _compile(False)
(_smooth_p, _smooth2_p, _residual_p, _restrict_x_p, _restrict_mid_p, _prolong_p,
 _restrict_d_p, _invdiag_p, _axpy_p, _xpby_p, _dot_rows_p) = _compile(True)

# ---------------------------------------------------------------------------------------
# serial dispatch helpers (choose the threaded copy by level size only)
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _smooth(par, x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color):
    if nz == 1:
        if par:
            _smooth2_p(x, b, invd, ly, hy, lx, hx, ny, nx, color)
        else:
            _smooth2_s(x, b, invd, ly, hy, lx, hx, ny, nx, color)
    elif par:
        _smooth_p(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color)
    else:
        _smooth_s(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, color)


@njit(cache=True)
def _residual(par, x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, nz, ny, nx, color):
    if par:
        _residual_p(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, nz, ny, nx, color)
    else:
        _residual_s(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, nz, ny, nx, color)


@njit(cache=True)
def _serial_sum(part, n):
    acc = 0.0
    for i in range(n):
        acc += part[i]
    return acc


# ---------------------------------------------------------------------------------------
# the V-cycle
# ---------------------------------------------------------------------------------------
# h.arrays = (shp, crs, loff, goff, LO, HI, SD, PJ, PW, RI, RW, CJ, CW, WID,
#             XB, BB, DB, IB, RB, T1, T2, PART, CHOL, CVEC)


@njit(cache=True)
def _level_views(A, lev, x, b, d):
    """(x_l, b_l, d_l, invd_l, r_l) for level lev (level 0: the caller's x, b, d)."""
    loff = A[2]
    n0 = loff[1]
    a = loff[lev]
    e = loff[lev + 1]
    IB, RB = A[17], A[18]
    if lev == 0:
        return x[0:n0], b[0:n0], d[0:n0], IB[a:e], RB[a:e]
    XB, BB, DB = A[14], A[15], A[16]
    return XB[a - n0:e - n0], BB[a - n0:e - n0], DB[a - n0:e - n0], IB[a:e], RB[a:e]


@njit(cache=True)
def _axis(arr, goff, lev, ax, n):
    o = goff[lev, ax]
    return arr[o:o + n]


@njit(cache=True)
def _coarse_solve(A, xl, bl):
    """Dense Cholesky solve on the coarsest level: (V A) x = V b."""
    shp, goff, WID, CHOL, CVEC = A[0], A[3], A[13], A[22], A[23]
    lev = shp.shape[0] - 1
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    wz = _axis(WID, goff, lev, 0, nz)
    wy = _axis(WID, goff, lev, 1, ny)
    wx = _axis(WID, goff, lev, 2, nx)
    n = nz * ny * nx
    for z in range(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                CVEC[i] = wz[z] * wy[y] * wx[xx] * bl[i]
    # forward: L y = v ; backward: Lᵀ x = y
    for i in range(n):
        acc = CVEC[i]
        for k in range(i):
            acc -= CHOL[i, k] * CVEC[k]
        CVEC[i] = acc / CHOL[i, i]
    for i in range(n - 1, -1, -1):
        acc = CVEC[i]
        for k in range(i + 1, n):
            acc -= CHOL[k, i] * CVEC[k]
        CVEC[i] = acc / CHOL[i, i]
    for i in range(n):
        xl[i] = CVEC[i]


@njit(cache=True)
def _vcycle_nb(x, b, d, A):
    """One V-cycle on x in place (A = hierarchy arrays after setup)."""
    shp, crs, goff = A[0], A[1], A[3]
    LO, HI, SD, PJ, PW, RI, RW = A[4], A[5], A[6], A[7], A[8], A[9], A[10]
    T1, T2, PART = A[19], A[20], A[21]
    nlev = shp.shape[0]
    if nlev == 1:
        xl, bl, dl, il, rl = _level_views(A, 0, x, b, d)
        _coarse_solve(A, xl, bl)
        return
    # down
    for lev in range(nlev - 1):
        nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
        n = nz * ny * nx
        par = n >= PARALLEL_MIN
        xl, bl, dl, il, rl = _level_views(A, lev, x, b, d)
        lz = _axis(LO, goff, lev, 0, nz)
        hz = _axis(HI, goff, lev, 0, nz)
        ly = _axis(LO, goff, lev, 1, ny)
        hy = _axis(HI, goff, lev, 1, ny)
        lx = _axis(LO, goff, lev, 2, nx)
        hx = _axis(HI, goff, lev, 2, nx)
        if lev > 0:
            xl[:] = 0.0
        for sweep in range(4):
            _smooth(par, xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, sweep & 1)
        sz = _axis(SD, goff, lev, 0, nz)
        sy = _axis(SD, goff, lev, 1, ny)
        sx = _axis(SD, goff, lev, 2, nx)
        _residual(par, xl, bl, dl, sz, sy, sx, lz, hz, ly, hy, lx, hx, rl, PART, nz, ny, nx, 0)
        # restrict r → b_{lev+1}, axis by axis (x, y, z), skipping axes not coarsened
        mz, my, mx = shp[lev + 1, 0], shp[lev + 1, 1], shp[lev + 1, 2]
        xc, bc, dc, ic, rc = _level_views(A, lev + 1, x, b, d)
        last = 2 if crs[lev, 0] else (1 if crs[lev, 1] else 0)
        src = rl
        cy = ny
        cx = nx
        if crs[lev, 2]:
            dst = bc if last == 0 else T1[0:nz * ny * mx]
            rix = RI[goff[lev + 1, 2]:goff[lev + 1, 2] + mx]
            rwx = RW[goff[lev + 1, 2]:goff[lev + 1, 2] + mx]
            if par:
                _restrict_x_p(src, dst, rix, rwx, nz * ny, nx, mx)
            else:
                _restrict_x_s(src, dst, rix, rwx, nz * ny, nx, mx)
            src = dst
            cx = mx
        if crs[lev, 1]:
            dst = bc if last == 1 else T2[0:nz * my * cx]
            riy = RI[goff[lev + 1, 1]:goff[lev + 1, 1] + my]
            rwy = RW[goff[lev + 1, 1]:goff[lev + 1, 1] + my]
            if par:
                _restrict_mid_p(src, dst, riy, rwy, nz, ny, my, cx)
            else:
                _restrict_mid_s(src, dst, riy, rwy, nz, ny, my, cx)
            src = dst
            cy = my
        if crs[lev, 0]:
            riz = RI[goff[lev + 1, 0]:goff[lev + 1, 0] + mz]
            rwz = RW[goff[lev + 1, 0]:goff[lev + 1, 0] + mz]
            if par:
                _restrict_mid_p(src, bc, riz, rwz, 1, nz, mz, cy * cx)
            else:
                _restrict_mid_s(src, bc, riz, rwz, 1, nz, mz, cy * cx)
    # coarsest
    xl, bl, dl, il, rl = _level_views(A, nlev - 1, x, b, d)
    _coarse_solve(A, xl, bl)
    # up
    for lev in range(nlev - 2, -1, -1):
        nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
        n = nz * ny * nx
        par = n >= PARALLEL_MIN
        xl, bl, dl, il, rl = _level_views(A, lev, x, b, d)
        xc, bc, dc, ic, rc = _level_views(A, lev + 1, x, b, d)
        my, mx = shp[lev + 1, 1], shp[lev + 1, 2]
        pjz = PJ[goff[lev, 0]:goff[lev, 0] + nz]
        pwz = PW[goff[lev, 0]:goff[lev, 0] + nz]
        pjy = PJ[goff[lev, 1]:goff[lev, 1] + ny]
        pwy = PW[goff[lev, 1]:goff[lev, 1] + ny]
        pjx = PJ[goff[lev, 2]:goff[lev, 2] + nx]
        pwx = PW[goff[lev, 2]:goff[lev, 2] + nx]
        if par:
            _prolong_p(xl, xc, pjz, pwz, pjy, pwy, pjx, pwx, nz, ny, nx, my, mx)
        else:
            _prolong_s(xl, xc, pjz, pwz, pjy, pwy, pjx, pwx, nz, ny, nx, my, mx)
        lz = _axis(LO, goff, lev, 0, nz)
        hz = _axis(HI, goff, lev, 0, nz)
        ly = _axis(LO, goff, lev, 1, ny)
        hy = _axis(HI, goff, lev, 1, ny)
        lx = _axis(LO, goff, lev, 2, nx)
        hx = _axis(HI, goff, lev, 2, nx)
        for sweep in range(4):
            _smooth(par, xl, bl, il, lz, hz, ly, hy, lx, hx, nz, ny, nx, 1 - (sweep & 1))


# ---------------------------------------------------------------------------------------
# per-call setup (scaled couplings, restricted d, inverse diagonals, coarsest factor)
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _setup_nb(d, coef, A):
    shp, goff = A[0], A[3]
    LO, HI, SD, CJ, CW, WID = A[4], A[5], A[6], A[11], A[12], A[13]
    CHOL = A[22]
    GLO, GHI, GSD = A[24], A[25], A[26]
    for i in range(LO.shape[0]):
        LO[i] = coef * GLO[i]
        HI[i] = coef * GHI[i]
        SD[i] = coef * GSD[i]
    nlev = shp.shape[0]
    for lev in range(nlev):
        nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
        par = nz * ny * nx >= PARALLEL_MIN
        xl, bl, dl, il, rl = _level_views(A, lev, d, d, d)
        if lev > 0:
            fz, fy, fx = shp[lev - 1, 0], shp[lev - 1, 1], shp[lev - 1, 2]
            xf, bf, df, jf, rf = _level_views(A, lev - 1, d, d, d)
            cjz = CJ[goff[lev, 0]:goff[lev, 0] + nz]
            cwz = CW[goff[lev, 0]:goff[lev, 0] + nz]
            cjy = CJ[goff[lev, 1]:goff[lev, 1] + ny]
            cwy = CW[goff[lev, 1]:goff[lev, 1] + ny]
            cjx = CJ[goff[lev, 2]:goff[lev, 2] + nx]
            cwx = CW[goff[lev, 2]:goff[lev, 2] + nx]
            if fz * fy * fx >= PARALLEL_MIN:
                _restrict_d_p(df, dl, cjz, cwz, cjy, cwy, cjx, cwx, nz, ny, nx, fy, fx)
            else:
                _restrict_d_s(df, dl, cjz, cwz, cjy, cwy, cjx, cwx, nz, ny, nx, fy, fx)
        sz = _axis(SD, goff, lev, 0, nz)
        sy = _axis(SD, goff, lev, 1, ny)
        sx = _axis(SD, goff, lev, 2, nx)
        if par:
            _invdiag_p(dl, il, sz, sy, sx, nz, ny, nx)
        else:
            _invdiag_s(dl, il, sz, sy, sx, nz, ny, nx)
    # coarsest level: S = V A (symmetric positive definite), Cholesky in place (lower)
    lev = nlev - 1
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    xl, bl, dl, il, rl = _level_views(A, lev, d, d, d)
    lz, hz = _axis(LO, goff, lev, 0, nz), _axis(HI, goff, lev, 0, nz)
    ly, hy = _axis(LO, goff, lev, 1, ny), _axis(HI, goff, lev, 1, ny)
    lx, hx = _axis(LO, goff, lev, 2, nx), _axis(HI, goff, lev, 2, nx)
    wz, wy, wx = _axis(WID, goff, lev, 0, nz), _axis(WID, goff, lev, 1, ny), _axis(WID, goff, lev, 2, nx)
    n = nz * ny * nx
    CHOL[:, :] = 0.0
    for z in range(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                v = wz[z] * wy[y] * wx[xx]
                CHOL[i, i] = v / il[i]
                if xx > 0:
                    CHOL[i, i - 1] = -v * lx[xx]
                if xx < nx - 1:
                    CHOL[i, i + 1] = -v * hx[xx]
                if y > 0:
                    CHOL[i, i - nx] = -v * ly[y]
                if y < ny - 1:
                    CHOL[i, i + nx] = -v * hy[y]
                if z > 0:
                    CHOL[i, i - nx * ny] = -v * lz[z]
                if z < nz - 1:
                    CHOL[i, i + nx * ny] = -v * hz[z]
    for j in range(n):
        acc = CHOL[j, j]
        for k in range(j):
            acc -= CHOL[j, k] * CHOL[j, k]
        ljj = np.sqrt(acc)
        CHOL[j, j] = ljj
        for i in range(j + 1, n):
            acc = CHOL[i, j]
            for k in range(j):
                acc -= CHOL[i, k] * CHOL[j, k]
            CHOL[i, j] = acc / ljj
    for j in range(n):
        for i in range(j):
            CHOL[i, j] = 0.0


@njit(cache=True)
def _resnorm_nb(x, b, d, A, r):
    """‖b − A x‖₂ on the finest level (r receives the residual)."""
    shp, goff, LO, HI, SD, PART = A[0], A[3], A[4], A[5], A[6], A[21]
    nz, ny, nx = shp[0, 0], shp[0, 1], shp[0, 2]
    par = nz * ny * nx >= PARALLEL_MIN
    _residual(par, x, b, d,
              _axis(SD, goff, 0, 0, nz), _axis(SD, goff, 0, 1, ny), _axis(SD, goff, 0, 2, nx),
              _axis(LO, goff, 0, 0, nz), _axis(HI, goff, 0, 0, nz),
              _axis(LO, goff, 0, 1, ny), _axis(HI, goff, 0, 1, ny),
              _axis(LO, goff, 0, 2, nx), _axis(HI, goff, 0, 2, nx), r, PART, nz, ny, nx, -1)
    return np.sqrt(_serial_sum(PART, nz * ny))


@njit(cache=True)
def _dot_nb(a, c, A):
    shp, PART = A[0], A[21]
    nrows = shp[0, 0] * shp[0, 1]
    ncol = shp[0, 2]
    if nrows * ncol >= PARALLEL_MIN:
        _dot_rows_p(a, c, PART, nrows, ncol)
    else:
        _dot_rows_s(a, c, PART, nrows, ncol)
    return _serial_sum(PART, nrows)


@njit(cache=True)
def _solve_nb(x, b, d, A, tol, max_cycles):
    RB = A[18]
    r = RB[0:x.shape[0]]
    bn = np.sqrt(_dot_nb(b, b, A))
    if bn == 0.0:
        x[:] = 0.0
        return 0
    if _resnorm_nb(x, b, d, A, r) <= tol * bn:
        return 0
    for it in range(1, max_cycles + 1):
        _vcycle_nb(x, b, d, A)
        if _resnorm_nb(x, b, d, A, r) <= tol * bn:
            return it
    return max_cycles


@njit(cache=True)
def _pcg_nb(x, b, d, A, W, tol, maxiter):
    r, z, p, q, zero = W
    n = x.shape[0]
    par = n >= PARALLEL_MIN
    bn = np.sqrt(_dot_nb(b, b, A))
    if bn == 0.0:
        x[:] = 0.0
        return 0
    if _resnorm_nb(x, b, d, A, r) <= tol * bn:
        return 0
    z[:] = 0.0
    _vcycle_nb(z, r, d, A)
    p[:] = z
    rz = _dot_nb(r, z, A)
    for it in range(1, maxiter + 1):
        _resnorm_nb(p, zero, d, A, q)  # q = −A p
        alpha = -rz / _dot_nb(p, q, A)
        if par:
            _axpy_p(x, p, alpha)
            _axpy_p(r, q, alpha)
        else:
            _axpy_s(x, p, alpha)
            _axpy_s(r, q, alpha)
        if np.sqrt(_dot_nb(r, r, A)) <= tol * bn:
            return it
        z[:] = 0.0
        _vcycle_nb(z, r, d, A)
        rz_new = _dot_nb(r, z, A)
        beta = rz_new / rz
        rz = rz_new
        if par:
            _xpby_p(p, z, beta)
        else:
            _xpby_s(p, z, beta)
    return maxiter


# ---------------------------------------------------------------------------------------
# hierarchy construction (geometry only; cached per (grid, dirichlet))
# ---------------------------------------------------------------------------------------


class _AxisLevel:
    """Cells of one axis on one level: edges in fine-cell units (fine centres at 0..n-1)."""

    def __init__(self, left: np.ndarray, right: np.ndarray, present: bool):
        self.left = left
        self.right = right
        self.present = present

    @property
    def n(self) -> int:
        return self.left.shape[0]

    @property
    def centre(self) -> np.ndarray:
        return 0.5 * (self.left + self.right)

    @property
    def width(self) -> np.ndarray:
        return self.right - self.left

    def coarsen(self) -> _AxisLevel:
        n = self.n
        m = (n + 1) // 2
        j = np.arange(m)
        return _AxisLevel(self.left[2 * j], self.right[np.minimum(2 * j + 1, n - 1)], True)

    def couplings(self, dirichlet: bool, lower: float, upper: float):
        """Per-unit-coef neighbour couplings lo, hi and diagonal contribution s."""
        n = self.n
        lo = np.zeros(n)
        hi = np.zeros(n)
        s = np.zeros(n)
        if not self.present:
            return lo, hi, s
        c, w = self.centre, self.width
        if n > 1:
            dist = np.diff(c)
            lo[1:] = 1.0 / (w[1:] * dist)
            hi[:-1] = 1.0 / (w[:-1] * dist)
        s[:] = lo + hi
        if dirichlet:
            s[0] += 1.0 / (w[0] * (c[0] - lower))
            s[-1] += 1.0 / (w[-1] * (upper - c[-1]))
        return lo, hi, s


def _transfer(fine: _AxisLevel, coarse: _AxisLevel | None, dirichlet, lower, upper):
    """Prolongation (pj, pw: per fine cell ≤ 2 coarse cells), restriction (ri, rw: per coarse
    cell ≤ 4 fine cells, R = V_H⁻¹ Pᵀ V_h) and children (cj, cw: volume fractions)."""
    nf = fine.n
    if coarse is None:  # axis not coarsened: identity
        idx = np.arange(nf)
        pj = np.stack([idx, idx], axis=1)
        pw = np.zeros((nf, 2))
        pw[:, 0] = 1.0
        ri = np.zeros((nf, 4), np.int64)
        ri[:, 0] = idx
        rw = np.zeros((nf, 4))
        rw[:, 0] = 1.0
        return pj, pw, ri, rw, pj.copy(), pw.copy()
    nc = coarse.n
    cf, cc = fine.centre, coarse.centre
    wf, wc = fine.width, coarse.width
    P = np.zeros((nf, nc))
    for i in range(nf):
        p = cf[i]
        if p <= cc[0]:
            P[i, 0] = (p - lower) / (cc[0] - lower) if dirichlet else 1.0
        elif p >= cc[-1]:
            P[i, nc - 1] = (upper - p) / (upper - cc[-1]) if dirichlet else 1.0
        else:
            j = int(np.searchsorted(cc, p)) - 1
            t = (p - cc[j]) / (cc[j + 1] - cc[j])
            P[i, j] = 1.0 - t
            P[i, j + 1] = t
    pj = np.zeros((nf, 2), np.int64)
    pw = np.zeros((nf, 2))
    for i in range(nf):
        nzr = np.nonzero(P[i])[0]
        assert 1 <= nzr.size <= 2
        pj[i, :] = nzr[0]
        pj[i, : nzr.size] = nzr
        pw[i, : nzr.size] = P[i, nzr]
    R = (P * wf[:, None]).T / wc[:, None]
    ri = np.zeros((nc, 4), np.int64)
    rw = np.zeros((nc, 4))
    for j in range(nc):
        nzr = np.nonzero(R[j])[0]
        assert 1 <= nzr.size <= 4
        ri[j, :] = nzr[0]
        ri[j, : nzr.size] = nzr
        rw[j, : nzr.size] = R[j, nzr]
    cj = np.zeros((nc, 2), np.int64)
    cw = np.zeros((nc, 2))
    for j in range(nc):
        kids = [2 * j] + ([2 * j + 1] if 2 * j + 1 < nf else [])
        cj[j, :] = kids[0]
        cj[j, : len(kids)] = kids
        cw[j, : len(kids)] = wf[kids] / wc[j]
    return pj, pw, ri, rw, cj, cw


class MGHierarchy:
    """Level geometry and preallocated buffers for one (grid, dirichlet).

    ``arrays`` is the tuple the jitted ``_vcycle_nb`` / ``_solve_nb`` take; call
    ``setup(d, coef)`` before using it with a new ``d`` or ``coef``.
    """

    def __init__(self, grid: tuple[int, int, int], dirichlet: bool):
        nz, ny, nx = (int(v) for v in grid)
        if min(nz, ny, nx) < 1:
            raise ValueError(f"bad grid {grid}")
        self.grid = (nz, ny, nx)
        self.dirichlet = bool(dirichlet)
        self.n = nz * ny * nx
        bounds = [(-1.0, float(m)) for m in (nz, ny, nx)]  # Dirichlet ghost centres
        axes = [_AxisLevel(np.arange(m) - 0.5, np.arange(m) + 0.5, present)
                for m, present in zip((nz, ny, nx), (nz > 1, True, True), strict=True)]
        levels = [axes]
        crs_list = []
        while max(a.n for a in levels[-1]) > COARSEST:
            cur = levels[-1]
            flags = [a.present and a.n > 1 for a in cur]
            crs_list.append(flags)
            levels.append([a.coarsen() if f else a for a, f in zip(cur, flags, strict=True)])
        crs_list.append([False, False, False])
        nlev = len(levels)
        self.nlev = nlev
        shp = np.array([[a.n for a in lv] for lv in levels], np.int64)
        crs = np.array(crs_list, np.int64)
        sizes = shp.prod(axis=1)
        loff = np.zeros(nlev + 1, np.int64)
        loff[1:] = np.cumsum(sizes)
        goff = np.zeros((nlev, 3), np.int64)
        tot = 0
        for lev in range(nlev):
            for ax in range(3):
                goff[lev, ax] = tot
                tot += shp[lev, ax]
        GLO, GHI, GSD, WID = (np.zeros(tot) for _ in range(4))
        PJ = np.zeros((tot, 2), np.int64)
        PW = np.zeros((tot, 2))
        RI = np.zeros((tot, 4), np.int64)
        RW = np.zeros((tot, 4))
        CJ = np.zeros((tot, 2), np.int64)
        CW = np.zeros((tot, 2))
        for lev in range(nlev):
            for ax in range(3):
                a = levels[lev][ax]
                o = goff[lev, ax]
                n = a.n
                lo, hi, s = a.couplings(self.dirichlet, *bounds[ax])
                GLO[o:o + n], GHI[o:o + n], GSD[o:o + n] = lo, hi, s
                WID[o:o + n] = a.width
                if lev + 1 < nlev:
                    coarse = levels[lev + 1][ax] if crs[lev, ax] else None
                    pj, pw, ri, rw, cj, cw = _transfer(a, coarse, self.dirichlet, *bounds[ax])
                    PJ[o:o + n], PW[o:o + n] = pj, pw
                    oc = goff[lev + 1, ax]
                    m = shp[lev + 1, ax]
                    RI[oc:oc + m], RW[oc:oc + m] = ri, rw
                    CJ[oc:oc + m], CW[oc:oc + m] = cj, cw
        ncoarse = int(sizes[-1])
        n0 = int(sizes[0])
        nrest = int(loff[-1]) - n0
        tmax = max([int(shp[lv, 0] * shp[lv, 1] * shp[lv + 1, 2]) for lv in range(nlev - 1)] + [1])
        self.arrays = (
            shp, crs, loff, goff,
            np.zeros(tot), np.zeros(tot), np.zeros(tot),  # LO, HI, SD (scaled by coef)
            PJ, PW, RI, RW, CJ, CW, WID,
            np.zeros(max(nrest, 1)), np.zeros(max(nrest, 1)), np.zeros(max(nrest, 1)),  # XB BB DB
            np.zeros(int(loff[-1])), np.zeros(int(loff[-1])),  # IB (inverse diagonal), RB
            np.zeros(tmax), np.zeros(tmax),  # T1, T2
            np.zeros(int(shp[0, 0] * shp[0, 1])),  # PART (per-row partial sums)
            np.zeros((ncoarse, ncoarse)), np.zeros(ncoarse),  # CHOL, CVEC
            GLO, GHI, GSD,
        )
        self._cg: tuple | None = None
        self.coef: float | None = None

    def setup(self, d: np.ndarray, coef: float) -> None:
        _setup_nb(d, float(coef), self.arrays)
        self.coef = float(coef)

    def cg_work(self) -> tuple:
        if self._cg is None:
            self._cg = tuple(np.zeros(self.n) for _ in range(5))
        return self._cg


_HIERARCHIES: dict[tuple[tuple[int, int, int], bool], MGHierarchy] = {}
_HIERARCHY_LIMIT = 64


def mg_hierarchy(grid: tuple[int, int, int], dirichlet: bool) -> MGHierarchy:
    """The cached hierarchy for (grid, dirichlet); built on first use."""
    key = (tuple(int(v) for v in grid), bool(dirichlet))
    h = _HIERARCHIES.get(key)
    if h is None:
        if len(_HIERARCHIES) >= _HIERARCHY_LIMIT:
            _HIERARCHIES.clear()
        h = _HIERARCHIES[key] = MGHierarchy(key[0], key[1])
    return h


def _check(h: MGHierarchy, *arrays: np.ndarray) -> None:
    for a in arrays:
        if a.dtype != np.float64 or a.ndim != 1 or a.shape[0] != h.n or not a.flags.c_contiguous:
            raise ValueError(f"expected contiguous float64 arrays of length {h.n}")


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------


def mg_solve(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
             grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
             max_cycles: int = 30) -> int:
    """Solve (diag(d) − coef Δ_h) x = b by V-cycles; x (initial guess) is overwritten.

    Returns the number of V-cycles run; stops when ‖b − A x‖₂ ≤ tol·‖b‖₂ (b = 0 → x = 0)
    or after ``max_cycles``.
    """
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    h.setup(d, coef)
    return int(_solve_nb(x, b, d, h.arrays, float(tol), int(max_cycles)))


def mg_vcycle(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
              grid: tuple[int, int, int], dirichlet: bool, setup: bool = True) -> None:
    """One symmetric V(2,2)-cycle on x in place.  With x = 0 on entry this applies the
    preconditioner x = B b ≈ A⁻¹ b (B symmetric positive definite).  ``setup=False`` skips
    restricting d / refactoring the coarsest level (valid when d and coef are those of the
    previous call for this grid and boundary kind)."""
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    if setup or h.coef is None:
        h.setup(d, coef)
    _vcycle_nb(x, b, d, h.arrays)


def mg_pcg(x: np.ndarray, b: np.ndarray, d: np.ndarray, coef: float,
           grid: tuple[int, int, int], dirichlet: bool, tol: float = 1e-6,
           maxiter: int = 50) -> int:
    """Conjugate gradients preconditioned with one V-cycle per iteration; x in place.
    Returns the number of CG iterations (stop: ‖b − A x‖₂ ≤ tol·‖b‖₂, recursive residual)."""
    h = mg_hierarchy(grid, dirichlet)
    _check(h, x, b, d)
    h.setup(d, coef)
    return int(_pcg_nb(x, b, d, h.arrays, h.cg_work(), float(tol), int(maxiter)))
