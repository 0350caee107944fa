"""The multigrid hierarchy of :mod:`tmesim.engine.multigrid`: level geometry, array layout
and the per-call setup of the coarse levels.

``MGHierarchy(grid, dirichlet)`` builds, once per grid and boundary kind, the cells of every
level (coarsening, odd axes, coarse operators, transfer weights: the method is documented in
:mod:`tmesim.engine.multigrid`) and preallocates all level buffers in one float array;
``mg_hierarchy`` caches it.  ``setup(d, coef)`` (``_setup_nb``) then scales the couplings by
``coef``, restricts ``d``, forms the inverse diagonals and factors the coarsest level.  The
jitted accessors ``_region``, ``_axes``, ``_level`` and ``_stencil`` are the only code that
knows the layout; the V-cycle kernels read the hierarchy through them.

Long module: the layout constants, their accessors, the setup kernels that fill the layout
and the construction that allocates it describe one array structure; apart, each would have
to restate it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["MGHierarchy", "mg_hierarchy", "pw_dense", "COARSEST", "COARSE_SCALE"]

COARSEST = 4  # stop coarsening once no axis has more cells than this
COARSE_SCALE = 0.8  # factor on the rediscretised coarse-level Laplacian (see module doc)
U = np.uint64  # unsigned indices: numba then skips negative-index wraparound (≈3x faster)
# Integer constants passed to jitted functions are typed as literals, and every distinct
# literal value triggers a separate compilation; _I(...) (np.int64) makes them plain int64.
_I = np.int64

# Hierarchy arrays A = (shp, crs, loff, goff, foff, F):
#   shp[l] = (nz, ny, nx) of level l;  crs[l, axis] = 1 if that axis is halved l → l+1;
#   loff = level offsets of cell arrays;  goff[l, axis] = offsets of per-axis arrays;
#   F = all float storage, region k at F[foff[k]:foff[k+1]].
# Per-axis regions (axis order z, y, x; w entries per cell at w·goff[l, axis]):
#   LO, HI (w=1)  coupling of cell j to its lower / upper neighbour (0 where there is none)
#   SD (w=1)      the axis' contribution to the diagonal (incl. Dirichlet ghost couplings)
#   WID (w=1)     cell width in fine-cell units;  GLO, GHI, GSD: LO, HI, SD for coef = 1
#   PW (w=2)      prolongation weights of fine cell i from coarse cells (i−1)>>1 and
#                 ((i−1)>>1)+1 (0 where that coarse cell does not exist)
#   RW (w=4)      restriction weights of coarse cell J from fine cells 2J−1 … 2J+2
#   CW (w=3)      volume fractions of the children 2J, 2J+1 (, 2J+2) of coarse cell J
# Cell regions: XB, BB, DB (levels ≥ 1: correction, right-hand side, d), IB (1/diagonal),
# RB (residual); T1, T2 (restriction temporaries), PART (per-row partial sums),
# CHOL (coarsest Cholesky factor, row-major), CVEC.
_LO, _HI, _SD, _WID, _GLO, _GHI, _GSD, _PW, _RW, _CW = range(10)
_XB, _BB, _DB, _IB, _RB, _T1, _T2, _PART, _CHOL, _CVEC = range(10, 20)
_NREG = 20


# ---------------------------------------------------------------------------------------
# layout access
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _region(A, k):
    foff = A[4]
    return A[5][foff[k]:foff[k + 1]]


@njit(cache=True)
def _axes(A, k, w, lev):
    """The z, y, x segments of per-axis region k (w entries per cell) on level lev."""
    shp, goff, foff, F = A[0], A[3], A[4], A[5]
    a0 = foff[k] + w * goff[lev, 0]
    a1 = foff[k] + w * goff[lev, 1]
    a2 = foff[k] + w * goff[lev, 2]
    return (F[a0:a0 + w * shp[lev, 0]], F[a1:a1 + w * shp[lev, 1]],
            F[a2:a2 + w * shp[lev, 2]])


@njit(cache=True)
def _level(A, lev, x, b, d):
    """(x_l, b_l, d_l, invd_l, r_l) of level lev (level 0: the caller's x, b, d)."""
    loff, foff, F = A[2], A[4], A[5]
    n0 = loff[1]
    a = loff[lev]
    e = loff[lev + 1]
    ib = foff[_IB]
    rb = foff[_RB]
    if lev == 0:
        return x[0:n0], b[0:n0], d[0:n0], F[ib + a:ib + e], F[rb + a:rb + e]
    xb = foff[_XB] - n0
    bb = foff[_BB] - n0
    db = foff[_DB] - n0
    return (F[xb + a:xb + e], F[bb + a:bb + e], F[db + a:db + e], F[ib + a:ib + e],
            F[rb + a:rb + e])


@njit(cache=True)
def _stencil(A, lev):
    """(lz, hz, ly, hy, lx, hx, sz, sy, sx) of a level."""
    one = _I(1)
    lz, ly, lx = _axes(A, _I(_LO), one, lev)
    hz, hy, hx = _axes(A, _I(_HI), one, lev)
    sz, sy, sx = _axes(A, _I(_SD), one, lev)
    return lz, hz, ly, hy, lx, hx, sz, sy, sx


@njit(cache=True)
def _restrict_d(d, dc, cwz, cwy, cwx, mz, my, mx, nz, ny, nx):
    """Volume average of d over the children (2J, 2J+1 and, for the last cell of an odd
    axis, 2J+2) of each coarse cell."""
    for line in range(mz * my):
        zc = line // my
        yc = line - zc * my
        for xc in range(mx):
            acc = 0.0
            for a in range(3):
                wz = cwz[3 * zc + a]
                if wz == 0.0:
                    continue
                for bb in range(3):
                    wy = cwy[3 * yc + bb]
                    if wy == 0.0:
                        continue
                    row = ((2 * zc + a) * ny + 2 * yc + bb) * nx + 2 * xc
                    acc += wz * wy * (cwx[U(3 * xc)] * d[U(row)]
                                      + cwx[U(3 * xc + 1)] * d[U(row + 1 if 2 * xc + 1 < nx else row)]
                                      + cwx[U(3 * xc + 2)] * d[U(row + 2 if 2 * xc + 2 < nx else row)])
            dc[U(line * mx + xc)] = acc


@njit(cache=True)
def _invdiag(d, invd, sz, sy, sx, nz, ny, nx):
    for line in range(nz * ny):
        z = line // ny
        y = line - z * ny
        syz = sy[y] + sz[z]
        o = line * nx
        for xx in range(nx):
            invd[U(o + xx)] = 1.0 / (d[U(o + xx)] + syz + sx[U(xx)])


@njit(cache=True)
def _fill(a, v):
    """a[:] = v (a loop: numba's slice assignment compiles its error-message formatting,
    which costs seconds of compile time)."""
    for i in range(a.shape[0]):
        a[U(i)] = v


# ---------------------------------------------------------------------------------------
# per-call setup: scaled couplings, restricted d, inverse diagonals, coarsest factor
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _setup_nb(d, coef, A):
    _setup_coef_nb(coef, A)
    _setup_d_nb(d, A)


@njit(cache=True)
def _setup_coef_nb(coef, A):
    """Couplings scaled by coef on every level (all a residual needs besides d)."""
    lo, hi, sd = _region(A, _I(_LO)), _region(A, _I(_HI)), _region(A, _I(_SD))
    glo, ghi, gsd = _region(A, _I(_GLO)), _region(A, _I(_GHI)), _region(A, _I(_GSD))
    for i in range(lo.shape[0]):
        lo[i] = coef * glo[i]
        hi[i] = coef * ghi[i]
        sd[i] = coef * gsd[i]


@njit(cache=True)
def _setup_d_nb(d, A):
    """Restricted d, inverse diagonals and the coarsest factor (after ``_setup_coef_nb``)."""
    shp = A[0]
    nlev = shp.shape[0]
    for lev in range(nlev):
        nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
        xl, bl, dl, il, rl = _level(A, lev, d, d, d)
        if lev > 0:
            xf, bf, df, jf, rf = _level(A, lev - 1, d, d, d)
            cwz, cwy, cwx = _axes(A, _I(_CW), _I(3), lev)
            _restrict_d(df, dl, cwz, cwy, cwx, nz, ny, nx, shp[lev - 1, 0], shp[lev - 1, 1],
                        shp[lev - 1, 2])
        lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
        _invdiag(dl, il, sz, sy, sx, nz, ny, nx)
    # coarsest level: S = V A is symmetric positive definite; Cholesky in place (lower)
    lev = nlev - 1
    nz, ny, nx = shp[lev, 0], shp[lev, 1], shp[lev, 2]
    xl, bl, dl, il, rl = _level(A, lev, d, d, d)
    lz, hz, ly, hy, lx, hx, sz, sy, sx = _stencil(A, lev)
    wz, wy, wx = _axes(A, _I(_WID), _I(1), lev)
    c = _region(A, _I(_CHOL))
    n = nz * ny * nx
    _fill(c, 0.0)
    for z in range(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                v = wz[z] * wy[y] * wx[xx]
                c[i * n + i] = v / il[i]
                if xx > 0:
                    c[i * n + i - 1] = -v * lx[xx]
                if xx < nx - 1:
                    c[i * n + i + 1] = -v * hx[xx]
                if y > 0:
                    c[i * n + i - nx] = -v * ly[y]
                if y < ny - 1:
                    c[i * n + i + nx] = -v * hy[y]
                if z > 0:
                    c[i * n + i - nx * ny] = -v * lz[z]
                if z < nz - 1:
                    c[i * n + i + nx * ny] = -v * hz[z]
    for j in range(n):
        acc = c[j * n + j]
        for k in range(j):
            acc -= c[j * n + k] * c[j * n + k]
        ljj = np.sqrt(acc)
        c[j * n + j] = ljj
        for i in range(j + 1, n):
            acc = c[i * n + j]
            for k in range(j):
                acc -= c[i * n + k] * c[j * n + k]
            c[i * n + j] = acc / ljj
    for j in range(n):
        for i in range(j):
            c[i * n + j] = 0.0

# ---------------------------------------------------------------------------------------
# hierarchy construction (geometry only, cached per (grid, dirichlet))
# ---------------------------------------------------------------------------------------


class _Axis:
    """Cells of one axis on one level, in fine-cell units (fine cell i spans i ± ½): edges
    and the node where the cell's value lives (the centre, except for three-cell merges)."""

    def __init__(self, left: np.ndarray, right: np.ndarray, node: np.ndarray, present: bool):
        self.left = left
        self.right = right
        self.node = node
        self.present = present  # False only for z of a 2D grid: no coupling at all

    @classmethod
    def fine(cls, n: int, present: bool) -> _Axis:
        i = np.arange(n, dtype=np.float64)
        return cls(i - 0.5, i + 0.5, i, present)

    @property
    def n(self) -> int:
        return self.left.shape[0]

    @property
    def width(self) -> np.ndarray:
        return self.right - self.left

    def coarsen(self) -> _Axis:
        """Merge cell pairs (2J, 2J+1), node at the pair's centre.  On an odd axis the last
        coarse cell takes three cells, node at its middle child's node (a lone narrow last
        cell would stay narrow on every level and, next to a no-flux face, slows the
        convergence down to ≈ 0.5 per cycle; the middle-child node keeps every fine node
        between the nodes of its two interpolation parents)."""
        n = self.n
        if n == 1:
            return self
        j = np.arange(n // 2)
        left = self.left[2 * j]
        right = self.right[2 * j + 1]
        node = 0.5 * (left + right)
        if n % 2:
            right[-1] = self.right[-1]
            node[-1] = self.node[-2]
        return _Axis(left, right, node, self.present)

    def couplings(self, dirichlet: bool, lower: float, upper: float):
        """Per-unit-coef neighbour couplings lo, hi and diagonal contribution s
        (finite volumes: flux = (u_J − u_K) / node distance, divided by the cell width)."""
        n = self.n
        lo, hi, s = np.zeros(n), np.zeros(n), np.zeros(n)
        if not self.present:
            return lo, hi, s
        c, w = self.node, self.width
        if n > 1:
            dist = np.diff(c)
            lo[1:] = 1.0 / (w[1:] * dist)
            hi[:-1] = 1.0 / (w[:-1] * dist)
        s[:] = lo + hi
        if dirichlet:  # ghost value 0 at the fine ghost centre
            s[0] += 1.0 / (w[0] * (c[0] - lower))
            s[-1] += 1.0 / (w[-1] * (upper - c[-1]))
        return lo, hi, s


def _transfer(fine: _Axis, coarse: _Axis, dirichlet: bool, lower: float, upper: float):
    """Positional prolongation (PW), restriction (RW, R = V_H⁻¹ Pᵀ V_h) and children (CW)."""
    nf, nc = fine.n, coarse.n
    cf, cc = fine.node, coarse.node
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
    pw = np.zeros((nf, 2))
    for i in range(nf):
        for k in range(2):
            j = ((i - 1) >> 1) + k
            if 0 <= j < nc:
                pw[i, k] = P[i, j]
                P[i, j] = 0.0
    assert not P.any(), "prolongation outside the expected 2-cell pattern"
    R = (pw_dense(pw, nc) * wf[:, None]).T / wc[:, None]
    rw = np.zeros((nc, 4))
    for j in range(nc):
        for k in range(4):
            i = 2 * j - 1 + k
            if 0 <= i < nf:
                rw[j, k] = R[j, i]
                R[j, i] = 0.0
    assert not R.any(), "restriction outside the expected 4-cell pattern"
    cw = np.zeros((nc, 3))
    for j in range(nc):
        for k in range(3):
            i = 2 * j + k
            if i < nf and coarse.left[j] <= cf[i] <= coarse.right[j]:
                cw[j, k] = wf[i] / wc[j]
    return pw, rw, cw


def pw_dense(pw: np.ndarray, nc: int) -> np.ndarray:
    """Dense 1D prolongation matrix from the positional weights (used by tests too)."""
    nf = pw.shape[0]
    P = np.zeros((nf, nc))
    for i in range(nf):
        for k in range(2):
            j = ((i - 1) >> 1) + k
            if 0 <= j < nc:
                P[i, j] += pw[i, k]
    return P


class MGHierarchy:
    """Level geometry and preallocated buffers for one (grid, dirichlet).

    ``arrays`` is the tuple that ``vcycle_nb`` / ``solve_nb`` take; call ``setup(d, coef)``
    before using it with a new ``d`` or ``coef``.
    """

    def __init__(self, grid: tuple[int, int, int], dirichlet: bool):
        nz, ny, nx = (int(v) for v in grid)
        if min(nz, ny, nx) < 1:
            raise ValueError(f"bad grid {grid}")
        self.grid = (nz, ny, nx)
        self.dirichlet = bool(dirichlet)
        self.n = nz * ny * nx
        bounds = [(-1.0, float(m)) for m in (nz, ny, nx)]  # Dirichlet ghost centres
        levels = [[_Axis.fine(m, present)
                   for m, present in zip((nz, ny, nx), (nz > 1, True, True), strict=True)]]
        while max(a.n for a in levels[-1]) > COARSEST:
            levels.append([a.coarsen() for a in levels[-1]])
        nlev = len(levels)
        self.nlev = nlev
        shp = np.array([[a.n for a in lv] for lv in levels], np.int64)
        crs = np.zeros((nlev, 3), np.int64)
        crs[:-1] = shp[:-1] > 1  # axis halved between this level and the next
        sizes = shp.prod(axis=1)
        loff = np.zeros(nlev + 1, np.int64)
        loff[1:] = np.cumsum(sizes)
        goff = np.zeros((nlev, 3), np.int64)
        goff.flat[1:] = np.cumsum(shp.ravel())[:-1]
        tot = int(shp.sum())
        GLO, GHI, GSD, WID = (np.zeros(tot) for _ in range(4))
        PW = np.zeros((tot, 2))
        RW = np.zeros((tot, 4))
        CW = np.zeros((tot, 3))
        for lev in range(nlev):
            scale = 1.0 if lev == 0 else COARSE_SCALE
            for ax in range(3):
                a = levels[lev][ax]
                o, n = goff[lev, ax], a.n
                lo, hi, s = a.couplings(self.dirichlet, *bounds[ax])
                GLO[o:o + n], GHI[o:o + n], GSD[o:o + n] = scale * lo, scale * hi, scale * s
                WID[o:o + n] = a.width
                if lev + 1 < nlev:
                    pw, rw, cw = _transfer(a, levels[lev + 1][ax], self.dirichlet, *bounds[ax])
                    PW[o:o + n] = pw
                    oc, m = goff[lev + 1, ax], shp[lev + 1, ax]
                    RW[oc:oc + m], CW[oc:oc + m] = rw, cw
        n0 = int(sizes[0])
        nrest = max(int(loff[-1]) - n0, 1)
        ncoarse = int(sizes[-1])
        t1 = max([int(shp[lv, 0] * shp[lv, 1] * shp[lv + 1, 2]) for lv in range(nlev - 1)] + [1])
        t2 = max([int(shp[lv, 0] * shp[lv + 1, 1] * shp[lv + 1, 2]) for lv in range(nlev - 1)]
                 + [1])
        sizes_f = {_LO: tot, _HI: tot, _SD: tot, _WID: tot, _GLO: tot, _GHI: tot, _GSD: tot,
                   _PW: 2 * tot, _RW: 4 * tot, _CW: 3 * tot, _XB: nrest, _BB: nrest,
                   _DB: nrest, _IB: int(loff[-1]), _RB: int(loff[-1]), _T1: t1, _T2: t2,
                   _PART: int(nz * ny), _CHOL: ncoarse * ncoarse, _CVEC: ncoarse}
        foff = np.zeros(_NREG + 1, np.int64)
        foff[1:] = np.cumsum([sizes_f[k] for k in range(_NREG)])
        F = np.zeros(int(foff[-1]))
        for k, v in ((_GLO, GLO), (_GHI, GHI), (_GSD, GSD), (_WID, WID), (_PW, PW),
                     (_RW, RW), (_CW, CW)):
            F[foff[k]:foff[k + 1]] = v.ravel()
        self.arrays = (shp, crs, loff, goff, foff, F)
        self._cg: tuple | None = None
        self.coef: float | None = None

    def setup(self, d: np.ndarray, coef: float) -> None:
        """Restrict d, build inverse diagonals and factor the coarsest level."""
        _setup_nb(d, float(coef), self.arrays)
        self.coef = float(coef)

    def cg_work(self) -> tuple:
        if self._cg is None:
            self._cg = tuple(np.zeros(self.n) for _ in range(5))
        return self._cg


_HIERARCHIES: dict[tuple[tuple[int, int, int], bool], MGHierarchy] = {}
_HIERARCHY_LIMIT = 64


def mg_hierarchy(grid: tuple[int, int, int], dirichlet: bool) -> MGHierarchy:
    """The cached hierarchy of (grid, dirichlet), built on first use."""
    key = (tuple(int(v) for v in grid), bool(dirichlet))
    h = _HIERARCHIES.get(key)
    if h is None:
        if len(_HIERARCHIES) >= _HIERARCHY_LIMIT:
            _HIERARCHIES.clear()
        h = _HIERARCHIES[key] = MGHierarchy(key[0], key[1])
    return h


def _check(h: MGHierarchy, *arrays: np.ndarray) -> None:
    for a in arrays:
        if (not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.ndim != 1
                or a.shape[0] != h.n or not a.flags.c_contiguous):
            raise ValueError(f"expected C-contiguous float64 1D arrays of length {h.n}")
