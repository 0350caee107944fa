"""Advancing the substrate fields one step, with cell secretion and uptake coupled in.

Each step solves, per substrate, the backward-Euler reaction–diffusion equation

    (1 + dt (λ + k_i)) c_i' - dt D Δ_h c' = c_i + dt q_i

where k_i = r_i + u_i is the cell's secretion-plus-uptake rate at voxel i and
q_i = r_i c*_i + e_i its source. Where dt·k is small everywhere (slow cytokine uptake) the
cell exchange is applied pointwise and followed by one LOD diffusion step (operator split,
error of order dt·k). Where it is not (oxygen: uptake ≈ 10 /min, dt = 6 min) splitting
would let oxygen penetrate tissue sqrt(1 + dt·k) times too far, so the coupled system is
solved with geometric multigrid (V-cycles, warm-started from the previous field), to a
relative residual of 1e-6, or with the model option ``field_solve: fast`` (docs/engines.md)
only when the previous field fails the keep test of :mod:`tmesim.engine.warm_check` in this
step's system (error bound above 3e-3 of ‖b‖, or residual above 4e-3), and then to 1e-3.

On grids small enough that multigrid runs its serial kernels (below ``PARALLEL_MIN`` voxels, e.g.
the 160² shipped sections), two coupled substrates (oxygen and VEGF) are solved side by side,
one per thread, with the default solve: each solve's arithmetic is its own, so the fields are
bitwise those of solving one after the other, for any number of threads.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit, prange

from . import bulk, warm_check
from .compiled import CompiledModel
from .diffusion import diffuse
from .multigrid import MAX_CYCLES, PARALLEL_MIN, _compile, _solve_setup_nb, mg_solve
from .multigrid_levels import MGHierarchy, U

# dt·k below this everywhere → split scheme (local source/sink error of order dt·k ≤ 20 %,
# confined to the voxels of secreting cells); above it → coupled solve.
SPLIT_THRESHOLD = 0.2
MG_TOL = 1e-6  # relative residual of the coupled solve (model field_solve: converged, the default)
# field_solve: fast.  The solve is warm-started from the previous step's field, so after the
# first steps a step's residual comes only from what the cells changed in one step: mostly
# one V-cycle (factor ≈ 0.1) brings it under 1e-3, and none when the cells barely changed.
# ‖x − x*‖₂ ≤ ‖r‖₂ (the operator's eigenvalues are ≥ 1), so the field's RMS error stays below
# 1e-3 of the right-hand side's RMS (≈ 0.04 mmHg for oxygen at 38 mmHg were b the field alone; the
# Dirichlet ghosts' terms in b dominate it on large grids: docs/engines.md gives measured errors).
FAST_TOL = 1e-3
# field_solve: fast re-solves only when the cells' exchange has changed enough since the last
# solve (a cadence that follows how fast the cells change): the previous field is kept while its
# relative residual in this step's system, checked in one read-only pass (_warm_residual), stays
# ≤ FAST_ACCEPT (the residual is what the cells changed since the field was solved, plus the
# field's own drift); once it does not, the field is solved down to FAST_TOL.  A kept field's RMS
# error is bounded by FAST_ACCEPT × the right-hand side's RMS (≈ 0.1 mmHg for oxygen, same caveat).  Measured on
# the frozen tumor slab of tests/test_field_solve.py against the converged solve: 3e-3 moves the
# penetration depth by 0.08 % and the profile by ≤ 0.06 mmHg (1e-3: 0.02 %, 0.001 mmHg); 5e-3
# already by 2 % and 0.7 mmHg, as the slab's slow relaxation is then left unfinished.
FAST_ACCEPT = 3e-3
# ... where the kept field's error bound is the sharper one of tmesim.engine.warm_check (the
# residual split into its 8-voxel block means and the rest), and the field is kept only while its
# whole residual is ≤ FAST_RESIDUAL_CAP: the cells' point changes then accumulate over a few
# steps before a V-cycle (see docs/engines.md for what this costs in accuracy).
FAST_RESIDUAL_CAP = 4e-3
TOLERANCES = {"converged": MG_TOL, "fast": FAST_TOL}
ACCEPT = {"converged": MG_TOL, "fast": FAST_ACCEPT}


def coupled_tolerance(mode: str | None) -> float:
    """The relative residual of the coupled solve for the model's ``field_solve``."""
    return TOLERANCES[mode or "converged"]


