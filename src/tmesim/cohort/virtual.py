"""Virtual patients: a seeded population of model variants of one subtype.

Between-patient variability is data (``cohort/data/patient_variability.csv``): each row
names a model parameter (``target``), a distribution and its source. A patient's factors
are drawn from its own generator, child ``i`` of ``SeedSequence(seed)``, so patient ``i``
is the same whatever ``n`` is, and a cohort is reproducible from (model, n, seed).

A ``drug:<cell type>:<behaviour>`` target scales the saturation of the increasing rules of
that cell type and behaviour whose signal is a drug (``drug <name>``): how strongly the
patient's tumor responds to whatever drug the arm gives (e.g. its taxane sensitivity). Drug
rules exist only in a treated model, so these rows act when the therapy is added
(:func:`drug_variation`; :func:`tmesim.cohort.patient.treated_patient` applies them with the
others); on an untreated model they change nothing.

>>> import tmesim
>>> from tmesim.cohort import sample_patients
>>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
>>> a = sample_patients(model, 5, seed=1)
>>> b = sample_patients(model, 8, seed=1)
>>> bool((a == b.iloc[:5]).all().all())
True
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from tmesim._resources import data_path
from tmesim.model import Model, ModelError, model_from_dict
from tmesim.model.derive import derive, scaled
from tmesim.model.grammar import DRUG_PREFIX

VARIABILITY_FILE = data_path("tmesim.cohort", "data", "patient_variability.csv")
DISTRIBUTIONS = ("lognormal", "normal", "bernoulli")
TARGET_KINDS = ("cell", "rule", "initial", "state", "body", "drug")


@dataclass(frozen=True)
class Variation:
    """One row of the variability table."""

    subtype: str
    name: str
    target: str
    distribution: str
    sigma: float
    p: float
    factor_true: float
    factor_false: float
    exponent: float
    source: str


def _f(x: str) -> float:
    return float(x) if x.strip() else float("nan")


@lru_cache(maxsize=4)
def read_variability(path: str | None = None) -> tuple[Variation, ...]:
    """The variability table (``#`` lines are comments); errors name the row and column."""
    p = Path(path) if path else VARIABILITY_FILE
    lines = [ln for ln in p.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = []
    for k, r in enumerate(csv.DictReader(io.StringIO("\n".join(lines)))):
        where = f"{p.name} row {k + 1}"
        if r["distribution"] not in DISTRIBUTIONS:
            raise ModelError(f"{where}: distribution", f"{r['distribution']!r}; allowed: {', '.join(DISTRIBUTIONS)}")
        if r["target"].split(":", 1)[0] not in TARGET_KINDS:
            raise ModelError(f"{where}: target", f"{r['target']!r}; allowed kinds: {', '.join(TARGET_KINDS)}")
        if not r.get("source", "").strip():
            raise ModelError(f"{where}: source", "every variability row needs a source (or 'assumption: ...')")
        try:  # the factor's power for this row (empty: 1); lets one draw act on several targets unequally
            exponent = float((r.get("exponent") or "").strip() or 1.0)
        except ValueError:
            exponent = float("nan")
        if not np.isfinite(exponent):
            raise ModelError(f"{where}: exponent", f"{r.get('exponent')!r}; allowed: a finite number (empty means 1)")
        rows.append(Variation(r["subtype"].strip() or "*", r["name"].strip(), r["target"].strip(), r["distribution"],
                              _f(r["sigma"]), _f(r["p"]), _f(r["factor_true"]), _f(r["factor_false"]), exponent,
                              r["source"]))
    return tuple(rows)


def variations_for(model: Model, path: str | None = None) -> list[Variation]:
    """Rows that apply to ``model`` (its name is the subtype; ``*`` rows apply to all)."""
    return [v for v in read_variability(path) if v.subtype in ("*", model.name)]


def patient_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """One independent seed sequence per patient (child i of SeedSequence(seed))."""
    return np.random.SeedSequence(int(seed)).spawn(int(n))


def sample_patients(model: Model, n: int, seed: int = 0, path: str | None = None) -> pd.DataFrame:
    """``n`` virtual patients: ``patient_id``, ``seed`` (for stochastic engines and the body
    model), and one column per variability name (a factor, or a bool status for bernoulli)."""
    if n < 1:
        raise ModelError("n", f"a cohort needs at least 1 patient, got {n}")
    rows = variations_for(model, path)
    names = list(dict.fromkeys(v.name for v in rows))
    first = {nm: next(v for v in rows if v.name == nm) for nm in names}
    out: list[dict[str, Any]] = []
    for i, ss in enumerate(patient_seeds(seed, n)):
        rng = np.random.default_rng(ss)
        rec: dict[str, Any] = {"patient_id": i, "seed": int(ss.generate_state(1, np.uint32)[0])}
        for nm in names:  # one standard normal (or uniform) per name, in table order
            v = first[nm]
            if v.distribution == "bernoulli":
                rec[nm] = bool(rng.random() < v.p)
            else:
                z = float(rng.standard_normal())
                rec[nm] = float(np.exp(v.sigma * z)) if v.distribution == "lognormal" else max(0.05, 1.0 + v.sigma * z)
        out.append(rec)
    return pd.DataFrame(out)


def _factor(v: Variation, value: Any) -> float:
    f = (v.factor_true if bool(value) else v.factor_false) if v.distribution == "bernoulli" else float(value)
    return float(f) ** v.exponent


def _scale(entry: Any, f: float, clip: bool = False) -> Any:
    if isinstance(entry, dict) and "value" in entry:
        entry["value"] = float(entry["value"]) * f
        return entry
    x = float(entry) * f
    return min(1.0, x) if clip else x


def apply_variation(data: dict[str, Any], v: Variation, f: float) -> None:
    """Multiply the target of ``v`` in a model dict (``Model.model_dump(mode='json')``) by ``f``."""
    kind, _, rest = v.target.partition(":")
    types = {ct["name"]: ct for ct in data["cell_types"]}
    where = f"patient_variability: {v.name} ({v.target})"
    if kind == "cell":
        t, _, beh = rest.partition(":")
        if t in types and beh in (types[t].get("behaviours") or {}):
            types[t]["behaviours"][beh] = _scale(types[t]["behaviours"][beh], f)
    elif kind == "rule":
        t, sig, beh = (rest.split(":") + ["", ""])[:3]
        for r in data["rules"]:
            if r["cell_type"] == t and r["signal"] == sig and r["behaviour"] == beh and r["direction"] == "increases":
                r["saturation"] = float(r["saturation"]) * f
    elif kind == "drug":
        for r in data["rules"]:
            if _drug_rule(r["cell_type"], r["signal"], r["behaviour"], r["direction"], rest):
                r["saturation"] = float(r["saturation"]) * f
    elif kind == "initial":
        for pl in data.get("initial") or []:
            if pl["cell_type"] == rest:
                for key in ("fraction", "density"):
                    if pl.get(key) is not None:
                        pl[key] = min(1.0, float(pl[key]) * f) if key == "fraction" else float(pl[key]) * f
    elif kind == "state":
        t, _, var = rest.partition(":")
        if t in types and var in (types[t].get("initial_state") or {}):
            types[t]["initial_state"][var] = _scale(types[t]["initial_state"][var], f, clip=True)
    elif kind == "body":
        if data.get("body") is None:
            return
        node: Any = data["body"]
        keys = rest.split(".")
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
            if node is None:
                raise ModelError(where, f"the model's body has no {rest!r}")
        if keys[-1] not in node:
            raise ModelError(where, f"the model's body has no {rest!r}")
        node[keys[-1]] = _scale(node[keys[-1]], f)


def patient_model(model: Model, row: dict[str, Any] | pd.Series, path: str | None = None,
                  validate: bool = False, base_rules: int | None = None) -> Model:
    """The model of one virtual patient: ``model`` with the row's factors applied.

    ``model`` is validated already, so by default the patient's model is derived from it
    (:func:`tmesim.model.derive.derive`: only the changed objects are checked, no unit is
    parsed again); ``validate=True`` dumps and validates it whole instead (the reference the
    fast path is tested against). ``base_rules``: rule targets act on the first ``base_rules``
    rules only (a treated template's own drug rules, appended after them, are not varied, as
    when the variation is applied before the treatment); ``drug:`` targets act on the drug rules
    whatever ``base_rules`` is.
    """
    if validate:
        data = model.model_dump(mode="json")
        if base_rules is not None:
            extra, data["rules"] = data["rules"][base_rules:], data["rules"][:base_rules]
        for v in variations_for(model, path):
            if v.name in row:
                apply_variation(data, v, _factor(v, row[v.name]))
        if base_rules is not None:
            data["rules"] += extra
        return model_from_dict(data)
    return _derived(model, [(v, _factor(v, row[v.name])) for v in variations_for(model, path) if v.name in row],
                    len(model.rules) if base_rules is None else base_rules)


def _derived(model: Model, factors: list[tuple[Variation, float]], n_rules: int) -> Model:
    """:func:`apply_variation` on a validated model (same targets, same order of factors)."""
    index = {ct.name: i for i, ct in enumerate(model.cell_types)}
    cell_types, rules, initial = list(model.cell_types), list(model.rules), list(model.initial)
    body = model.body
    changed: set[str] = set()
    for v, f in factors:
        kind, _, rest = v.target.partition(":")
        if kind == "cell":
            t, _, beh = rest.partition(":")
            if t in index and beh in cell_types[index[t]].behaviours:
                ct = cell_types[index[t]]
                cell_types[index[t]] = derive(ct, behaviours={**ct.behaviours, beh: scaled(ct.behaviours[beh], f)})
                changed.add("cell_types")
        elif kind == "rule":
            t, sig, beh = (rest.split(":") + ["", ""])[:3]
            for i, r in enumerate(rules[:n_rules]):
                if r.cell_type == t and r.signal == sig and r.behaviour == beh and r.direction == "increases":
                    rules[i] = derive(r, saturation=float(r.saturation) * f)
                    changed.add("rules")
        elif kind == "drug":  # drug rules follow the base rules of a treated template: all rules
            for i, r in enumerate(rules):
                if _drug_rule(r.cell_type, r.signal, r.behaviour, r.direction, rest):
                    rules[i] = derive(r, saturation=float(r.saturation) * f)
                    changed.add("rules")
        elif kind == "initial":
            for i, pl in enumerate(initial):
                if pl.cell_type == rest:
                    upd = {}
                    if pl.fraction is not None:
                        upd["fraction"] = min(1.0, float(pl.fraction) * f)
                    if pl.density is not None:
                        upd["density"] = float(pl.density) * f
                    initial[i] = derive(pl, **upd)
                    changed.add("initial")
        elif kind == "state":
            t, _, var = rest.partition(":")
            if t in index and var in cell_types[index[t]].initial_state:
                ct = cell_types[index[t]]
                cell_types[index[t]] = derive(ct, initial_state={**ct.initial_state,
                                                                 var: scaled(ct.initial_state[var], f, clip=True)})
                changed.add("cell_types")
        elif kind == "body" and body is not None:
            body = _scaled_at(body, rest.split("."), f, f"patient_variability: {v.name} ({v.target})", rest)
            changed.add("body")
    if not changed:
        return model
    new = {"cell_types": cell_types, "rules": rules, "initial": initial, "body": body}
    return derive(model, **{k: new[k] for k in sorted(changed)})


def _drug_rule(cell_type: str, signal: str, behaviour: str, direction: str, rest: str) -> bool:
    """Whether a rule is an increasing drug rule of the ``<cell type>:<behaviour>`` in ``rest``."""
    t, _, beh = rest.partition(":")
    return cell_type == t and behaviour == beh and direction == "increases" and signal.startswith(DRUG_PREFIX)


def drug_variation(model: Model, row: dict[str, Any] | pd.Series, path: str | None = None,
                   validate: bool = False) -> Model:
    """``model`` (treated: with its drugs' rules) with only the row's ``drug:`` factors applied,
    for a model whose other factors were applied before the therapy was added (``validate``: as
    :func:`patient_model`)."""
    rows = [v for v in variations_for(model, path) if v.name in row and v.target.startswith("drug:")]
    if not rows:
        return model
    if validate:
        data = model.model_dump(mode="json")
        for v in rows:
            apply_variation(data, v, _factor(v, row[v.name]))
        return model_from_dict(data)
    return _derived(model, [(v, _factor(v, row[v.name])) for v in rows], len(model.rules))


def _scaled_at(node: Any, keys: list[str], f: float, where: str, rest: str) -> Any:
    """``node`` (a pydantic object or a dict) with the value at the dotted path ``keys`` times ``f``."""
    is_model = isinstance(node, BaseModel)
    has = keys[0] in (type(node).model_fields if is_model else node) if isinstance(node, BaseModel | dict) else False
    child = (getattr(node, keys[0]) if is_model else node[keys[0]]) if has else None
    if child is None:
        raise ModelError(where, f"the model's body has no {rest!r}")
    value = scaled(child, f) if len(keys) == 1 else _scaled_at(child, keys[1:], f, where, rest)
    return derive(node, **{keys[0]: value}) if is_model else {**node, keys[0]: value}


def variability_table(model: Model | None = None) -> pd.DataFrame:
    """The variability rows (for ``model``'s subtype, or all) as a DataFrame, for reports."""
    rows = variations_for(model) if model is not None else list(read_variability())
    return pd.DataFrame([v.__dict__ for v in rows])


__all__ = ["VARIABILITY_FILE", "Variation", "apply_variation", "drug_variation", "patient_model", "patient_seeds",
           "read_variability", "sample_patients", "variability_table", "variations_for"]
