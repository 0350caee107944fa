"""The warm-start check of ``field_solve: fast``: is the previous field good enough for this step?

The coupled system of :mod:`tmesim.engine.fields` is ``A c' = b`` with ``A = diag(d) − coef Δ_h``,
``d ≥ 1``.  Kept as it is, the previous field c has the error ``e = A⁻¹ r``, ``r = b − A c``.
Its old bound ``‖e‖₂ ≤ ‖r‖₂`` (the eigenvalues of A are ≥ 1) is tight only for a smooth r.  The
residual a step leaves in a warm-started field is mostly not smooth: the cells that moved,
divided or died change the uptake at a few scattered voxels (0.2–0.3 % of them per step on the
10^6-cell section of ``benchmarks/engine.py``), and all of the residual sits on those voxels.
So ``warm_check`` splits r into its means over blocks of ``BLOCK`` voxels per axis, ``r_s``,
and the rest ``r_h = r − r_s`` (zero mean on every block; ``‖r_h‖² = ‖r‖² − ‖r_s‖²``):

    ‖e‖₂ ≤ ‖r_s‖₂ + κ ‖r_h‖₂,    κ = 1 / √(1 + coef·4 sin²(π / (2 BLOCK)))

(``A ≥ I + coef L_blocks``, the Laplacian with the couplings between blocks dropped, and a
vector with zero mean on every block lies in that operator's eigenvectors of eigenvalue ≥ the
blocks' first Neumann eigenvalue 4 sin²(π / 2B); so ``r_hᵀ A⁻¹ r_h ≤ ‖r_h‖² / (1 + coef λ₁)``
and ``‖A⁻¹ r_h‖² ≤ ‖A⁻¹‖ r_hᵀ A⁻¹ r_h``).  For oxygen (coef = 1500) κ = 0.066: a point
residual costs about a fifth of its norm in the bound instead of all of it.

One read pass over the float32 arrays computes ‖b‖₂, ‖r‖₂ and ‖r_s‖₂ (per group of BLOCK rows
or, in 3D, BLOCK × BLOCK rows, then a serial sum over groups: the same numbers for any number
of threads).  Hand-written numba: a stencil fused with two reductions in one pass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .multigrid_levels import U
from .multigrid_rows import _row_sumsq

BLOCK = 8  # voxels per axis of the blocks whose residual means are the smooth part


def kappa(coef: float) -> float:
    """The factor on the residual's block-mean-free part in the error bound (module doc)."""
    return 1.0 / math.sqrt(1.0 + coef * 4.0 * math.sin(math.pi / (2 * BLOCK)) ** 2)


def error_bound(rn: float, sn: float, coef: float) -> float:
    """Bound on ‖A⁻¹ r‖₂ from ‖r‖₂ and the norm of its block means (module doc)."""
    return sn + kappa(coef) * math.sqrt(max(rn * rn - sn * sn, 0.0))


@njit(cache=True)
def _end(field, gain, loss, dt, lam, value, coef, dirichlet, nx, o, xx, wyl, wyh, wzl, wzh, oyl, oyh, ozl, ozh,
         wsum, gv):
    """(r_i, b_i) at an end (xx = 0 or nx − 1) of a row: a missing x neighbour is a Dirichlet
    ghost (value) or no flux."""
    i = o + xx
    c = np.float64(field[U(i)])
    g = np.float64(gain[U(i)])
    flux = (wyl * np.float64(field[U(oyl + xx)]) + wyh * np.float64(field[U(oyh + xx)])
            + wzl * np.float64(field[U(ozl + xx)]) + wzh * np.float64(field[U(ozh + xx)]) - wsum * c + gv)
    bi = c + dt * g + coef * gv
    for nb, ok in ((i - 1, xx > 0), (i + 1, xx < nx - 1)):
        if ok:
            flux += np.float64(field[U(nb)]) - c
        elif dirichlet:
            flux += value - c
            bi += coef * value
    return dt * g - dt * (lam + np.float64(loss[U(i)])) * c + coef * flux, bi


