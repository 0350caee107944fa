"""The vocabulary of behaviours and signals (PhysiCell's cell-behaviour grammar, extended).

A *behaviour* is a per-cell rate or setting with a base value per cell type; a *signal* is
something a cell senses. Rules say how signals raise or lower behaviours through Hill
functions. Names follow PhysiCell where PhysiCell has the concept ("cycle entry",
"oxygen uptake", "transform to CAF", "attack cancer", "contact with CD8_T_cell",
"pressure", "dead"); tmesim adds state-variable dynamics ("emt increase"), recruitment at
vessels and intravasation.
"""

from __future__ import annotations

from dataclasses import dataclass

# Behaviour kinds; each expands to one behaviour per substrate / cell type / state variable
# where it takes an argument. ``unit`` is the canonical unit of the base and saturation value
# ("conc" = the substrate's own unit, "conc/min" the same per minute).
SIMPLE_BEHAVIOURS: dict[str, tuple[str, float, str]] = {
    # name: (unit kind, default base, meaning)
    "cycle entry": ("rate", 0.0, "rate of entering division (1/min); division needs a free neighbour site"),
    "apoptosis": ("rate", 0.0, "rate of apoptotic death (1/min)"),
    "necrosis": ("rate", 0.0, "rate of necrotic death (1/min)"),
    "migration speed": ("speed", 0.0, "lattice random-walk speed (µm/min)"),
    "recruitment": ("rate", 0.0, "rate at which cells of this type enter the tissue at each vessel site (1/min per vessel site)"),
    "intravasation": ("rate", 0.0, "rate of entering the blood for a cell touching a vessel (1/min)"),
    "cluster departure": ("dimensionless", 0.0, "probability (0-1) of leaving together with a touching cell of the same type that intravasates, as part of a CTC cluster (plakoglobin, claudin-1 junctions)"),
    # PhysiCell's behaviours beyond the first seven; appended so the indices above stay fixed.
    "migration bias": ("dimensionless", 1.0, "factor (0-1) on the chemotactic bias: 0 a pure random walk, 1 the full chemotactic response"),
    "damage rate": ("rate", 0.0, "rate at which the cell's damage grows (damage per min)"),
    "damage repair rate": ("rate", 0.0, "rate at which damage is repaired (1/min, proportional to the damage)"),
    "attack damage rate": ("rate", 0.0, "damage per minute of attack an attack delivers; 0: a successful attack kills the target at once"),
    "attack duration": ("time", 1.0, "minutes of attack per successful attack (damage delivered = attack damage rate x attack duration)"),
    "phagocytose apoptotic cell": ("rate", 0.0, "rate of engulfing one touching apoptotic (or killed) cell, which leaves the lattice (1/min)"),
    "phagocytose necrotic cell": ("rate", 0.0, "rate of engulfing one touching necrotic cell (1/min)"),
    "phagocytose other dead cell": ("rate", 0.0, "rate of engulfing one touching dead cell of another death type (1/min); tmesim has only apoptotic, killed and necrotic cells"),
    "exchange rate": ("rate", 0.0, "rate of squeezing past a touching live non-vessel cell by exchanging places with it, chosen along the chemotactic bias (1/min; at most one exchange per step; see tmesim.engine.exchange)"),
}
SUBSTRATE_BEHAVIOURS: dict[str, tuple[str, float, str]] = {
    # name pattern with {s} for the substrate
    "{s} secretion": ("rate", 0.0, "secretion rate toward the secretion target (1/min)"),
    "{s} secretion target": ("conc", 1.0, "saturation concentration of secretion (substrate unit)"),
    "{s} uptake": ("rate", 0.0, "uptake rate (1/min)"),
    "{s} export": ("conc/min", 0.0, "net release independent of the local concentration (substrate unit per min)"),
    "chemotactic response to {s}": ("dimensionless", 0.0, "bias of migration up (>0) or down (<0) the gradient, in [-1, 1]"),
}
TYPE_BEHAVIOURS: dict[str, tuple[str, float, str]] = {
    # name pattern with {t} for the other cell type
    "transform to {t}": ("rate", 0.0, "rate of changing into cell type {t} (1/min)"),
    "attack {t}": ("rate", 0.0, "rate of killing one touching live cell of type {t} (1/min)"),
    "immunogenicity to {t}": ("dimensionless", 1.0, "factor on the attack rate of cells of type {t} against this cell"),
    "phagocytose {t}": ("rate", 0.0, "rate of engulfing one touching live cell of type {t}, which dies and leaves the lattice (1/min)"),
    "fuse to {t}": ("rate", 0.0, "rate of fusing with one touching live cell of type {t}: the partner is absorbed and leaves the lattice (1/min)"),
    "asymmetric division to {t}": ("dimensionless", 0.0, "probability (0-1) that a division gives a daughter of type {t} instead of the mother's type"),
}
VARIABLE_BEHAVIOURS: dict[str, tuple[str, float, str]] = {
    "{v} increase": ("rate", 0.0, "rate at which state variable {v} moves toward 1 (1/min)"),
    "{v} decrease": ("rate", 0.0, "rate at which state variable {v} moves toward 0 (1/min)"),
}
# PhysiCell custom variables: the behaviour sets the cell's value (each step, where rules act on
# it; otherwise the base value of the cell type stays), the signal of the same name reads it.
CUSTOM_PREFIX = "custom:"
CUSTOM_BEHAVIOURS: dict[str, tuple[str, float, str]] = {
    "custom:{c}": ("dimensionless", 0.0, "the cell's custom variable {c} (any real value; set by rules, read by the signal custom:{c})"),
}

