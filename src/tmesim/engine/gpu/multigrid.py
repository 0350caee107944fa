"""The multigrid V-cycle of :mod:`tmesim.engine.multigrid` on the device.

Same hierarchy (built on the host by ``MGHierarchy``, its float storage copied to the device
once), same V(2,2) cycle, same stopping test: each numba kernel has a device twin in
:mod:`tmesim.engine.gpu.source` with the arithmetic in the same order, and the norms are the
same per-row partial sums added in row order (on the host), so the device takes the same number of cycles
and returns the same numbers as ``mg_solve``. Smoothing and residuals run one thread per cell
of a colour; the coarsest solve (≤ 64 unknowns) runs on one thread.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .. import multigrid_levels as M
from .device import Device

__all__ = ["DeviceMultigrid"]

_I = np.int64
_D = np.float64


@njit(cache=True)
def _row_order_sum(part, n):  # pragma: no cover - compiled
    """Σ part[:n] in index order: the CPU solver's order, hence its stopping decisions."""
    acc = 0.0
    for i in range(n):
        acc += part[i]
    return acc


class DeviceMultigrid:
    """Solver of ``(diag(d) − coef Δ_h) x = b`` for one ``(grid, dirichlet)`` on a device."""

    def __init__(self, dev: Device, grid: tuple[int, int, int], dirichlet: bool) -> None:
        self.dev = dev
        h = M.MGHierarchy(tuple(int(v) for v in grid), bool(dirichlet))  # type: ignore[arg-type]
        shp, crs, loff, goff, foff, F = h.arrays
        self.grid = h.grid
        self.n = h.n
        self.nlev = int(shp.shape[0])
        self.shp = [tuple(int(v) for v in row) for row in shp]
        self.crs = [tuple(int(v) for v in row) for row in crs]
        self.F = dev.upload(F)
        self._foff = foff
        self._goff = goff
        self._loff = loff
        self.part = self._region(M._PART)
        self.chol = self._region(M._CHOL)
        self.cvec = self._region(M._CVEC)
        self.t1 = self._region(M._T1)
        self.t2 = self._region(M._T2)
        self._part_host = np.zeros(self.part.shape[0])
        self.stencils = [self._stencil(lev) for lev in range(self.nlev)]
        n0 = int(loff[1])
        self.levels: list[tuple[Any, ...]] = []
        for lev in range(self.nlev):
            a, e = int(loff[lev]), int(loff[lev + 1])
            ib, rb = int(foff[M._IB]), int(foff[M._RB])
            il, rl = self.F[ib + a:ib + e], self.F[rb + a:rb + e]
            if lev == 0:
                self.levels.append((None, None, None, il, rl))
            else:
                xb, bb, db = (int(foff[k]) - n0 for k in (M._XB, M._BB, M._DB))
                self.levels.append((self.F[xb + a:xb + e], self.F[bb + a:bb + e],
                                    self.F[db + a:db + e], il, rl))
        self.glo, self.ghi, self.gsd = (self._region(k) for k in (M._GLO, M._GHI, M._GSD))
        self.lo, self.hi, self.sd = (self._region(k) for k in (M._LO, M._HI, M._SD))

    # ---------------------------------------------------------------- layout
    def _region(self, k: int) -> Any:
        return self.F[int(self._foff[k]):int(self._foff[k + 1])]

    def _axes(self, k: int, w: int, lev: int) -> tuple[Any, Any, Any]:
        out = []
        for ax in range(3):
            a = int(self._foff[k]) + w * int(self._goff[lev, ax])
            out.append(self.F[a:a + w * self.shp[lev][ax]])
        return out[0], out[1], out[2]

    def _stencil(self, lev: int) -> tuple[Any, ...]:
        lz, ly, lx = self._axes(M._LO, 1, lev)
        hz, hy, hx = self._axes(M._HI, 1, lev)
        sz, sy, sx = self._axes(M._SD, 1, lev)
        return lz, hz, ly, hy, lx, hx, sz, sy, sx

    def _level(self, lev: int, x: Any, b: Any, d: Any) -> tuple[Any, ...]:
        xl, bl, dl, il, rl = self.levels[lev]
        if lev == 0:
            return x, b, d, il, rl
        return xl, bl, dl, il, rl

    # ---------------------------------------------------------------- kernels
    def setup(self, d: Any, coef: float) -> None:
        dev = self.dev
        for dst, src in ((self.lo, self.glo), (self.hi, self.ghi), (self.sd, self.gsd)):
            dev.launch("mg_scale", dst.shape[0], dst, src, _D(coef))
        for lev in range(self.nlev):
            nz, ny, nx = self.shp[lev]
            xl, bl, dl, il, rl = self._level(lev, d, d, d)
            if lev > 0:
                df = self._level(lev - 1, d, d, d)[2]
                cwz, cwy, cwx = self._axes(M._CW, 3, lev)
                fz, fy, fx = self.shp[lev - 1]
                dev.launch("mg_restrict_d", nz * ny * nx, df, dl, cwz, cwy, cwx, _I(nz), _I(ny),
                           _I(nx), _I(fz), _I(fy), _I(fx))
            lz, hz, ly, hy, lx, hx, sz, sy, sx = self.stencils[lev]
            dev.launch("mg_invdiag", nz * ny * nx, dl, il, sz, sy, sx, _I(ny), _I(nx))
        lev = self.nlev - 1
        nz, ny, nx = self.shp[lev]
        il = self.levels[lev][3]
        lz, hz, ly, hy, lx, hx, sz, sy, sx = self.stencils[lev]
        wz, wy, wx = self._axes(M._WID, 1, lev)
        dev.launch("mg_cholesky", 1, self.chol, il, lz, hz, ly, hy, lx, hx, wz, wy, wx, _I(nz),
                   _I(ny), _I(nx))

    def _smooth(self, lev: int, xl: Any, bl: Any, il: Any, first: int) -> None:
        nz, ny, nx = self.shp[lev]
        lz, hz, ly, hy, lx, hx = self.stencils[lev][:6]
        nthreads = nz * ny * ((nx + 1) // 2)
        for sweep in range(4):
            color = first ^ (sweep & 1)
            self.dev.launch("mg_smooth", nthreads, xl, bl, il, lz, hz, ly, hy, lx, hx, _I(nz),
                            _I(ny), _I(nx), _I(color))

    def _residual(self, lev: int, xl: Any, bl: Any, dl: Any, rl: Any, color: int) -> None:
        nz, ny, nx = self.shp[lev]
        lz, hz, ly, hy, lx, hx, sz, sy, sx = self.stencils[lev]
        nthreads = nz * ny * (nx if color < 0 else (nx + 1) // 2)
        self.dev.launch("mg_residual", nthreads, xl, bl, dl, sz, sy, sx, lz, hz, ly, hy, lx, hx,
                        rl, _I(nz), _I(ny), _I(nx), _I(color))

    def _total(self, nrows: int) -> float:
        # The per-row partial sums are added on the host: one thread on the device takes
        # milliseconds for a 200³ grid's 40,000 rows (a dependent chain of memory loads),
        # the copy and the host loop take tens of microseconds.
        host = self._part_host[:nrows]
        self.dev.download(self.part[:nrows], host)
        return float(_row_order_sum(host, nrows))

    def _residual_norm(self, x: Any, b: Any, d: Any, color: int) -> float:
        nz, ny, nx = self.shp[0]
        rl = self.levels[0][4]
        self._residual(0, x, b, d, rl, color)
        self.dev.launch("mg_rowsumsq", nz * ny, rl, self.part, _I(ny), _I(nx), _I(color))
        return math.sqrt(self._total(nz * ny))

    def _dot(self, a: Any, c: Any) -> float:
        nz, ny, nx = self.shp[0]
        self.dev.launch("mg_rowdot", nz * ny, a, c, self.part, _I(nx))
        return self._total(nz * ny)

    def _restrict(self, lev: int, x: Any, b: Any, d: Any) -> None:
        dev = self.dev
        nz, ny, nx = self.shp[lev]
        mz, my, mx = self.shp[lev + 1]
        cz, cy, cx = self.crs[lev]
        xl, bl, dl, il, rl = self._level(lev, x, b, d)
        bc = self.levels[lev + 1][1]
        rwz, rwy, rwx = self._axes(M._RW, 4, lev + 1)
        if cx:  # colour-0 residual, then the restriction along x
            self._residual(lev, xl, bl, dl, rl, 0)
            dst = bc if (cy == 0 and cz == 0) else self.t1
            dev.launch("mg_restrict_x", nz * ny * mx, rl, dst, rwx, _I(ny), _I(nx), _I(mx), _I(0))
            src = dst
        else:
            self._residual(lev, xl, bl, dl, rl, -1)
            src = rl
        if cy:
            dst = bc if cz == 0 else self.t2
            dev.launch("mg_restrict_mid", nz * my * mx, src, dst, rwy, _I(ny), _I(my), _I(mx))
            src = dst
        if cz:
            dev.launch("mg_restrict_mid", mz * my * mx, src, bc, rwz, _I(nz), _I(mz),
                       _I(my * mx))

    def _prolong(self, lev: int, x: Any, b: Any, d: Any) -> None:
        nz, ny, nx = self.shp[lev]
        mz, my, mx = self.shp[lev + 1]
        xl = self._level(lev, x, b, d)[0]
        xc = self.levels[lev + 1][0]
        pwz, pwy, pwx = self._axes(M._PW, 2, lev)
        self.dev.launch("mg_prolong", nz * ny * nx, xl, xc, pwz, pwy, pwx, _I(nz), _I(ny), _I(nx),
                        _I(mz), _I(my), _I(mx))

    def vcycle(self, x: Any, b: Any, d: Any) -> None:
        """One V(2,2)-cycle on x in place (after ``setup``)."""
        dev = self.dev
        for lev in range(self.nlev - 1):
            xl, bl, dl, il, rl = self._level(lev, x, b, d)
            if lev > 0:
                dev.launch("mg_fill", xl.shape[0], xl, _D(0.0))
            self._smooth(lev, xl, bl, il, 0)
            self._restrict(lev, x, b, d)
        lev = self.nlev - 1
        nz, ny, nx = self.shp[lev]
        xl, bl = self._level(lev, x, b, d)[:2]
        wz, wy, wx = self._axes(M._WID, 1, lev)
        dev.launch("mg_coarse_solve", 1, xl, bl, self.chol, self.cvec, wz, wy, wx, _I(nz), _I(ny),
                   _I(nx))
        for lev in range(self.nlev - 2, -1, -1):
            self._prolong(lev, x, b, d)
            xl, bl, dl, il, rl = self._level(lev, x, b, d)
            self._smooth(lev, xl, bl, il, 1)

    def solve(self, x: Any, b: Any, d: Any, coef: float, tol: float = 1e-6,
              max_cycles: int = 30, accept: float | None = None) -> int:
        """``mg_solve`` on device arrays (float64, length n): x in place; returns the cycles."""
        accept = tol if accept is None else max(accept, tol)
        self.setup(d, coef)
        bn = math.sqrt(self._dot(b, b))
        if bn == 0.0:
            self.dev.launch("mg_fill", self.n, x, _D(0.0))
            return 0
        if self._residual_norm(x, b, d, -1) <= accept * bn:
            return 0
        for it in range(1, max_cycles + 1):
            self.vcycle(x, b, d)
            if self._residual_norm(x, b, d, 1) <= tol * bn:
                return it
        return max_cycles
