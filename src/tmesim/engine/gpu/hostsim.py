"""The device kernels compiled for the host: checks the CUDA source without a GPU.

:class:`HostDevice` builds :data:`tmesim.engine.gpu.source.SOURCE` with the host C++
compiler (``TMESIM_HOST``: each grid-stride loop runs its iterations one after the other,
which is valid because they are independent) and runs the device solvers on numpy arrays.
Used by the tests, so that the kernels and the solver code that drives them are checked
against the CPU engine on machines without a GPU; not meant for production runs (one thread).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .source import SOURCE

__all__ = ["HostDevice", "host_compiler"]


def host_compiler() -> str | None:
    """The C++ compiler used for the host build (``$CXX``, ``c++``, ``g++``, ``clang++``)."""
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


class HostDevice:
    """The kernels as host functions over numpy arrays (same interface as ``CupyDevice``)."""

    name = "host"
    xp = np

    def __init__(self) -> None:
        cxx = host_compiler()
        if cxx is None:
            raise RuntimeError("no C++ compiler found for the host build of the kernels")
        tag = hashlib.sha256((cxx + SOURCE).encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"tmesim-hostsim-{getattr(os, 'getuid', lambda: 0)()}"
        folder.mkdir(exist_ok=True)
        lib = folder / f"kernels-{tag}.so"
        if not lib.exists():
            src = folder / f"kernels-{tag}-{os.getpid()}.cpp"
            src.write_text(SOURCE)
            tmp = folder / f"kernels-{tag}-{os.getpid()}.so"
            # -ffp-contract=off: no fused multiply-add, like the CUDA build (--fmad=false)
            subprocess.run([cxx, "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-DTMESIM_HOST",
                            "-o", str(tmp), str(src)], check=True, capture_output=True)
            os.replace(tmp, lib)
            src.unlink()
        self._lib = ctypes.CDLL(str(lib))

    def zeros(self, shape: int | tuple[int, ...], dtype: type) -> np.ndarray:
        return np.zeros(shape, dtype)

    def host_zeros(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.zeros(shape, dtype)

    def upload(self, host: np.ndarray) -> np.ndarray:
        return np.array(host, copy=True, order="C")

    def copy_in(self, dst: np.ndarray, host: np.ndarray) -> None:
        dst[...] = np.asarray(host).reshape(dst.shape)

    def download(self, src: np.ndarray, out: np.ndarray) -> None:
        out.reshape(src.shape)[...] = src

    def launch(self, name: str, n: int, *args: Any) -> None:
        if n <= 0:
            return
        conv: list[Any] = [ctypes.c_longlong(n)]
        for a in args:
            if isinstance(a, np.ndarray):
                if not a.flags.c_contiguous:
                    raise ValueError(f"{name}: array arguments must be C-contiguous")
                conv.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.int64):
                conv.append(ctypes.c_longlong(int(a)))
            elif isinstance(a, np.int32):
                conv.append(ctypes.c_int(int(a)))
            elif isinstance(a, np.float64):
                conv.append(ctypes.c_double(float(a)))
            else:
                raise TypeError(f"{name}: unsupported argument type {type(a).__name__}")
        getattr(self._lib, name)(*conv)

    def synchronize(self) -> None:
        pass
