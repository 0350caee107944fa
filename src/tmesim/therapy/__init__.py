"""Therapies: drugs as dosing schedules with a one-compartment PK, and their effects as rules.

The catalog (``tmesim/data/therapies.yaml`` + ``therapy_rules.csv``) lists the treatments of
the review, each with its sources; a regimen of several drugs is one entry whose name joins
them with ``+`` (``atezolizumab+nab-paclitaxel``). Adding a therapy to a model appends its
drugs (``model.drugs``) and its rules, whose signal is ``drug <name>``; the model stays inert
data and every engine reads the drugs' exposure with :func:`tmesim.model.pk.drug_exposures`.

>>> import tmesim
>>> from tmesim.therapy import apply_therapies, parse_therapy
>>> m = tmesim.load_model(tmesim.preset_path("tnbc"))
>>> treated = apply_therapies(m, [parse_therapy("atezolizumab+nab-paclitaxel@day=14")])
>>> [d.name for d in treated.drugs]
['atezolizumab', 'nab-paclitaxel']
>>> round(treated.drugs[0].start.value / 1440)
14
"""

from tmesim.model.pk import drug_exposures, exposure, steady_state

from .catalog import DrugInfo, TherapyInfo, list_therapies, therapy_info, therapy_table
from .specs import TherapySpec, apply_therapies, parse_therapy

__all__ = [
    "DrugInfo", "TherapyInfo", "TherapySpec", "apply_therapies", "drug_exposures", "exposure", "list_therapies",
    "parse_therapy", "steady_state", "therapy_info", "therapy_table",
]
