"""tmesim: a simulator of the breast tumor microenvironment and of metastatic spread.

>>> import tmesim
>>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
>>> model.domain.dims
2
"""

import os

# numba's OpenMP threads busy-wait after each parallel region; when another process competes
# for the cores that collapses throughput by 10-100x. Passive waiting avoids it (set before
# numba starts its thread pool).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from ._version import __version__  # noqa: E402
from .api import resume, run, run_body, simulate  # noqa: E402
from .body import Patient, PatientOptions  # noqa: E402
from .engine import Simulation, compile_model  # noqa: E402
from .io import RunDirectory  # noqa: E402
from .knowledge import citation  # noqa: E402
from .model import Model, ModelError, load_model, model_from_dict  # noqa: E402
from .presets import preset_path  # noqa: E402

__all__ = [
    "Model", "ModelError", "Patient", "PatientOptions", "RunDirectory", "Simulation", "__version__", "citation", "compile_model",
    "load_model", "model_from_dict", "preset_path", "resume", "run", "run_body", "simulate",
]
