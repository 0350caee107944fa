"""Calibration, sensitivity and uncertainty, over the model's own engines.

* :mod:`.space` — parameter spaces (YAML): addresses of rule half-max/saturation values, base
  behaviour values and body numbers, each with a range or a fold around the model value;
* :mod:`.simulate` — the pure, picklable ``simulate(params, seed, problem)`` and its registry
  of outputs / summary statistics;
* :mod:`.sensitivity` — Morris screening then Sobol indices (SALib) on dask;
* :mod:`.targets`, :mod:`.calibrate` — target files and ABC-SMC (pyABC) with posterior,
  diagnostics, posterior-predictive check and ``apply_posterior``;
* :mod:`.uncertainty` — virtual trials over posterior draws (sampling + parameter uncertainty).
"""

from .calibrate import (
           CalibrationResult,
           apply_posterior,
           run_abc,
           synthetic_targets,
           write_calibration,
)
from .evaluate import evaluate, model_hash
from .sensitivity import SensitivityResult, ranking, sensitivity, write_sensitivity
from .simulate import OUTPUTS, Problem, simulate, simulator
from .space import ADDRESS_FORMS, Address, Space, apply_params, build_space, load_space
from .targets import Targets, load_targets

__all__ = ["ADDRESS_FORMS", "OUTPUTS", "Address", "CalibrationResult", "Problem", "SensitivityResult", "Space",
           "Targets", "apply_params", "apply_posterior", "build_space", "evaluate", "load_space", "load_targets",
           "model_hash", "ranking", "run_abc", "sensitivity", "simulate", "simulator", "synthetic_targets",
           "write_calibration", "write_sensitivity"]
