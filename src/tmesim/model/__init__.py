"""Model schema: inert, validated data (cell types, substrates, rules, initial state)."""

from .drugs import Drug, TherapyEntry
from .errors import ModelError, ModelErrors
from .io_yaml import load_model, model_from_dict
from .params import Param
from .pk import drug_exposures, exposure
from .rules_csv import format_rules, parse_rules, read_rules_csv
from .schema import CellType, Domain, Model, Placement, Reaction, Rule, Substrate, TimeSettings

__all__ = [
    "CellType", "Domain", "Model", "ModelError", "ModelErrors", "Param", "Placement", "Reaction", "Rule", "Substrate",
    "TimeSettings", "format_rules", "load_model", "model_from_dict", "parse_rules", "read_rules_csv",
    "Drug", "TherapyEntry", "drug_exposures", "exposure",
]