FIXED_SIGNALS: dict[str, str] = {
    "pressure": "fraction of neighbour sites occupied by cells (0-1)",
    "dead": "1 for a dead cell, 0 for a live one",
    "time": "simulated time (min)",
    "contact with vessel": "1 if a neighbour site holds a live vessel cell, else 0",
    "contact with live cell": "fraction of neighbour sites holding a live cell of any type (0-1)",
    "contact with dead cell": "fraction of neighbour sites holding a dead, not yet cleared cell (0-1)",
    "contact with apoptotic cell": "fraction of neighbour sites holding an apoptotic or killed cell (0-1)",
    "contact with necrotic cell": "fraction of neighbour sites holding a necrotic cell (0-1)",
    "apoptotic": "1 for an apoptotic or killed cell, else 0",
    "necrotic": "1 for a necrotic cell, else 0",
}
# Per-cell quantities read like state variables (they follow the state variables and the custom
# variables in the engine's per-cell array).
CELL_SIGNALS: dict[str, str] = {
    "damage": "the cell's accumulated damage (from the damage rate and from attacks; lowered by repair)",
    "volume": "the cell's volume (µm³): its cell type's volume",
}
# Other signals: "<substrate>" (its concentration), "contact with <type>" (fraction of
# neighbour sites holding a live cell of that type), "<variable>" (the cell's own state
# variable), "neighbour <variable>" (mean of that variable over live neighbours),
# "drug <name>" (the drug's exposure C(t) in its unit, the same for every cell; see
# tmesim.model.pk; drugs come from the model's `drugs`, usually added by `therapies`).
DRUG_PREFIX = "drug "
# In contact-enrichment tables (tmesim.engine.contacts, read by tmesim.meanfield): the
# neighbour name that stands for free lattice sites rather than a cell type.
FREE_SITE = "(free site)"


@dataclass(frozen=True)
class Behaviour:
    name: str
    kind: str  # template key, e.g. "{s} uptake"
    arg: str | None  # substrate, cell type or variable name
    unit: str
    default: float


def behaviour_table(substrates: list[str], cell_types: list[str], variables: list[str],
                    custom: list[str] | tuple[str, ...] = ()) -> list[Behaviour]:
    """All behaviours a model with these names has, in a fixed order."""
    out = [Behaviour(n, n, None, u, d) for n, (u, d, _) in SIMPLE_BEHAVIOURS.items()]
    for s in substrates:
        out += [Behaviour(k.format(s=s), k, s, u, d) for k, (u, d, _) in SUBSTRATE_BEHAVIOURS.items()]
    for t in cell_types:
        out += [Behaviour(k.format(t=t), k, t, u, d) for k, (u, d, _) in TYPE_BEHAVIOURS.items()]
    for v in variables:
        out += [Behaviour(k.format(v=v), k, v, u, d) for k, (u, d, _) in VARIABLE_BEHAVIOURS.items()]
    for c in custom:
        out += [Behaviour(k.format(c=c), k, c, u, d) for k, (u, d, _) in CUSTOM_BEHAVIOURS.items()]
    return out


def signal_names(substrates: list[str], cell_types: list[str], variables: list[str],
                 drugs: list[str] | tuple[str, ...] = (), custom: list[str] | tuple[str, ...] = ()) -> list[str]:
    """All signals a model with these names has, in the engine's index order.

    The per-cell block (state variables, ``custom:<name>``, damage, volume) is contiguous, in
    the order of the engine's per-cell array. Drug signals come last.
    """
    return (
        list(substrates)
        + [f"contact with {t}" for t in cell_types]
        + list(FIXED_SIGNALS)
        + list(variables)
        + [f"{CUSTOM_PREFIX}{c}" for c in custom]
        + list(CELL_SIGNALS)
        + [f"neighbour {v}" for v in variables]
        + [f"{DRUG_PREFIX}{d}" for d in drugs]
    )
