"""PhysiCell's signal and behaviour names (v2 and v3 rules grammar), mapped to tmesim's.

Each PhysiCell name, with its synonyms (``is dead``, ``transition to <type>``, ``custom: x``,
``contact with cell type 2``, ...), maps to one tmesim name with a status:

* ``exact``: the same quantity;
* ``approximate``: the nearest lattice quantity (the note says how it differs), possibly with a
  factor on the rule's half-max (contact signals count touching cells in PhysiCell and are a
  fraction of the neighbour sites in tmesim) or on its saturation value (secretion and uptake
  rates act on a cell's share of its voxel in PhysiCell and on the whole site in tmesim);
* ``unsupported``: no lattice counterpart (off-lattice mechanics, intracellular amounts); the
  rule is dropped and the reason reported.

The grammar is PhysiCell's ``setup_signal_behavior_dictionaries`` (PhysiCell 1.14,
core/PhysiCell_signal_behavior.cpp); the names here are written out from that list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXACT, APPROXIMATE, UNSUPPORTED = "exact", "approximate", "unsupported"

# Off-lattice mechanics and attachment: no lattice counterpart.
_MECHANICS = {
    "cell-cell adhesion", "cell-cell adhesion elastic constant", "relative maximum adhesion distance",
    "cell-cell repulsion", "cell-BM adhesion", "cell-membrane adhesion", "cell-BM repulsion",
    "cell-membrane repulsion", "migration persistence time", "is_movable", "movable", "is movable",
    "cell attachment rate", "cell detachment rate", "maximum number of cell attachments",
}
_UNSUPPORTED_SIGNALS = {
    "contact with basement membrane": "tmesim has no basement membrane",
    "contact with BM": "tmesim has no basement membrane",
    "contact with other dead cell": "tmesim has no death type besides apoptotic, killed and necrotic",
    "contact with other dead cells": "tmesim has no death type besides apoptotic, killed and necrotic",
    "damage delivered": "attackers do not record the damage they deliver",
    "total damage delivered": "attackers do not record the damage they deliver",
    "attacking": "an attack lasts one step on the lattice (no attached attack state)",
    "is attacking": "an attack lasts one step on the lattice (no attached attack state)",
    "total attack time": "an attack lasts one step on the lattice (no attack time is integrated)",
}
_SIGNAL_SYNONYMS = {
    "is dead": "dead", "current time": "time", "global time": "time", "is_apoptotic": "apoptotic",
    "is_necrotic": "necrotic", "contact with live cells": "contact with live cell",
    "contact with dead cells": "contact with dead cell", "contact with apoptotic cells": "contact with apoptotic cell",
    "contact with necrotic cells": "contact with necrotic cell",
}
_CONTACT_BUILTIN = ("contact with live cell", "contact with dead cell", "contact with apoptotic cell",
                    "contact with necrotic cell")
_BEHAVIOUR_SYNONYMS = {
    "exit from cycle phase 0": "cycle entry",
    "phagocytosis of apoptotic cell": "phagocytose apoptotic cell",
    "phagocytosis of apoptotic cells": "phagocytose apoptotic cell",
    "phagocytosis of necrotic cell": "phagocytose necrotic cell",
    "phagocytosis of necrotic cells": "phagocytose necrotic cell",
    "phagocytosis of other dead cell": "phagocytose other dead cell",
    "phagocytosis of other dead cells": "phagocytose other dead cell",
}
_APPROX_BEHAVIOURS = {
    "migration speed": "a lattice random walk with this mean speed (hops of one site)",
    "migration bias": "scales the chemotactic bias of the lattice walk",
    "asymmetric division to": "the daughter takes the other type at division",
    "fuse to": "the partner is absorbed and leaves the lattice (no volume is merged)",
    "phagocytose": "the engulfed cell dies and leaves the lattice at once",
    "chemotactic response to": "a bias of the lattice walk toward the gradient",
    "attack duration": "sets the damage of one successful attack (attack damage rate x duration)",
    "attack damage rate": "a successful attack adds attack damage rate x attack duration to the target's damage",
}
_EXCHANGE = re.compile(r"^(?P<s>.+) (?P<what>secretion target|secretion saturation density|secretion|uptake|export)$")


@dataclass(frozen=True)
class Mapped:
    """A PhysiCell name mapped to tmesim: ``name`` is None when unsupported."""

    name: str | None
    status: str
    note: str = ""
    half_max_factor: float = 1.0  # multiplies a rule's half-max (signals)
    saturation_kind: str = ""  # "rate" or "export": the saturation is a secretion/uptake quantity


def _type_by_id(text: str, type_ids: dict[int, str]) -> str | None:
    m = re.fullmatch(r"cell type (\d+)", text)
    return type_ids.get(int(m.group(1))) if m else None


def _custom(name: str) -> str | None:
    m = re.fullmatch(r"custom: ?(.+)", name)
    return m.group(1).strip() if m else None


def map_signal(name: str, substrates: list[str], types: list[str], custom: list[str],
               type_ids: dict[int, str] | None = None, nb: int = 8, tmesim_signals: list[str] = ()) -> Mapped:
    """Map a PhysiCell signal name; ``nb`` is the number of neighbour sites (8 in 2D, 26 in 3D)."""
    ids = type_ids if type_ids is not None else dict(enumerate(types))
    name = name.strip()
    name = _SIGNAL_SYNONYMS.get(name, name)
    count = f"PhysiCell counts touching cells, tmesim uses the fraction of the {nb} neighbour sites: half-max divided by {nb}"
    if name in substrates:
        return Mapped(name, EXACT)
    if name in _UNSUPPORTED_SIGNALS:
        return Mapped(None, UNSUPPORTED, _UNSUPPORTED_SIGNALS[name])
    for prefix in ("intracellular ", "internalized "):
        if name.startswith(prefix) and name.removeprefix(prefix) in substrates:
            return Mapped(None, UNSUPPORTED, "tmesim does not track internalized substrate amounts")
    for s in substrates:
        if name in (f"{s} gradient", f"grad({s})", f"gradient of {s}"):
            return Mapped(None, UNSUPPORTED, "gradients steer chemotaxis in tmesim but are not a rule signal")
    if name in _CONTACT_BUILTIN:
        return Mapped(name, APPROXIMATE, count, half_max_factor=1.0 / nb)
    if name.startswith("contact with "):
        other = name.removeprefix("contact with ")
        t = other if other in types else _type_by_id(other, ids)
        if t is not None:
            return Mapped(f"contact with {t}", APPROXIMATE, count + "; PhysiCell also counts dead cells of the type",
                          half_max_factor=1.0 / nb)
    c = _custom(name)
    if c is not None:
        if c in custom:
            return Mapped(f"custom:{c}", EXACT)
        m = re.fullmatch(r"custom (\d+)", name)
        if m and int(m.group(1)) < len(custom):
            return Mapped(f"custom:{custom[int(m.group(1))]}", EXACT)
    m = re.fullmatch(r"custom (\d+)", name)
    if m and int(m.group(1)) < len(custom):
        return Mapped(f"custom:{custom[int(m.group(1))]}", EXACT)
    if name in ("dead", "time", "apoptotic", "necrotic"):
        return Mapped(name, EXACT)
    if name == "pressure":
        return Mapped(name, APPROXIMATE, "PhysiCell's simple pressure is a mechanical load (~1 when packed); "
                                         "tmesim's is the occupied fraction of the neighbour sites")
    if name == "volume":
        return Mapped(name, APPROXIMATE, "cells do not grow on the lattice: the volume is the cell type's")
    if name == "damage":
        return Mapped(name, APPROXIMATE, "damage grows at the damage rate and by attack damage per successful attack")
    if name in tmesim_signals:
        return Mapped(name, EXACT)
    return Mapped(None, UNSUPPORTED, "not a PhysiCell or tmesim signal of this model")


def map_behaviour(name: str, substrates: list[str], types: list[str], custom: list[str],
                  type_ids: dict[int, str] | None = None, tmesim_behaviours: list[str] = ()) -> Mapped:
    """Map a PhysiCell behaviour name to tmesim's."""
    ids = type_ids if type_ids is not None else dict(enumerate(types))
    name = name.strip()
    name = _BEHAVIOUR_SYNONYMS.get(name, name)
    if name in _MECHANICS or name.startswith("adhesive affinity to "):
        return Mapped(None, UNSUPPORTED, "off-lattice mechanics: cells on a lattice have no springs, adhesion or attachments")
    m = re.fullmatch(r"exit from cycle phase (\d+)", name)
    if m:
        return Mapped(None, UNSUPPORTED, "tmesim's cycle is one rate ('cycle entry'); later phases have no counterpart")
    m = _EXCHANGE.match(name)
    if m and m.group("s") in substrates:
        what = {"secretion saturation density": "secretion target"}.get(m.group("what"), m.group("what"))
        kind = {"secretion": "rate", "uptake": "rate", "export": "export"}.get(what, "")
        note = ("PhysiCell applies a cell's rate to its share (cell volume / voxel volume) of its voxel; "
                "tmesim to the whole site: rate scaled by that share") if kind == "rate" else (
                "PhysiCell exports an amount per minute, tmesim a concentration per minute in the cell's site: "
                "divided by the site volume") if kind == "export" else ""
        return Mapped(f"{m.group('s')} {what}", APPROXIMATE if kind else EXACT, note, saturation_kind=kind)
    for pre in ("chemotactic response to ", "chemotactic sensitivity to "):
        if name.startswith(pre) and name.removeprefix(pre) in substrates:
            return Mapped(f"chemotactic response to {name.removeprefix(pre)}", APPROXIMATE,
                          _APPROX_BEHAVIOURS["chemotactic response to"])
    for pre, ours in (("transition to ", "transform to "), ("transform to ", "transform to "),
                      ("attack ", "attack "), ("immunogenicity to ", "immunogenicity to "),
                      ("phagocytose ", "phagocytose "), ("phagocytosis of ", "phagocytose "),
                      ("fuse to ", "fuse to "), ("asymmetric division to ", "asymmetric division to ")):
        if name.startswith(pre):
            other = name.removeprefix(pre)
            t = other if other in types else _type_by_id(other, ids) or (
                ids.get(int(other)) if pre == "phagocytosis of " and other.isdigit() else None)
            if t is not None:
                note = _APPROX_BEHAVIOURS.get(ours.strip(), "")
                return Mapped(f"{ours}{t}", APPROXIMATE if note else EXACT, note)
    c = _custom(name)
    if c is not None and c in custom:
        return Mapped(f"custom:{c}", EXACT)
    m = re.fullmatch(r"custom (\d+)", name)
    if m and int(m.group(1)) < len(custom):
        return Mapped(f"custom:{custom[int(m.group(1))]}", EXACT)
    if name in _APPROX_BEHAVIOURS:
        return Mapped(name, APPROXIMATE, _APPROX_BEHAVIOURS[name])
    if name in ("cycle entry", "apoptosis", "necrosis", "damage rate", "damage repair rate",
                "phagocytose apoptotic cell", "phagocytose necrotic cell", "phagocytose other dead cell"):
        note = "tmesim has no death type besides apoptotic, killed and necrotic" if "other dead" in name else ""
        return Mapped(name, APPROXIMATE if note else EXACT, note)
    if name in tmesim_behaviours:
        return Mapped(name, EXACT)
    return Mapped(None, UNSUPPORTED, "not a PhysiCell or tmesim behaviour of this model")
