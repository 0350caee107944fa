"""Minimal in-silico co-cultures cut out of the shipped catalog, for rule knockout experiments.

A claim of the review is shown by comparing the co-culture with and without the rules that
implement it (same seeds, so each knockout run has a twin with the same initial tissue and
random streams) and asserting the readout moves the way the literature reports.

The co-culture keeps only the cell types an experiment names, the rules among them and the
substrates those rules and cell types use (every other catalog cell type, rule and field is
dropped), on a small well-oxygenated lattice, either a section of tissue (secreted factors
leave through the edge, as in the catalog) or ``closed`` like a culture well (no-flux
boundaries, for slow paracrine effects that an absorbing edge 0.25 mm away would drain): a run of one or two days takes about a second,
so one knockout over several seeds takes seconds. Rules keep their catalog parameters; only
the layout is the experiment's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy.stats import ttest_rel

import tmesim
from conftest import build, preset_dict
from tmesim.engine import kernels as K
from tmesim.model.grammar import SUBSTRATE_BEHAVIOURS, TYPE_BEHAVIOURS
from tmesim.model.rules_csv import read_rules_csv

SITE_UM = 20.0


def rule_key(r: dict[str, Any]) -> str:
    return f"{r['cell_type']}|{r['signal']}|{r['direction']}|{r['behaviour']}"


def _substrates_of(name: str, substrates: list[str]) -> list[str]:
    """Substrates a behaviour or signal name refers to ('tgfb secretion' -> ['tgfb'])."""
    if name in substrates:
        return [name]
    for tmpl in SUBSTRATE_BEHAVIOURS:
        pre, _, post = tmpl.partition("{s}")
        if name.startswith(pre) and name.endswith(post):
            s = name[len(pre):len(name) - len(post)] if post else name[len(pre):]
            if s in substrates:
                return [s]
    return []


def _types_of(name: str, types: list[str]) -> list[str]:
    for tmpl in TYPE_BEHAVIOURS:
        pre = tmpl.split("{t}")[0]
        if name.startswith(pre) and name[len(pre):] in types:
            return [name[len(pre):]]
    if name.startswith("contact with ") and name.removeprefix("contact with ") in types:
        return [name.removeprefix("contact with ")]
    return []


@cache
def _preset(preset: str) -> dict[str, Any]:
    d = preset_dict(preset)
    d["rules"] = read_rules_csv(d["rules"])
    return d


def coculture(types: Sequence[str], layout: list[dict[str, Any]], size: int = 24, days: float = 1.0,
              extra_rules: Iterable[dict[str, Any]] = (), preset: str = "catalog", closed: bool = False) -> dict[str, Any]:
    """The catalog reduced to ``types`` on a size×size lattice with the given initial layout
    (µm; the domain is size*20 µm wide). Rules and behaviours that name a dropped cell type or
    an unused substrate are dropped; oxygen is kept high everywhere (Dirichlet boundary and
    every cell type's oxygen uptake off), so growth is limited by the rules under test."""
    d = copy.deepcopy(_preset(preset))
    all_types = [ct["name"] for ct in d["cell_types"]]
    all_subs = [s["name"] for s in d["substrates"]]
    keep = set(types) | {"endothelial"}  # the vessels: oxygen, recruitment and intravasation sites
    layout = list(layout)
    if not any(p["cell_type"] == "endothelial" for p in layout):
        layout.append({"cell_type": "endothelial", "region": "everywhere", "density": 60})
    drop_types = [t for t in all_types if t not in keep]
    rules = [r for r in d["rules"] + list(extra_rules)
             if r["cell_type"] in keep
             and not any(t in drop_types for t in _types_of(r["signal"], all_types) + _types_of(r["behaviour"], all_types))]
    used = {"oxygen"}
    for r in rules:
        used.update(_substrates_of(r["signal"], all_subs) + _substrates_of(r["behaviour"], all_subs))
    cts = []
    for ct in d["cell_types"]:
        if ct["name"] not in keep:
            continue
        ct = copy.deepcopy(ct)
        beh = {}
        for name, val in ct.get("behaviours", {}).items():
            if any(t in drop_types for t in _types_of(name, all_types)):
                continue
            subs = _substrates_of(name, all_subs)
            if name.endswith("secretion") or name.endswith("export"):
                used.update(subs)
            beh[name] = val
        ct["behaviours"] = beh
        cts.append(ct)
    for ct in cts:  # drop behaviours on substrates nobody uses, and oxygen consumption
        ct["behaviours"] = {k: v for k, v in ct["behaviours"].items()
                            if all(s in used for s in _substrates_of(k, all_subs)) and k != "oxygen uptake"}
    d["cell_types"] = cts
    d["substrates"] = [s for s in d["substrates"] if s["name"] in used]
    for s in d["substrates"]:  # a closed well: secreted factors stay (oxygen still comes in at the edge)
        if closed and s["name"] != "oxygen":
            s["boundary"] = "no_flux"
    d["rules"] = rules
    d["initial"] = copy.deepcopy(layout)
    d["domain"] = {"dims": 2, "shape": [size, size], "site_size": f"{SITE_UM:g} um"}
    d["time"] = {"dt": "6 min", "days": days, "output_interval": "1 day", "checkpoint_interval": "1 day"}
    d.pop("body", None)
    d.pop("therapies", None)
    return d


def drop_rules(d: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """A copy of ``d`` without the rules whose key (cell_type|signal|direction|behaviour) is listed."""
    keys = set(keys)
    d = copy.deepcopy(d)
    missing = keys - {rule_key(r) for r in d["rules"]}
    assert not missing, f"rules not in the co-culture: {sorted(missing)}"
    d["rules"] = [r for r in d["rules"] if rule_key(r) not in keys]
    return d


def set_behaviour(d: dict[str, Any], cell_type: str, behaviour: str, value: float) -> dict[str, Any]:
    d = copy.deepcopy(d)
    for ct in d["cell_types"]:
        if ct["name"] == cell_type:
            ct["behaviours"][behaviour] = value
    return d


# ----------------------------------------------------------------------------- readouts
def events(sim: tmesim.engine.Simulation) -> dict[str, np.ndarray]:
    return sim.take_events()


def count_events(ev: dict[str, np.ndarray], sim: tmesim.engine.Simulation, kind: int, cell_type: str,
                 arg: str | None = None) -> float:
    names = sim.cm.type_names
    sel = (ev["kind"] == kind) & (ev["ctype"] == names.index(cell_type))
    if arg is not None:
        sel &= ev["arg"] == names.index(arg)
    return float(sel.sum())


def mean_state(sim: tmesim.engine.Simulation, cell_type: str, var: str) -> float:
    cells = sim.cells()
    live = (cells["type"] == sim.cm.type_names.index(cell_type)) & (cells["dead"] == K.ALIVE)
    return float(cells[var][live].mean()) if live.any() else 0.0


def mean_behaviour(sim: tmesim.engine.Simulation, cell_type: str, behaviour: str) -> float:
    cells = sim.cells()
    live = np.flatnonzero((cells["type"] == sim.cm.type_names.index(cell_type)) & (cells["dead"] == K.ALIVE))
    return float(np.mean([sim.behaviour_value(int(i), behaviour) for i in live])) if live.size else 0.0


def field_mean(sim: tmesim.engine.Simulation, substrate: str) -> float:
    return float(np.mean(sim.fields[sim.cm.substrate_names.index(substrate)]))


Readout = Callable[[tmesim.engine.Simulation], float]


@dataclass
class Knockout:
    """One experiment: the co-culture, the rules removed (or a model edit) and the readout."""

    claims: tuple[str, ...]
    model: dict[str, Any]
    readout: Readout
    direction: str  # "lower" or "higher": the knockout's readout against the intact co-culture
    remove: tuple[str, ...] = ()
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    days: float | None = None
    results: dict[str, list[float]] = field(default_factory=dict)

    def arms(self) -> tuple[dict[str, Any], dict[str, Any]]:
        ko = drop_rules(self.model, self.remove) if self.remove else copy.deepcopy(self.model)
        if self.edit is not None:
            ko = self.edit(ko)
        return self.model, ko

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        intact, ko = (build(m) for m in self.arms())
        days = self.days if self.days is not None else float(self.model["time"]["days"])
        a = np.array([self.readout(tmesim.engine.Simulation(intact, seed=s).run(days=days)) for s in self.seeds])
        b = np.array([self.readout(tmesim.engine.Simulation(ko, seed=s).run(days=days)) for s in self.seeds])
        return a, b


def paired_one_sided(ko: np.ndarray, intact: np.ndarray, direction: str) -> float:
    """One-sided paired t-test p-value that the knockout is lower/higher than the intact arm."""
    diff = ko - intact
    alternative = "less" if direction == "lower" else "greater"
    if np.allclose(diff, diff[0]):
        return 0.0 if (diff[0] < 0 if direction == "lower" else diff[0] > 0) else 1.0
    return float(ttest_rel(ko, intact, alternative=alternative).pvalue)


def assert_knockout(exp: Knockout, alpha: float = 0.05) -> None:
    intact, ko = exp.run()
    p = paired_one_sided(ko, intact, exp.direction)
    assert p < alpha, (f"{','.join(exp.claims)}: knockout {ko.round(4).tolist()} not {exp.direction} than intact "
                       f"{intact.round(4).tolist()} (paired one-sided t-test p={p:.3g})")
