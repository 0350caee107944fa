"""Optional GPU path for the substrate fields (CuPy; ``pip install 'tmesim[gpu]'``).

Selected with ``backend="gpu"`` (``tmesim.simulate``, ``Simulation``, ``tmesim run --backend``);
the CPU stays the default. The device kernels transcribe the CPU engine's numba kernels
operation by operation (:mod:`tmesim.engine.gpu.source`), so a GPU run gives the CPU run's
fields (see ``docs/gpu.md`` for what was measured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .device import cuda_device, gpu_available

if TYPE_CHECKING:
    from ..compiled import CompiledModel
    from ..fields import FieldSolver
    from .fields import DeviceFieldSolver

__all__ = ["BACKENDS", "cuda_device", "field_solver", "gpu_available"]

BACKENDS = ("cpu", "gpu")


def field_solver(cm: CompiledModel, backend: str = "cpu") -> FieldSolver | DeviceFieldSolver:
    """The field solver of ``backend``; ``ModelError`` (field ``backend``) if it cannot run."""
    from tmesim.model.errors import ModelError

    if backend == "cpu":
        from ..fields import FieldSolver

        return FieldSolver(cm)
    if backend == "gpu":
        from .fields import DeviceFieldSolver

        return DeviceFieldSolver(cm, cuda_device())
    raise ModelError("backend", f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
