"""A model's knowledge as tables, and its rules in and out of PhysiCell's rules format.

Long module: the tables and both rule formats share the name matching and the row layout;
move the PhysiCell reader out beside io/physicell_settings.py if it grows further.

``catalog_tables(model)`` gives the cell types, the signals and the rules (with sources and
statements) as pandas DataFrames; ``filter_rules`` selects rules by cell type, signal or
cited review reference. ``export_rules`` writes the rules table as tmesim's CSV or as a
PhysiCell v3 rules file; ``import_physicell_rules`` reads a PhysiCell rules file (v3 or v2
rows), checks every row against a model and returns that model with the imported rules.

>>> import tmesim
>>> from tmesim.knowledge import catalog_tables, filter_rules
>>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
>>> sorted(catalog_tables(model))
['cell_types', 'rules', 'signals']
>>> sorted(filter_rules(model, reference=66)["cell_type"])
['MDSC', 'cancer']
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tmesim.model import Model, ModelError, Rule, format_rules, model_from_dict
from tmesim.model.grammar import (
    CELL_SIGNALS,
    CUSTOM_PREFIX,
    FIXED_SIGNALS,
    SIMPLE_BEHAVIOURS,
    SUBSTRATE_BEHAVIOURS,
    TYPE_BEHAVIOURS,
    VARIABLE_BEHAVIOURS,
)
from tmesim.model.rules_csv import parse_rule_lines

from .citation import review_references

RULE_FORMATS = ("tmesim", "physicell")
RULE_COLUMNS = ["cell_type", "signal", "direction", "behaviour", "saturation", "half_max", "hill_power",
                "apply_to_dead", "source", "statement", "references"]


# --------------------------------------------------------------------------- sources

def review_refs(source: str | None) -> tuple[int, ...]:
    """Review reference numbers a source cites: ``"review:41, 45"`` → ``(41, 45)``,
    ``"paper:X; review:88-90 (note 1.5)"`` → ``(88, 89, 90)``; only the number list right after
    each ``review:`` counts (not digits in the notes that follow); no ``review:`` → ``()``."""
    if not source:
        return ()
    out: list[int] = []
    for m in re.finditer(r"\breview:\s*((?:\d+\s*(?:[-\u2013]\s*\d+)?\s*,?\s*)+)", source):
        for part in m.group(1).split(","):
            ends = [int(x) for x in re.findall(r"\d+", part)]
            if len(ends) == 2:
                out.extend(range(ends[0], ends[1] + 1))
            elif ends:
                out.append(ends[0])
    return tuple(dict.fromkeys(out))


# --------------------------------------------------------------------------- signals

def signal_info(model: Model, name: str) -> dict[str, str]:
    """Kind, unit and meaning of one of the model's signals."""
    types, variables = model.cell_type_names, model.state_variables
    if name in model.substrate_names:
        s = model.substrate(name)
        return {"kind": "substrate", "unit": s.unit, "description": s.description, "source": s.source or ""}
    if name == "contact with vessel":
        return {"kind": "contact", "unit": "0 or 1", "description": FIXED_SIGNALS[name], "source": ""}
    if name.startswith("contact with ") and name.removeprefix("contact with ") in types:
        other = name.removeprefix("contact with ")
        return {"kind": "contact", "unit": "fraction (0-1)",
                "description": f"fraction of neighbour sites holding a live {other} cell", "source": ""}
    if name in FIXED_SIGNALS:
        unit = {"time": "min", "dead": "0 or 1", "apoptotic": "0 or 1", "necrotic": "0 or 1"}.get(name, "fraction (0-1)")
        return {"kind": "built-in", "unit": unit, "description": FIXED_SIGNALS[name], "source": ""}
    if name in CELL_SIGNALS:
        return {"kind": "built-in", "unit": "µm³" if name == "volume" else "damage units",
                "description": CELL_SIGNALS[name], "source": ""}
    if name.startswith(CUSTOM_PREFIX) and name.removeprefix(CUSTOM_PREFIX) in getattr(model, "custom_variables", []):
        return {"kind": "custom", "unit": "any", "source": "",
                "description": f"the cell's custom variable {name.removeprefix(CUSTOM_PREFIX)}"}
    if name in variables:
        return {"kind": "state", "unit": "0-1", "description": f"the cell's own {name} score", "source": ""}
    if name.startswith("neighbour ") and name.removeprefix("neighbour ") in variables:
        var = name.removeprefix("neighbour ")
        return {"kind": "neighbour state", "unit": "0-1", "description": f"mean {var} score of live neighbours", "source": ""}
    if name.startswith("drug ") and name.removeprefix("drug ") in [d.name for d in getattr(model, "drugs", [])]:
        d = model.drug(name.removeprefix("drug "))
        given = f" (therapy {d.therapy})" if d.therapy else ""
        return {"kind": "drug", "unit": d.unit, "source": d.source or "",
                "description": f"exposure C(t) of {d.name}{given}, the same for every cell: {d.description}".rstrip(": ")}
    raise KeyError(name)


