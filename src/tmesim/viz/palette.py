"""One colour per cell type, colour-blind safe (Paul Tol's palettes), used by every figure."""

from __future__ import annotations

# Tol "muted" + "bright" qualitative sets.
TOL = ["#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99",
       "#999933", "#AA4499", "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE",
       "#AA3377", "#BBBBBB", "#EE7733", "#0077BB", "#33BBEE", "#EE3377", "#009988"]


def type_colors(model_config: dict) -> dict[str, str]:
    """Colour of each cell type: the model's own ``color`` where given, else Tol's palette."""
    out: dict[str, str] = {}
    used = {ct.get("color") for ct in model_config["cell_types"] if ct.get("color")}
    spare = [c for c in TOL if c not in used]
    for ct in model_config["cell_types"]:
        out[ct["name"]] = ct.get("color") or (spare.pop(0) if spare else "#777777")
    return out


# Legend names of the shipped substrates (signals); cell types take theirs from the model's ``label``.
SIGNAL_LABELS = {"tgfb": "TGF-β", "il6": "IL-6", "il10": "IL-10", "ifng": "IFN-γ", "tnfa": "TNF-α", "vegf": "VEGF",
                 "ccl2": "CCL2", "ccl3": "CCL3", "cxcl12": "CXCL12", "egf": "EGF", "il1b": "IL-1β", "ccl5": "CCL5",
                 "pdgf": "PDGF"}


def type_labels(model_config: dict) -> dict[str, str]:
    """Legend name of each cell type that declares a ``label``."""
    return {ct["name"]: ct["label"] for ct in model_config.get("cell_types", []) if ct.get("label")}


def pretty(name: str, model_config: dict | None = None) -> str:
    """Full legend name of a cell type (its ``label`` in ``model_config``) or substrate identifier."""
    labels = type_labels(model_config) if model_config is not None else {}
    return labels.get(name) or SIGNAL_LABELS.get(name) or name.replace("_", " ")
