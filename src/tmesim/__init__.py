"""tmesim: a simulator of the breast tumor microenvironment and of metastatic spread.

>>> import tmesim
>>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
>>> model.domain.dims
2

The public API is what ``__all__`` lists: load a model, :func:`simulate` it with either
engine (``"spatial"`` or ``"meanfield"``) into a :class:`Run`, follow a patient's whole
body (:class:`Patient`), cite the sources a model uses (:func:`citation`).
"""

import os

# numba's OpenMP threads busy-wait after each parallel region; when another process competes
# for the cores that collapses throughput by 10-100x. Passive waiting avoids it (set before
# numba starts its thread pool).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from . import _numba_cache  # noqa: E402 - before any kernel is compiled or loaded from the cache

_numba_cache.install()

import warnings  # noqa: E402
from typing import Any  # noqa: E402

from ._version import __version__  # noqa: E402
from .api import (  # noqa: E402
    ENGINES,
    resume,
    run,  # noqa: E402, F401 - deprecated (warns when called), kept for one release
    run_body,
    simulate,
)
from .body import Patient, PatientOptions  # noqa: E402
from .errors import ModelError  # noqa: E402
from .io import Run, RunDirectory  # noqa: E402
from .knowledge import citation  # noqa: E402
from .model import Model, load_model, model_from_dict  # noqa: E402
from .presets import preset_path  # noqa: E402

__all__ = [
    "ENGINES", "Model", "ModelError", "Patient", "PatientOptions", "Run", "RunDirectory", "__version__", "citation",
    "load_model", "model_from_dict", "preset_path", "resume", "run_body", "simulate",
]

# Names of the 0.x API, kept for one release: (module, attribute, what to use instead).
_DEPRECATED = {
    "Simulation": ("tmesim.engine", "Simulation",
                   "tmesim.simulate(model, ...) for a run, or tmesim.engine.Simulation for step-by-step control"),
    "compile_model": ("tmesim.engine", "compile_model", "tmesim.engine.compile_model"),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        module, attr, instead = _DEPRECATED[name]
        warnings.warn(f"tmesim.{name} is deprecated; use {instead}", DeprecationWarning, stacklevel=2)
        import importlib

        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'tmesim' has no attribute {name!r}")