def _catalog_signals(model: Model) -> list[str]:
    """Substrates, then the other signals the rules use (in the model's signal order)."""
    used = {r.signal for r in model.rules}
    subs = model.substrate_names
    return subs + [s for s in model.signals() if s in used and s not in subs]


# --------------------------------------------------------------------------- tables

def rules_table(model: Model) -> pd.DataFrame:
    """One row per rule: the PhysiCell columns, source, statement and cited review references."""
    rows = [{
        "cell_type": r.cell_type, "signal": r.signal, "direction": r.direction, "behaviour": r.behaviour,
        "saturation": float(r.saturation), "half_max": float(r.half_max), "hill_power": float(r.hill_power),
        "apply_to_dead": bool(r.apply_to_dead), "source": r.source or "", "statement": r.statement,
        "references": review_refs(r.source),
    } for r in model.rules]
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


def catalog_tables(model: Model) -> dict[str, pd.DataFrame]:
    """The model as three tables: ``cell_types``, ``signals`` and ``rules``."""
    rules = rules_table(model)
    secretes = {ct.name: [s for s in model.substrate_names
                          if any(ct.behaviours.get(f"{s} {k}") is not None and ct.behaviours[f"{s} {k}"].value > 0
                                 for k in ("secretion", "export"))]
                for ct in model.cell_types}
    cell_types = pd.DataFrame([{
        "cell_type": ct.name, "description": ct.description, "vessel": ct.vessel,
        "secretes": ", ".join(secretes[ct.name]), "n_rules": int((rules["cell_type"] == ct.name).sum()),
        "source": ct.source or "",
    } for ct in model.cell_types], columns=["cell_type", "description", "vessel", "secretes", "n_rules", "source"])
    signals = pd.DataFrame([{
        "signal": s, **signal_info(model, s), "n_rules": int((rules["signal"] == s).sum()),
    } for s in _catalog_signals(model)], columns=["signal", "kind", "unit", "description", "source", "n_rules"])
    return {"cell_types": cell_types, "signals": signals, "rules": rules}


def _matches(needle: str, names: list[str]) -> list[str]:
    n = needle.strip().lower()
    return [x for x in names if n and n in x.lower()]


def match_cell_types(model: Model, text: str) -> list[str]:
    """Cell types whose name contains ``text`` (case-insensitive); a clear error if none does."""
    found = _matches(text, model.cell_type_names)
    if not found:
        raise ModelError("cell_type", f"no cell type of model {model.name!r} matches {text!r}; "
                                      f"allowed: {', '.join(model.cell_type_names)}{_did_you_mean(text, model.cell_type_names)}")
    return found


def match_signals(model: Model, text: str) -> list[str]:
    """Catalog signals (substrates and signals used by rules) containing ``text``; error if none."""
    names = _catalog_signals(model)
    found = _matches(text, names)
    if not found:
        raise ModelError("signal", f"no signal of model {model.name!r} matches {text!r}; "
                                   f"allowed: {', '.join(names)}{_did_you_mean(text, names)}")
    return found


def cited_references(model: Model) -> list[int]:
    """Review reference numbers cited by the model's rules."""
    return sorted({n for r in model.rules for n in review_refs(r.source)})


