"""Row kernels of the geometric multigrid (:mod:`tmesim.engine.multigrid`).

The per-row (per-plane in 3D) work of one level: the Gauss–Seidel half-sweep of a row, the
residual of a row with its restriction along x, the prolongation of a row, fixed-order row
sums, the restriction along y/z, and the fused passes that run a smoothing step's stages as a
wavefront over rows (two bands of rows on two threads, with a serial seam). The algorithm,
the stencil and why the passes are fused are documented in :mod:`tmesim.engine.multigrid`,
which calls these per level; they are kept here so that the solver module holds the cycle.

Hand-written: stencil kernels in numba with fixed summation orders, so that results are the
same bit for bit whatever the thread count (no library offers that for this system).
"""

from __future__ import annotations

from numba import njit, prange

from .multigrid_levels import U


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


@njit(inline="always", cache=True)
def _smooth_unit(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, color):
    """One half-sweep of colour ``color`` on unit w of a fused pass: row w in 2D, plane w in 3D."""
    if nz == 1:
        _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, 0, w, color)
    else:
        for y in range(ny):
            _smooth_row(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, y, color)


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
        _smooth_unit(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, first ^ (k & 1))
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
            _smooth_unit(x, b, invd, lz, hz, ly, hy, lx, hx, nz, ny, nx, w, first ^ (k & 1))
        if res == 1:
            s = pro + halves
            w = u - s
            if (0 <= w < m - s) if side == 0 else (m + s <= w < units):
                for line in range(w * rows, (w + 1) * rows):
                    _residual_row(x, b, d, sz, sy, sx, lz, hz, ly, hy, lx, hx, r, part, t, rwx,
                                  nz, ny, nx, mxr, rcolor, line)


@njit(parallel=True)  # not cached on its own: see multigrid._solve_entry
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
