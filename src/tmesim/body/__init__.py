"""The whole-body level: circulation, organotropism, dormancy and metastasis.

``Patient(model, seed).run()`` simulates one patient from a model with a ``body:`` section:
the primary tumor section spatially, the whole tumor's growth, CTCs and clusters in blood,
arrest and extravasation organ by organ, exosome priming, dormancy, MET and colonisation of
bone, lung, liver and brain (each organ niche simulated by the spatial engine).
"""

from .circulation import barrier_crossing, fates
from .niche import NicheOutcome, run_niche
from .patient import Patient, PatientOptions, PatientResult
from .primary import Gompertz, SheddingProfile, measure_shedding

__all__ = [
    "Gompertz", "NicheOutcome", "Patient", "PatientOptions", "PatientResult", "SheddingProfile",
    "barrier_crossing", "fates", "measure_shedding", "run_niche",
]
