"""Where the field kernels run: a CUDA device through CuPy, or the host (for checking).

Both expose the same small interface (``xp``, ``zeros``, ``upload``, ``download``,
``launch``), so the solvers in this package are written once. :class:`CupyDevice` compiles
:data:`tmesim.engine.gpu.source.SOURCE` with NVRTC; :class:`tmesim.engine.gpu.hostsim.HostDevice`
compiles the same source with the host C++ compiler.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from tmesim.model.errors import ModelError

from .source import KERNELS, SOURCE

__all__ = ["Device", "CupyDevice", "cuda_device", "gpu_available"]

_BLOCK = 256
_MAX_GRID = 1 << 20  # blocks per launch; kernels are grid-stride loops beyond that


class Device(Protocol):
    """The operations the device solvers use."""

    name: str
    xp: Any  # numpy or cupy

    def zeros(self, shape: int | tuple[int, ...], dtype: type) -> Any: ...
    def host_zeros(self, shape: tuple[int, ...], dtype: type) -> np.ndarray: ...
    def upload(self, host: np.ndarray) -> Any: ...
    def copy_in(self, dst: Any, host: np.ndarray) -> None: ...
    def download(self, src: Any, out: np.ndarray) -> None: ...
    def launch(self, name: str, n: int, *args: Any) -> None: ...
    def synchronize(self) -> None: ...


class CupyDevice:
    """Kernels on the current CUDA device (CuPy RawModule, compiled once per process)."""

    def __init__(self) -> None:
        import cupy as cp

        self.cp = cp
        self.xp = cp
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        # no fused multiply-add: the CPU engine (numba, fastmath=False) rounds every product
        module = cp.RawModule(code=SOURCE, options=("--fmad=false",))
        self._kernels = {k: module.get_function(k) for k in KERNELS}

    def zeros(self, shape: int | tuple[int, ...], dtype: type) -> Any:
        return self.cp.zeros(shape, dtype)

    def host_zeros(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A numpy array in page-locked host memory: copies to and from the device run at
        the bus' speed (pageable memory goes through a staging buffer)."""
        import cupyx

        a = cupyx.empty_pinned(shape, dtype)
        a[...] = 0
        return a

    def upload(self, host: np.ndarray) -> Any:
        return self.cp.asarray(np.ascontiguousarray(host))

    def copy_in(self, dst: Any, host: np.ndarray) -> None:
        dst.set(np.ascontiguousarray(host).reshape(dst.shape))

    def download(self, src: Any, out: np.ndarray) -> None:
        if out.flags.c_contiguous:
            src.get(out=out.reshape(src.shape))
        else:
            out[...] = src.get().reshape(out.shape)

    def launch(self, name: str, n: int, *args: Any) -> None:
        if n <= 0:
            return
        grid = min((n + _BLOCK - 1) // _BLOCK, _MAX_GRID)
        self._kernels[name]((grid,), (_BLOCK,), (np.int64(n), *args))

    def synchronize(self) -> None:
        self.cp.cuda.Device().synchronize()


_DEVICE: CupyDevice | None = None


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy as cp

        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any import/driver failure means "no GPU"
        return False


def cuda_device() -> CupyDevice:
    """The process' CUDA device, or a ``ModelError`` on field ``backend`` saying why not."""
    global _DEVICE
    if _DEVICE is not None:
        return _DEVICE
    try:
        import cupy as cp
    except ImportError:
        raise ModelError("backend", "'gpu' needs CuPy (pip install 'tmesim[gpu]') and a CUDA "
                         "GPU; CuPy is not installed here; use 'cpu'") from None
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CUDA driver/runtime missing or broken
        raise ModelError("backend", f"'gpu' needs a CUDA GPU; CuPy found none ({exc}); use "
                         "'cpu'") from None
    if count < 1:
        raise ModelError("backend", "'gpu' needs a CUDA GPU; CuPy found none; use 'cpu'")
    try:
        _DEVICE = CupyDevice()
    except Exception as exc:  # noqa: BLE001 - NVRTC/driver failure: say it in one line
        raise ModelError("backend", f"'gpu': the CUDA kernels did not compile or load "
                         f"({type(exc).__name__}: {exc}); use 'cpu'") from None
    return _DEVICE
