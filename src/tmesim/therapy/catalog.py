"""The therapy catalog for people: each regimen's drugs, targets, schedule, PK and sources."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesim.model.drugs import Drug
from tmesim.model.errors import ModelError
from tmesim.model.pk import steady_state
from tmesim.model.therapies import therapy_catalog
from tmesim.units import MINUTES_PER_DAY


@dataclass(frozen=True)
class DrugInfo:
    """A catalog drug resolved to canonical units (minutes, mg, mL) with its effects."""

    drug: Drug
    targets: list[str]  # cell types its rules act on
    effects: list[str]  # "<cell type>: <direction> <behaviour>"
    sources: list[str]  # every source cited by its schedule, PK and rules

    @property
    def name(self) -> str:
        return self.drug.name

    def schedule(self) -> str:
        """The dosing schedule in words, e.g. '840 mg every 14 d' or '170 mg on d 0, 7, 14 of 28 d'."""
        d = self.drug
        if d.dose is not None:
            amount = f"{d.dose.value:g} mg"
        elif d.unit == "dimensionless":
            amount = "one dose" if d.peak == 1 else f"{d.peak:g} (relative activity)"
        else:
            amount = f"{d.peak:g} {d.unit}"
        days = d.interval.value / MINUTES_PER_DAY
        every = f"{days:g} d" if days >= 1 else f"{d.interval.value / 60:g} h"
        if len(d.offsets) == 1:
            text = f"{amount} every {every}"
        else:
            offs = [o / MINUTES_PER_DAY for o in d.offsets]
            text = f"{amount} on d {', '.join(f'{o:g}' for o in offs)} of {every}"
        if d.cycles is not None:
            text += f", {d.cycles} cycle{'s' if d.cycles > 1 else ''}"
        return text

    def half_life(self) -> str:
        minutes = self.drug.half_life.value
        if minutes >= 2 * MINUTES_PER_DAY:
            return f"{minutes / MINUTES_PER_DAY:g} d"
        if minutes >= 120:
            return f"{minutes / 60:g} h"
        return f"{minutes:g} min"


@dataclass(frozen=True)
class TherapyInfo:
    name: str
    description: str
    source: str
    drugs: list[DrugInfo]

    @property
    def targets(self) -> list[str]:
        out: list[str] = []
        for d in self.drugs:
            out += [t for t in d.targets if t not in out]
        return out

    @property
    def sources(self) -> list[str]:
        out = [self.source] if self.source else []
        for d in self.drugs:
            out += [s for s in d.sources if s not in out]
        return out


def _sources_of(raw: dict) -> list[str]:
    out = []
    for key, v in raw.items():
        if key == "source" and isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out += _sources_of(v)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, dict):
                    out += _sources_of(x)
    return out


def _drug_info(name: str) -> DrugInfo:
    cat = therapy_catalog()
    raw = dict(cat.drugs[name])
    drug = Drug.model_validate({**raw, "name": name})
    rules = cat.rules_of(name)
    targets: list[str] = []
    for r in rules:
        if r["cell_type"] not in targets:
            targets.append(r["cell_type"])
    effects = [f"{r['cell_type']}: {r['direction']} {r['behaviour']}" for r in rules]
    sources = []
    for s in _sources_of(raw) + [r.get("source", "") for r in rules]:
        if s and s not in sources:
            sources.append(s)
    return DrugInfo(drug=drug, targets=targets, effects=effects, sources=sources)


def list_therapies() -> list[str]:
    """Names of the catalog's therapies (regimens), in catalog order."""
    return list(therapy_catalog().therapies)


def therapy_info(name: str) -> TherapyInfo:
    """One catalog therapy with its drugs resolved; unknown names list the known ones."""
    from tmesim.model.therapies import suggest

    cat = therapy_catalog()
    if name not in cat.therapies:
        raise ModelError("therapy", f"unknown therapy {name!r}; {suggest(name, list(cat.therapies))}")
    reg = cat.therapies[name]
    return TherapyInfo(name=name, description=reg.get("description", ""), source=reg.get("source", ""),
                       drugs=[_drug_info(d) for d in cat.drug_names(name)])


def therapy_table() -> pd.DataFrame:
    """One row per (therapy, drug): targets, schedule, half-life, steady-state peak, sources."""
    rows = []
    for name in list_therapies():
        info = therapy_info(name)
        for d in info.drugs:
            peak, trough = steady_state(d.drug) if len(d.drug.offsets) == 1 and d.drug.cycles is None else (None, None)
            rows.append({
                "therapy": name, "drug": d.name, "targets": ", ".join(d.targets), "effects": "; ".join(d.effects),
                "schedule": d.schedule(), "half_life": d.half_life(), "unit": d.drug.unit,
                "peak_per_dose": d.drug.peak, "steady_peak": peak, "steady_trough": trough,
                "description": info.description, "sources": " | ".join(info.sources),
            })
    return pd.DataFrame(rows)


__all__ = ["DrugInfo", "TherapyInfo", "list_therapies", "therapy_info", "therapy_table"]