@njit(cache=True)
def _line(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, z, y, blk, rbuf, bbuf):
    """Row (z, y): adds r_i to blk[x // BLOCK]; returns the row's (Σ b², Σ r²).  A missing
    y/z neighbour has weight 0 (and any valid index), so the loop over x has no branches
    but the two ends'."""
    plane = nx * ny
    o = (z * ny + y) * nx
    wyl = 1.0 if y > 0 else 0.0
    wyh = 1.0 if y < ny - 1 else 0.0
    wzl = 1.0 if (nz > 1 and z > 0) else 0.0
    wzh = 1.0 if (nz > 1 and z < nz - 1) else 0.0
    oyl = o - nx if y > 0 else o
    oyh = o + nx if y < ny - 1 else o
    ozl = o - plane if z > 0 else o
    ozh = o + plane if z < nz - 1 else o
    ghosts = 0
    if y == 0:
        ghosts += 1
    if y == ny - 1:
        ghosts += 1
    if nz > 1:
        if z == 0:
            ghosts += 1
        if z == nz - 1:
            ghosts += 1
    gv = ghosts * value if dirichlet else 0.0  # Dirichlet ghosts: flux += ghosts (value − c)
    wsum = wyl + wyh + wzl + wzh + (np.float64(ghosts) if dirichlet else 0.0)
    # r and b of the row into buffers (a loop without reductions, which the compiler
    # vectorises), then the sums with four interleaved accumulators in a fixed order
    for xx in range(1, nx - 1):  # interior: both x neighbours exist, no branches
        i = o + xx
        c = np.float64(field[U(i)])
        g = np.float64(gain[U(i)])
        flux = (wyl * np.float64(field[U(oyl + xx)]) + wyh * np.float64(field[U(oyh + xx)])
                + np.float64(field[U(i - 1)]) + np.float64(field[U(i + 1)]) - (wsum + 2.0) * c + gv)
        if nz > 1:
            flux += wzl * np.float64(field[U(ozl + xx)]) + wzh * np.float64(field[U(ozh + xx)])
        bbuf[U(xx)] = c + dt * g + coef * gv
        rbuf[U(xx)] = dt * g - dt * (lam + np.float64(loss[U(i)])) * c + coef * flux
    for xx in (0, nx - 1):  # the row's ends: their x faces may be missing
        rbuf[U(xx)], bbuf[U(xx)] = _end(field, gain, loss, dt, lam, value, coef, dirichlet, nx, o, xx, wyl, wyh,
                                        wzl, wzh, oyl, oyh, ozl, ozh, wsum, gv)
    for j in range((nx + BLOCK - 1) // BLOCK):
        acc = 0.0
        for xx in range(j * BLOCK, min(j * BLOCK + BLOCK, nx)):
            acc += rbuf[U(xx)]
        blk[U(j)] += acc
    return _row_sumsq(bbuf, 0, nx, 1), _row_sumsq(rbuf, 0, nx, 1)


@njit(parallel=True, cache=True)
def warm_check(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, part):
    """(‖b‖₂, ‖r‖₂, ‖r_s‖₂) of the coupled system at x = field (float32 arrays; A and b as
    ``fields._coupled_prepare`` assembles them: with x = field the right-hand side's own
    field term cancels, r_i = dt (q_i − (λ + k_i) c_i) + coef Σ_faces (c_nb − c_i), a
    Dirichlet ghost counting as c_nb = value); r_s: r's means over blocks of BLOCK voxels per
    axis (the last block of an axis may be shorter).  ``part``: (groups, 3) scratch, groups =
    ⌈nz/B⌉·⌈ny/B⌉."""
    gy = (ny + BLOCK - 1) // BLOCK
    gz = (nz + BLOCK - 1) // BLOCK
    mx = (nx + BLOCK - 1) // BLOCK
    for grp in prange(gz * gy):
        qz = grp // gy
        qy = grp - qz * gy
        z0, z1 = qz * BLOCK, min(qz * BLOCK + BLOCK, nz)
        y0, y1 = qy * BLOCK, min(qy * BLOCK + BLOCK, ny)
        blk = np.zeros(mx)
        rbuf = np.empty(nx)  # one row's r and b
        bbuf = np.empty(nx)
        bb = 0.0
        rr = 0.0
        for z in range(z0, z1):
            for y in range(y0, y1):
                b2, r2 = _line(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, z, y, blk, rbuf, bbuf)
                bb += b2
                rr += r2
        lines = (z1 - z0) * (y1 - y0)
        ss = 0.0
        for j in range(mx):
            ss += blk[j] * blk[j] / (lines * (min(j * BLOCK + BLOCK, nx) - j * BLOCK))
        part[grp, 0] = bb
        part[grp, 1] = rr
        part[grp, 2] = ss
    bb = 0.0
    rr = 0.0
    ss = 0.0
    for grp in range(gz * gy):
        bb += part[grp, 0]
        rr += part[grp, 1]
        ss += part[grp, 2]
    return np.sqrt(bb), np.sqrt(rr), np.sqrt(ss)


def groups(grid: tuple[int, int, int]) -> int:
    """Rows of ``warm_check``'s ``part`` scratch for a grid."""
    nz, ny, _ = grid
    return ((nz + BLOCK - 1) // BLOCK) * ((ny + BLOCK - 1) // BLOCK)
