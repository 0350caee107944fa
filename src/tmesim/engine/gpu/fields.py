"""The field step of :class:`tmesim.engine.fields.FieldSolver` on a device.

Agents stay on the CPU: every step the substrate fields and the cells' exchange rates
(``gain``, ``loss``, filled by the agent kernels) go to the device, the step runs there
(pointwise exchange and LOD diffusion for slowly exchanged substrates, the coupled multigrid
solve for oxygen-like ones, chosen by the same test as the CPU solver) and the fields come
back. The solver keeps no field state between steps, so checkpoints, resumes and the agents
see exactly what the CPU solver gives them.
"""

from __future__ import annotations

import time

import numpy as np

from .. import bulk, warm_check
from ..compiled import CompiledModel
from ..fields import MG_TOL, SPLIT_THRESHOLD, keeps_previous
from .device import Device
from .lod import diffuse_device
from .multigrid import DeviceMultigrid

__all__ = ["DeviceFieldSolver"]

_I = np.int64
_D = np.float64


class DeviceFieldSolver:
    """Same interface and results as ``FieldSolver``; the arithmetic runs on ``dev``."""

    def __init__(self, cm: CompiledModel, dev: Device, transpose_x: bool = False) -> None:
        self.cm = cm
        self.dev = dev
        self.transpose_x = transpose_x
        nz, ny, nx = cm.grid
        n = nz * ny * nx
        self.gain = dev.host_zeros((cm.n_sub, n), np.float32)
        self.loss = dev.host_zeros((cm.n_sub, n), np.float32)
        self.coupled = np.zeros(cm.n_sub, bool)
        self.last_iterations = np.zeros(cm.n_sub, np.int64)
        self.tolerance = MG_TOL  # of the coupled solve, as FieldSolver.tolerance
        self.accept = MG_TOL  # the warm start kept as it is up to this residual, as FieldSolver.accept
        self.stats = {"split_s": 0.0, "split_voxels": 0, "coupled_s": 0.0, "coupled_voxels": 0,
                      "transfer_s": 0.0}
        self._f = dev.zeros((cm.n_sub, nz, ny, nx), np.float32)
        self._gain = dev.zeros((cm.n_sub, n), np.float32)
        self._loss = dev.zeros((cm.n_sub, n), np.float32)
        self._mg: dict[bool, DeviceMultigrid] = {}
        self._work: tuple | None = None

    def host_zeros(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """Host arrays the engine shares with the solver: page-locked on a CUDA device."""
        return self.dev.host_zeros(shape, dtype)

    def begin_step(self) -> None:
        bulk.zero(self.gain)
        bulk.zero(self.loss)

    def advance(self, fields: np.ndarray) -> None:
        cm, dev = self.cm, self.dev
        S = cm.n_sub
        dt = cm.dt
        t0 = time.perf_counter()
        dev.copy_in(self._f, fields)
        dev.copy_in(self._gain, self.gain)
        dev.copy_in(self._loss, self.loss)
        self.stats["transfer_s"] += time.perf_counter() - t0
        flat = self._f.reshape(S, -1)
        nvox = flat.shape[1]
        split = []
        for s in range(S):
            kmax = float(self.loss[s].max()) if nvox else 0.0
            self.coupled[s] = kmax * dt > SPLIT_THRESHOLD
            if self.coupled[s]:
                t0 = time.perf_counter()
                self._solve_coupled(s, flat[s], fields[s].reshape(-1))
                dev.synchronize()
                self.stats["coupled_s"] += time.perf_counter() - t0
                self.stats["coupled_voxels"] += nvox
            else:
                dev.launch("exchange_pointwise", nvox, flat[s], self._gain[s], self._loss[s],
                           _D(dt))
                split.append(s)
        if split:
            t0 = time.perf_counter()
            self._advance_split(split)
            dev.synchronize()
            self.stats["split_s"] += time.perf_counter() - t0
            self.stats["split_voxels"] += nvox * len(split)
        t0 = time.perf_counter()
        dev.download(self._f, fields)
        self.stats["transfer_s"] += time.perf_counter() - t0

    def _advance_split(self, split: list[int]) -> None:
        cm, dt = self.cm, self.cm.dt
        idx = np.array(split)
        if len(idx) == cm.n_sub:
            diffuse_device(self.dev, self._f, cm.diffusion, cm.decay, cm.dirichlet,
                           cm.boundary_value, dt, cm.dx, self.transpose_x)
        else:
            xp = self.dev.xp
            sub = xp.ascontiguousarray(self._f[xp.asarray(idx)])
            diffuse_device(self.dev, sub, cm.diffusion[idx], cm.decay[idx], cm.dirichlet[idx],
                           cm.boundary_value[idx], dt, cm.dx, self.transpose_x)
            self._f[xp.asarray(idx)] = sub

    def _solve_coupled(self, s: int, field: object, host_field: np.ndarray) -> None:
        cm, dev = self.cm, self.dev
        nz, ny, nx = cm.grid
        n = nz * ny * nx
        dt, D, lam = cm.dt, float(cm.diffusion[s]), float(cm.decay[s])
        coef = dt * D / cm.dx**2
        dirichlet = bool(cm.dirichlet[s])
        accept = self.accept
        if accept > self.tolerance:  # field_solve: fast: the CPU solver's keep test, on the host arrays
            part = np.empty((warm_check.groups((nz, ny, nx)), 3))
            if keeps_previous(host_field, self.gain[s], self.loss[s], dt, lam, float(cm.boundary_value[s]), coef,
                              dirichlet, (nz, ny, nx), accept, part):
                self.last_iterations[s] = 0
                return
            accept = self.tolerance  # the previous field misses accept ≥ tolerance: solve down to tolerance
        if self._work is None:
            self._work = tuple(dev.zeros(n, np.float64) for _ in range(3))
        x, b, diag = self._work
        dev.launch("coupled_prepare", n, field, self._gain[s], self._loss[s], _D(dt), _D(lam),
                   x, diag, b)
        if dirichlet:
            dev.launch("boundary_rhs", n, b, _D(float(cm.boundary_value[s])), _D(coef), _I(nz),
                       _I(ny), _I(nx))
        mg = self._mg.get(dirichlet)
        if mg is None:
            mg = self._mg[dirichlet] = DeviceMultigrid(dev, (nz, ny, nx), dirichlet)
        self.last_iterations[s] = mg.solve(x, b, diag, coef, tol=self.tolerance, accept=accept)
        dev.launch("coupled_finish", n, x, field)
