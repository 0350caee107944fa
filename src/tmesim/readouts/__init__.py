"""Readouts computed from run directories: clinical biomarkers and comparison with real data.

May import ``tmesim.model`` and ``tmesim.io`` only (see DESIGN.md).
"""

from .clinical import clinical_readouts, clinical_timecourse
from .reference import COARSE_TYPES, coarse_class, compare_composition, imc_composition

__all__ = ["COARSE_TYPES", "clinical_readouts", "clinical_timecourse", "coarse_class",
           "compare_composition", "imc_composition"]