def coupled_accept(mode: str | None) -> float:
    """The relative residual up to which the coupled solve keeps the previous field."""
    return ACCEPT[mode or "converged"]


@njit(parallel=True, cache=True)
def _apply_pointwise(c, gain, loss, dt):
    for i in prange(c.shape[0]):
        c[i] = max((c[i] + dt * gain[i]) / (1.0 + dt * loss[i]), 0.0)


def _coupled_prepare_py(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, x, diag, b):
    """x = field, diag = 1 + dt (λ + k), b = x + dt q (+ the Dirichlet ghosts' far-field
    value), in float64: one pass, the same arithmetic as the numpy expressions it replaces
    (the ghost term added to b afterwards), so results are bitwise unchanged."""
    for line in prange(nz * ny):
        z = line // ny
        y = line - z * ny
        o = line * nx
        for xx in range(nx):
            i = U(o + xx)  # unsigned: no negative-index wraparound, the loop vectorises
            xi = np.float64(field[i])
            x[i] = xi
            diag[i] = 1.0 + dt * (lam + np.float64(loss[i]))
            b[i] = xi + dt * np.float64(gain[i])
        if dirichlet:
            fyz = 0
            if y == 0:
                fyz += 1
            if y == ny - 1:
                fyz += 1
            if nz > 1:
                if z == 0:
                    fyz += 1
                if z == nz - 1:
                    fyz += 1
            step = 1 if fyz else max(nx - 1, 1)  # inner rows: only their two ends are on a face
            for xx in range(0, nx, step):
                faces = fyz
                if xx == 0:
                    faces += 1
                if xx == nx - 1:
                    faces += 1
                b[U(o + xx)] += coef * value * faces


def _coupled_finish_py(x, field):
    """field = float32(np.maximum(x, 0)) (numpy's maximum: NaN and −0.0 pass through)."""
    for i in prange(x.shape[0]):
        v = x[U(i)]
        field[U(i)] = np.float32(v if (v >= 0.0 or v != v) else 0.0)


_coupled_prepare = njit(parallel=True, cache=True)(_coupled_prepare_py)
_coupled_finish = njit(parallel=True, cache=True)(_coupled_finish_py)
# serial copies for the pair solve below, whose two threads each run one substrate's solve
_coupled_prepare_s = _compile(_coupled_prepare_py, False)
_coupled_finish_s = _compile(_coupled_finish_py, False)


@njit
def _solve_one(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, x, diag, b, A, tol):
    """One substrate's coupled solve as ``FieldSolver._solve_coupled`` does it with the default
    ``converged`` (mg_solve with check=True), on serial kernels only: the grid is below
    PARALLEL_MIN, so every multigrid level runs its serial copies."""
    _coupled_prepare_s(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, x, diag, b)
    cycles = _solve_setup_nb(x, b, diag, coef, A, tol, MAX_CYCLES, tol)
    _coupled_finish_s(x, field)
    return cycles


@njit(parallel=True, cache=True)  # cached only as an entry called from Python (multigrid._solve_entry)
def _solve_pair_entry(f0, g0, l0, lam0, v0, c0, dir0, x0, d0, b0, A0,
                      f1, g1, l1, lam1, v1, c1, dir1, x1, d1, b1, A1, dt, nz, ny, nx, tol, cycles):
    """Two substrates' coupled solves side by side, one per thread (sequentially on one): each
    is the same arithmetic as alone, so the fields are bitwise those of two single solves."""
    for k in prange(2):
        if k == 0:
            cycles[0] = _solve_one(f0, g0, l0, dt, lam0, v0, c0, dir0, nz, ny, nx, x0, d0, b0, A0, tol)
        else:
            cycles[1] = _solve_one(f1, g1, l1, dt, lam1, v1, c1, dir1, nz, ny, nx, x1, d1, b1, A1, tol)


