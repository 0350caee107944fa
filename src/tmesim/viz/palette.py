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


def pretty(name: str) -> str:
    """Full legend name of a cell type or substrate identifier."""
    special = {"CAF": "cancer-associated fibroblast (CAF)", "CAA": "cancer-associated adipocyte (CAA)",
               "MDSC": "myeloid-derived suppressor cell (MDSC)", "Treg": "regulatory T cell (Treg)",
               "CD8_T_cell": "CD8 cytotoxic T cell", "M1_macrophage": "M1 macrophage",
               "M2_macrophage": "M2 macrophage (TAM)", "tgfb": "TGF-β", "il6": "IL-6", "il10": "IL-10",
               "ifng": "IFN-γ", "tnfa": "TNF-α", "vegf": "VEGF", "ccl2": "CCL2", "ccl3": "CCL3",
               "cxcl12": "CXCL12", "egf": "EGF", "il1b": "IL-1β", "ccl5": "CCL5", "pdgf": "PDGF"}
    return special.get(name, name.replace("_", " "))
