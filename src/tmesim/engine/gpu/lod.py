"""LOD diffusion–decay step on the device (the scheme of :mod:`tmesim.engine.diffusion`).

One kernel launch per axis; each thread solves one line with the Thomas algorithm, using the
CPU engine's cached float64 elimination factors, so the results are the CPU engine's.
Lines along y and z are read coalesced (neighbouring threads hold neighbouring x); along x
each thread walks its own row. ``transpose_x=True`` instead transposes x to the middle axis,
sweeps there coalesced and transposes back (two extra copies; which is faster depends on the
grid, see ``benchmarks/gpu.py``); the arithmetic, hence the result, is the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diffusion import _prepare
from .device import Device

__all__ = ["diffuse_device"]

_I = np.int64


def _constants(dev: Device, shape: tuple[int, ...], diffusion: np.ndarray, decay: np.ndarray,
               dirichlet: np.ndarray, boundary_value: np.ndarray, dt: float,
               dx: float) -> tuple[Any, ...]:
    """Per-step constants on the device, cached on the device object per parameter set."""
    cache: dict = dev.__dict__.setdefault("_lod_cache", {})
    key = (shape, dt, dx, diffusion.tobytes(), decay.tobytes(), dirichlet.tobytes(),
           boundary_value.tobytes())
    hit = cache.get(key)
    if hit is None:
        bterm, ones, decay_factor, coeffs = _prepare(shape, diffusion, decay, dirichlet,
                                                     boundary_value, dt, dx)
        hit = (dev.upload(bterm), dev.upload(ones), dev.upload(decay_factor),
               [(dev.upload(inv), dev.upload(w)) for inv, w in coeffs])
        if len(cache) > 256:
            cache.clear()
        cache[key] = hit
    return hit


def diffuse_device(dev: Device, fields: Any, diffusion: np.ndarray, decay: np.ndarray,
                   dirichlet: np.ndarray, boundary_value: np.ndarray, dt: float, dx: float,
                   transpose_x: bool = False) -> None:
    """Advance device ``fields`` (float32, C-contiguous, ``(S, nz, ny, nx)``) one step in place;
    parameters as :func:`tmesim.engine.diffusion.diffuse`."""
    nsub, nz, ny, nx = (int(v) for v in fields.shape)
    if nsub == 0 or fields.size == 0:
        return
    d_coef = np.asarray(diffusion, np.float64).reshape(-1)
    lam = np.asarray(decay, np.float64).reshape(-1)
    is_dir = np.asarray(dirichlet, np.bool_).reshape(-1)
    bval = np.asarray(boundary_value, np.float64).reshape(-1)
    bterm, ones, decay_factor, coeffs = _constants(dev, tuple(fields.shape), d_coef, lam,
                                                   is_dir, bval, float(dt), float(dx))
    three_d = nz > 1
    inv, w = coeffs[0]
    if transpose_x:
        xp = dev.xp
        planes = fields.reshape(nsub * nz, ny, nx)
        t = xp.ascontiguousarray(planes.transpose(0, 2, 1))
        dev.launch("lod_sweep", nsub * nz * ny, t, inv, w, bterm, ones, _I(nx), _I(ny),
                   _I(nz * ny), np.int32(1))
        planes[...] = t.transpose(0, 2, 1)
    else:
        dev.launch("lod_sweep", nsub * nz * ny, fields, inv, w, bterm, ones, _I(nx), _I(1),
                   _I(nz * ny), np.int32(1))
    inv, w = coeffs[1]
    dev.launch("lod_sweep", nsub * nz * nx, fields, inv, w, bterm,
               ones if three_d else decay_factor, _I(ny), _I(nx), _I(nz * nx), np.int32(0))
    if three_d:
        inv, w = coeffs[2]
        dev.launch("lod_sweep", nsub * ny * nx, fields, inv, w, bterm, decay_factor, _I(nz),
                   _I(ny * nx), _I(ny * nx), np.int32(0))