def keeps_previous(field: np.ndarray, gain: np.ndarray, loss: np.ndarray, dt: float, lam: float, value: float,
                   coef: float, dirichlet: bool, grid: tuple[int, int, int], accept: float, part: np.ndarray,
                   cap: float = FAST_RESIDUAL_CAP) -> bool:
    """The keep test of ``field_solve: fast`` (float32 arrays of one substrate; ``part``: the
    scratch of :func:`tmesim.engine.warm_check.warm_check`): True when the previous field may
    stand for this step's solution, its residual ‖r‖ ≤ accept·‖b‖, or its block-split error
    bound ≤ accept·‖b‖ with ‖r‖ ≤ cap·‖b‖ (the engine's FAST_RESIDUAL_CAP; benchmarks vary it)."""
    nz, ny, nx = grid
    bn, rn, sn = warm_check.warm_check(field, gain, loss, dt, lam, value, coef, dirichlet, nz, ny, nx, part)
    bound = accept * bn
    return bool(rn <= bound or (rn <= cap * bn and warm_check.error_bound(rn, sn, coef) <= bound))


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as half-open runs of consecutive values: [2, 3, 4, 7] → [(2, 5), (7, 8)]."""
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


class FieldSolver:
    """Holds the per-step exchange arrays and advances all substrates."""

    def __init__(self, cm: CompiledModel) -> None:
        self.cm = cm
        nz, ny, nx = cm.grid
        n = nz * ny * nx
        self.gain = np.zeros((cm.n_sub, n), np.float32)
        self.loss = np.zeros((cm.n_sub, n), np.float32)
        self.coupled = np.zeros(cm.n_sub, bool)
        self.last_iterations = np.zeros(cm.n_sub, np.int64)
        self.tolerance = MG_TOL  # of the coupled solve; Simulation sets the model's field_solve
        self.accept = MG_TOL  # the previous field is kept up to this relative residual (≥ tolerance)
        self._work: tuple[np.ndarray, ...] | None = None
        self._part: np.ndarray | None = None  # per-row partial sums of the warm-start check
        self._pair: dict[int, tuple] = {}  # side-by-side solves, per substrate: hierarchy, x, diag, b
        # Wall time and voxel-updates spent on each path (for benchmarks).
        self.stats = {"split_s": 0.0, "split_voxels": 0, "coupled_s": 0.0, "coupled_voxels": 0}

    @staticmethod
    def host_zeros(shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """Host arrays the engine shares with the solver (plain numpy here; page-locked for
        the GPU solver)."""
        return np.zeros(shape, dtype)

    def begin_step(self) -> None:
        bulk.zero(self.gain)
        bulk.zero(self.loss)

    def advance(self, fields: np.ndarray) -> None:
        cm = self.cm
        S = cm.n_sub
        flat = fields.reshape(S, -1)
        dt = cm.dt
        split = []
        nvox = flat.shape[1]
        for s in range(S):
            kmax = float(self.loss[s].max()) if self.loss.shape[1] else 0.0
            self.coupled[s] = kmax * dt > SPLIT_THRESHOLD
        coupled = [int(s) for s in np.flatnonzero(self.coupled)]
        while coupled:
            t0 = time.perf_counter()
            if len(coupled) >= 2 and self._pairs_side_by_side(fields):
                self._solve_pair(coupled[0], coupled[1], fields)
                done = coupled[:2]
            else:
                self._solve_coupled(coupled[0], fields)
                done = coupled[:1]
            self.stats["coupled_s"] += time.perf_counter() - t0
            self.stats["coupled_voxels"] += nvox * len(done)
            coupled = coupled[len(done):]
        for s in range(S):
            if not self.coupled[s]:
                _apply_pointwise(flat[s], self.gain[s], self.loss[s], dt)
                split.append(s)
        if split:
            t0 = time.perf_counter()
            self._advance_split(fields, split)
            self.stats["split_s"] += time.perf_counter() - t0
            self.stats["split_voxels"] += nvox * len(split)

    def _pairs_side_by_side(self, fields: np.ndarray) -> bool:
        """Two coupled substrates are solved side by side (``_solve_pair_entry``) with the default
        ``converged`` solve on a grid small enough that every multigrid level runs serial kernels
        (below PARALLEL_MIN voxels): there two threads gain nothing inside one solve, but each can
        take a substrate. Large grids thread inside the solve instead."""
        nz, ny, nx = self.cm.grid
        return self.accept <= self.tolerance and nz * ny * nx < PARALLEL_MIN and fields.flags.c_contiguous

    def _solve_pair(self, s0: int, s1: int, fields: np.ndarray) -> None:
        cm = self.cm
        nz, ny, nx = cm.grid
        n = nz * ny * nx
        args = []
        for s in (s0, s1):
            dirichlet = bool(cm.dirichlet[s])
            if s not in self._pair:
                self._pair[s] = (MGHierarchy((nz, ny, nx), dirichlet), *(np.empty(n) for _ in range(3)))
            h, x, diag, b = self._pair[s]
            args += [fields[s].reshape(-1), self.gain[s], self.loss[s], float(cm.decay[s]),
                     float(cm.boundary_value[s]), self._coef(s), dirichlet, x, diag, b, h.arrays]
        cycles = np.zeros(2, np.int64)
        _solve_pair_entry(*args, cm.dt, nz, ny, nx, self.tolerance, cycles)
        self.last_iterations[s0], self.last_iterations[s1] = cycles

    def _coef(self, s: int) -> float:
        """dt·D/dx² of substrate s: the coupled system's off-diagonal weight."""
        cm = self.cm
        return cm.dt * float(cm.diffusion[s]) / cm.dx**2

    def _advance_split(self, fields: np.ndarray, split: list[int]) -> None:
        # Each run of consecutive split substrates is diffused in place on its own view of the
        # fields (a run of whole rows stays C-contiguous). Gathering them into a copy instead cost
        # two full copies per step and a transient as large as the fields (190 MB for a 10^6-cell
        # tnbc section, benchmarks/scale.py); every substrate's arithmetic is the same either way.
        cm, dt = self.cm, self.cm.dt
        for a, b in _runs(split):
            sl = slice(a, b)
            diffuse(fields[sl], cm.diffusion[sl], cm.decay[sl], cm.dirichlet[sl], cm.boundary_value[sl], dt, cm.dx)

    def _solve_coupled(self, s: int, fields: np.ndarray) -> None:
        cm = self.cm
        nz, ny, nx = cm.grid
        dt, lam = cm.dt, float(cm.decay[s])
        coef = self._coef(s)
        dirichlet = bool(cm.dirichlet[s])
        if self._work is None:  # float64 work arrays, allocated once
            self._work = tuple(np.empty(nz * ny * nx) for _ in range(3))
        x, b, diag = self._work
        field = fields[s].reshape(-1)  # a view of a C-contiguous field array
        if not fields.flags.c_contiguous:
            field = field.copy()
        value = float(cm.boundary_value[s])
        if self.accept > self.tolerance:  # field_solve: fast
            if self._part is None:
                self._part = np.empty((warm_check.groups((nz, ny, nx)), 3))
            if keeps_previous(field, self.gain[s], self.loss[s], dt, lam, value, coef, dirichlet, (nz, ny, nx),
                              self.accept, self._part):
                self.last_iterations[s] = 0
                return
            check = False  # x = field misses accept ≥ tolerance: solve without a first residual
        else:
            check = True
        # warm start: x = the previous field (quasi-steady)
        _coupled_prepare(field, self.gain[s], self.loss[s], dt, lam, value, coef, dirichlet, nz, ny, nx,
                         x, diag, b)
        self.last_iterations[s] = mg_solve(x, b, diag, coef, (nz, ny, nx), dirichlet, tol=self.tolerance,
                                           check=check)
        _coupled_finish(x, field)
        if not fields.flags.c_contiguous:
            fields[s] = field.reshape(nz, ny, nx)