def filter_rules(model: Model, cell_type: str | None = None, signal: str | None = None,
                 reference: int | None = None) -> pd.DataFrame:
    """Rules whose cell type / signal contains the given text (case-insensitive) and that cite
    review reference ``reference``; all given filters must hold. Unknown values raise a
    ``ModelError`` listing the allowed ones."""
    rules = rules_table(model)
    keep = pd.Series(True, index=rules.index)
    if cell_type is not None:
        keep &= rules["cell_type"].isin(match_cell_types(model, cell_type))
    if signal is not None:
        keep &= rules["signal"].isin(match_signals(model, signal))
    if reference is not None:
        cited = cited_references(model)
        if reference not in cited:
            titles = review_references()
            known = f" (the review's references are numbered 1-{max(titles)})" if reference not in titles else ""
            raise ModelError("reference", f"no rule of model {model.name!r} cites review reference {reference}{known}; "
                                          f"allowed: {', '.join(map(str, cited))}")
        keep &= rules["references"].map(lambda refs: reference in refs)
    return rules[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- rules export / import

def export_rules(model: Model, format: str = "tmesim") -> str:  # noqa: A002 - mirrors the CLI option
    """The model's rules as CSV text: ``tmesim`` (header, source, statement) or ``physicell`` (v3, 8 columns;
    see :func:`export_physicell_rules` for what is dropped or approximated)."""
    if format not in RULE_FORMATS:
        raise ModelError("format", f"unknown rules format {format!r}; allowed: {', '.join(RULE_FORMATS)}")
    if format == "physicell":
        return export_physicell_rules(model)[0]
    return format_rules(model.rules)


# tmesim signals and behaviours without a PhysiCell counterpart, and why.
_NOT_IN_PHYSICELL = {
    "contact with vessel": "PhysiCell has no vessel contact signal",
    "recruitment": "PhysiCell has no recruitment at vessel sites",
    "intravasation": "PhysiCell has no intravasation",
    "cluster departure": "PhysiCell has no CTC clusters",
}


def _physicell_unsupported(model: Model, r: Rule) -> str | None:
    """Why a rule cannot be written for PhysiCell, or None."""
    vars_ = model.state_variables
    if r.signal in _NOT_IN_PHYSICELL:
        return _NOT_IN_PHYSICELL[r.signal]
    if r.behaviour in _NOT_IN_PHYSICELL:
        return _NOT_IN_PHYSICELL[r.behaviour]
    if r.signal.startswith("drug "):
        return "drug exposure signals are tmesim's PK schedules; PhysiCell has none"
    if r.signal in vars_ or (r.signal.startswith("neighbour ") and r.signal.removeprefix("neighbour ") in vars_):
        return f"state variable signal {r.signal!r} (0-1 score with increase/decrease dynamics) has no PhysiCell signal"
    if any(r.behaviour in (f"{v} increase", f"{v} decrease") for v in vars_):
        return f"state variable dynamics {r.behaviour!r} have no PhysiCell behaviour"
    return None


def export_physicell_rules(model: Model) -> tuple[str, list[str]]:
    """The rules as a PhysiCell v3 rules file and one warning per dropped or approximated row.

    Each written row is preceded by a ``//`` comment with its source (and statement); a dropped
    row is kept as a ``// dropped:`` comment with the reason. Contact signals are converted
    from tmesim's fraction of neighbour sites to PhysiCell's count of touching cells (half-max
    times the neighbourhood size), the inverse of the import.
    """
    from tmesim.model.physicell_names import _CONTACT_BUILTIN

    nb = 26 if model.domain.dims == 3 else 8
    types = model.cell_type_names
    lines = [f"// PhysiCell v3 rules exported by tmesim from model {model.name!r}; "
             f"contact half-max values are counts of touching cells ({nb}-site neighbourhood)"]
    warnings: list[str] = []
    for i, r in enumerate(model.rules):
        row = r.model_dump()
        label = f"rule {i + 1} ({r.cell_type}, {r.signal}, {r.direction}, {r.behaviour})"
        why = _physicell_unsupported(model, r)
        src = f"// source: {r.source or 'none'}" + (f" | {r.statement}" if r.statement else "")
        if why:
            warnings.append(f"{label}: dropped: {why}")
            lines.append(f"// dropped: {format_rules([row], physicell=True).strip()} ({why}); {src[3:]}")
            continue
        if r.signal in _CONTACT_BUILTIN or (r.signal.startswith("contact with ") and r.signal.removeprefix("contact with ") in types):
            row["half_max"] = float(f"{float(r.half_max) * nb:.12g}")
            warnings.append(f"{label}: approximated: half-max {float(r.half_max):g} (fraction of {nb} sites) "
                            f"written as {row['half_max']:g} touching cells")
        elif r.signal == "pressure":
            warnings.append(f"{label}: approximated: tmesim's pressure is the occupied fraction of neighbour sites, "
                            "PhysiCell's a mechanical load")
        elif r.behaviour == "migration speed" or r.behaviour.startswith("chemotactic response to "):
            warnings.append(f"{label}: approximated: a lattice walk in tmesim, off-lattice motility in PhysiCell")
        lines.append(src)
        lines.append(format_rules([row], physicell=True).strip())
    return "\n".join(lines) + "\n", warnings


@dataclass
class ImportedRules:
    """Rules read from a PhysiCell file and checked against a model."""

    model: Model  # the model with the imported rules in place of its own
    lines: list[int]  # file line of each rule
    layouts: list[str]  # "v3", "v2" or "tmesim" for each rule
    warnings: list[str] = field(default_factory=list)  # dropped rows, differing base values
    approximate: list[str] = field(default_factory=list)  # rows kept with an approximate mapping

    @property
    def rules(self) -> list[Rule]:
        return self.model.rules

    def to_csv(self) -> str:
        """The rules as a tmesim rules CSV (header, source and statement columns)."""
        return format_rules(self.rules)


def _did_you_mean(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.6)
    return f". Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _allowed_behaviours(model: Model) -> str:
    def forms(table: dict[str, Any], key: str, symbol: str) -> str:
        return ", ".join(repr(k.replace(key, symbol)) for k in table)

    parts = [", ".join(SIMPLE_BEHAVIOURS),
             f"{forms(SUBSTRATE_BEHAVIOURS, '{s}', '<substrate>')} with <substrate> one of {', '.join(model.substrate_names)}",
             f"{forms(TYPE_BEHAVIOURS, '{t}', '<cell type>')} with <cell type> one of {', '.join(model.cell_type_names)}"]
    if model.state_variables:
        parts.append(f"{forms(VARIABLE_BEHAVIOURS, '{v}', '<variable>')} with <variable> one of "
                     f"{', '.join(model.state_variables)}")
    return "; ".join(parts)


def _allowed_signals(model: Model) -> str:
    parts = [f"substrates {', '.join(model.substrate_names)}",
             f"'contact with <cell type>' with <cell type> one of {', '.join(model.cell_type_names)}",
             ", ".join([*FIXED_SIGNALS, *CELL_SIGNALS])]
    if model.custom_variables:
        parts.append(", ".join(f"custom:{c}" for c in model.custom_variables))
    if model.state_variables:
        v = ", ".join(model.state_variables)
        parts.append(f"state variables {v} and 'neighbour <variable>'")
    return "; ".join(parts)


def _english(rule: dict[str, Any]) -> str:
    text = (f"{rule['signal']} {rule['direction']} {rule['behaviour']} toward {rule['saturation']:g} "
            f"(Hill response, half-max {rule['half_max']:g}, power {rule['hill_power']:g})")
    return text + (", also in dead cells." if rule.get("apply_to_dead") else ".")


def _base_value(model: Model, cell_type: str, behaviour: str) -> float:
    p = model.cell_type(cell_type).behaviours.get(behaviour)
    if p is not None:
        return float(p.value)
    return next(b.default for b in model.behaviours() if b.name == behaviour)


def import_physicell_rules(text: str, model: Model, origin: str = "rules",
                           type_ids: dict[int, str] | None = None,
                           exchange_scale: dict[str, dict[str, float]] | None = None) -> ImportedRules:
    """Read a PhysiCell rules file (v3 8-column or v2 9-column rows, ``//`` comments) and check
    every row against ``model``: errors name the file line, the field and the allowed values.

    PhysiCell names and synonyms map to tmesim's (:mod:`tmesim.model.physicell_names`): a row
    whose signal or behaviour has no lattice counterpart (off-lattice mechanics, intracellular
    amounts) is dropped with a warning naming its line; an approximate mapping is listed in
    ``approximate`` and converted (contact half-max from touching-cell counts to the fraction
    of neighbour sites; secretion/uptake saturations by ``exchange_scale[cell type]``, default 1).
    Rows in tmesim's own layout (with a header) are read as they are.

    Rows without a source get ``assumption: imported from PhysiCell rules file <name>`` and a
    statement in words, so the returned model (``model`` with these rules instead of its own)
    validates. A v2 row's base value is not used (the base belongs to the cell type); a base
    that differs from the model's gives a warning.
    """
    from tmesim.model.physicell_names import UNSUPPORTED, map_behaviour, map_signal

    name = Path(origin).name
    parsed = parse_rule_lines(text, origin)
    if not parsed:
        raise ModelError(origin, "no rules found (only blank or comment lines)")
    types, signals = model.cell_type_names, model.signals()
    behaviours = [b.name for b in model.behaviours()]
    subs, custom = model.substrate_names, list(model.custom_variables)
    nb = 26 if model.domain.dims == 3 else 8
    warnings: list[str] = []
    approximate: list[str] = []
    rules: list[dict[str, Any]] = []
    kept: list[Any] = []
    for p in parsed:
        r, where = dict(p.rule), f"{origin} line {p.line}"
        if r["cell_type"] not in types:
            m = re.fullmatch(r"(?:cell type )?(\d+)", r["cell_type"])
            ids = type_ids if type_ids is not None else dict(enumerate(types))
            if m and int(m.group(1)) in ids:
                r["cell_type"] = ids[int(m.group(1))]
            else:
                raise ModelError(f"{where}.cell_type", f"unknown cell type {r['cell_type']!r}; allowed: "
                                                       f"{', '.join(types)}{_did_you_mean(r['cell_type'], types)}")
        if p.layout != "tmesim":
            sig = map_signal(r["signal"], subs, types, custom, type_ids, nb, signals)
            beh = map_behaviour(r["behaviour"], subs, types, custom, type_ids, behaviours)
            known = [m for m in (sig, beh) if not m.note.startswith("not a PhysiCell")]
            if len(known) == 2 and (sig.status == UNSUPPORTED or beh.status == UNSUPPORTED):
                why = "; ".join(f"{what} {r[what]!r}: {m.note}" for what, m in (("signal", sig), ("behaviour", beh))
                                if m.status == UNSUPPORTED)
                warnings.append(f"{where}: dropped ({r['cell_type']}, {r['signal']}, {r['direction']}, {r['behaviour']}): {why}")
                continue
            if sig.name is not None:
                r["signal"] = sig.name
                if sig.half_max_factor != 1.0 and isinstance(r["half_max"], float):
                    r["half_max"] = float(f"{r['half_max'] * sig.half_max_factor:.12g}")
            if beh.name is not None:
                r["behaviour"] = beh.name
                scale = (exchange_scale or {}).get(r["cell_type"], {}).get(beh.saturation_kind, 1.0)
                if scale != 1.0 and isinstance(r["saturation"], float):
                    r["saturation"] = float(f"{r['saturation'] * scale:.12g}")
            for what, m in (("signal", sig), ("behaviour", beh)):
                if m.status == "approximate" and m.name is not None:
                    approximate.append(f"{where}: {what} {m.name!r}: {m.note}")
        if r["signal"] not in signals:
            raise ModelError(f"{where}.signal", f"unknown signal {r['signal']!r}; allowed: "
                                                f"{_allowed_signals(model)}{_did_you_mean(r['signal'], signals)}")
        if r["behaviour"] not in behaviours:
            raise ModelError(f"{where}.behaviour", f"unknown behaviour {r['behaviour']!r}; allowed: "
                                                   f"{_allowed_behaviours(model)}{_did_you_mean(r['behaviour'], behaviours)}")
        if isinstance(r["hill_power"], float) and not r["hill_power"] > 0:
            raise ModelError(f"{where}.hill_power", f"must be > 0, got {r['hill_power']:g}")
        if isinstance(p.base, float):
            base = _base_value(model, r["cell_type"], r["behaviour"])
            if not math.isclose(p.base, base, rel_tol=1e-9, abs_tol=1e-15):
                warnings.append(f"{where}: base value {p.base:g} of {r['cell_type']} '{r['behaviour']}' differs from "
                                f"the model's {base:g}; the model's base value is used")
        r.setdefault("source", f"assumption: imported from PhysiCell rules file {name}")
        if not r.get("statement"):
            r["statement"] = _english(r) if all(isinstance(r[k], float) for k in ("saturation", "half_max", "hill_power")) else ""
        rules.append(r)
        kept.append(p)
    data = model.model_dump(mode="json")
    data["rules"] = rules
    try:
        new = model_from_dict(data)
    except ModelError as exc:
        m = re.match(r"rules\[(\d+)\][^.]*(.*)$", exc.field)
        if m:
            raise ModelError(f"{origin} line {kept[int(m.group(1))].line}{m.group(2)}", exc.message) from None
        raise
    return ImportedRules(model=new, lines=[p.line for p in kept], layouts=[p.layout for p in kept], warnings=warnings,
                         approximate=approximate)


def read_physicell_rules(path: str | Path, model: Model) -> ImportedRules:
    """``import_physicell_rules`` for a file."""
    from tmesim.model.safe_yaml import read_text

    path = Path(path)
    if not path.exists():
        raise ModelError("rules", f"rules file {str(path)!r} does not exist")
    return import_physicell_rules(read_text(path, "rules file"), model, origin=str(path))
