"""The therapy catalog as data, and the expansion of a model's ``therapies`` into drugs + rules.

The catalog lives in ``src/tmesim/data/``: ``therapies.yaml`` (drugs with their
schedule and PK, regimens made of drugs, each number with its source) and
``therapy_rules.csv`` (the drugs' effects, in the rules grammar, with signal ``drug <name>``).
This module only reads those files (it imports nothing of ``tmesim.therapy``), so that a
model naming a therapy validates wherever ``tmesim.model`` is importable; the user-facing
API (listing, CLI specs, :func:`tmesim.therapy.apply_therapies`) is ``tmesim.therapy``.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from tmesim._resources import data_path

from .errors import ModelError
from .grammar import DRUG_PREFIX
from .params import parse_param

if TYPE_CHECKING:
    from .schema import Model

CATALOG_DIR = data_path("tmesim.data")
CATALOG_FILE = CATALOG_DIR / "therapies.yaml"


@dataclass(frozen=True)
class TherapyCatalog:
    """The catalog's raw entries: ``drugs`` and ``therapies`` by name, and the effect rules."""

    drugs: dict[str, dict[str, Any]]
    therapies: dict[str, dict[str, Any]]
    rules: list[dict[str, Any]]

    def drug_names(self, therapy: str) -> list[str]:
        return [_item_name(it) for it in self.therapies[therapy]["drugs"]]

    def rules_of(self, drug: str) -> list[dict[str, Any]]:
        return [r for r in self.rules if r["signal"] == f"{DRUG_PREFIX}{drug}"]


def _item_name(item: Any) -> str:
    return item if isinstance(item, str) else item["drug"]


@lru_cache(maxsize=4)
def _load(path: str) -> TherapyCatalog:
    from .rules_csv import read_rules_csv

    p = Path(path)
    if not p.exists():
        raise ModelError("therapies", f"therapy catalog {str(p)!r} does not exist")
    data = yaml.safe_load(p.read_text())
    rules_path = p.parent / data.get("rules", "therapy_rules.csv")
    rules = read_rules_csv(rules_path)
    drugs = data.get("drugs") or {}
    therapies = data.get("therapies") or {}
    for name, reg in therapies.items():
        for item in reg.get("drugs", []):
            if _item_name(item) not in drugs:
                raise ModelError(f"{p.name}: therapies[{name}].drugs", f"unknown drug {_item_name(item)!r}; allowed: {', '.join(drugs)}")
    return TherapyCatalog(drugs=drugs, therapies=therapies, rules=rules)


def therapy_catalog(path: str | Path | None = None) -> TherapyCatalog:
    """The shipped therapy catalog (or the one at ``path``), read once."""
    return _load(str(Path(path) if path is not None else CATALOG_FILE))


def suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"allowed: {', '.join(allowed)}.{hint}"


def _pydantic_message(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return loc, msg


def expand_therapies(model: Model) -> None:
    """Append the drugs and rules of every not-yet-expanded entry of ``model.therapies`` (in place).

    Rules for cell types or behaviours the model does not have are left out (a therapy acts
    on what is there); a therapy with no applicable rule at all is an error.
    """
    from .drugs import Drug
    from .schema import Rule

    if not model.therapies:
        return
    cat = therapy_catalog()
    expanded = {d.therapy for d in model.drugs if d.therapy}
    taken = {d.name: d.therapy for d in model.drugs}
    types = set(model.cell_type_names)
    behaviours = {b.name for b in model.behaviours()}
    drugs: list[Drug] = list(model.drugs)
    rules: list[Rule] = list(model.rules)
    seen: set[str] = set()
    for i, entry in enumerate(model.therapies):
        if entry.name in seen:
            raise ModelError(f"therapies[{i}].name", f"therapy {entry.name!r} is listed twice; give it once "
                                                     "(change its schedule with overrides)")
        seen.add(entry.name)
    for i, entry in enumerate(model.therapies):
        field = f"therapies[{i}]"
        if entry.name in expanded:
            continue
        if entry.name not in cat.therapies:
            raise ModelError(f"{field}.name", f"unknown therapy {entry.name!r}; {suggest(entry.name, list(cat.therapies))}")
        names = cat.drug_names(entry.name)
        bad = sorted(set(entry.overrides) - set(names) - {"*"})
        if bad:
            raise ModelError(f"{field}.overrides", f"{bad} not in therapy {entry.name!r}; allowed: {', '.join(names)}, or '*' for all its drugs")
        n_rules = 0
        for item in cat.therapies[entry.name]["drugs"]:
            dname = _item_name(item)
            raw = copy.deepcopy(cat.drugs[dname])
            raw.pop("name", None)
            delay = 0.0
            if isinstance(item, dict):
                extra = {k: v for k, v in item.items() if k != "drug"}
                delay = parse_param(extra.pop("delay", 0.0), "time").value
                raw.update(extra)
            raw.update(entry.overrides.get("*", {}))
            raw.update(entry.overrides.get(dname, {}))
            raw.update(name=dname, therapy=entry.name, start=entry.start.value + delay)
            try:
                drug = Drug.model_validate(raw)
            except ValidationError as exc:
                loc, msg = _pydantic_message(exc)
                where = f"{field}.overrides[{dname}]" if dname in entry.overrides or "*" in entry.overrides else f"{field} ({dname})"
                raise ModelError(f"{where}.{loc}" if loc else where, msg) from None
            except ModelError as exc:
                raise ModelError(f"{field} ({dname}).{exc.field}", exc.message) from None
            if dname in taken:
                other = taken[dname]
                raise ModelError(f"{field}.name", f"drug {dname!r} of therapy {entry.name!r} is already given "
                                 f"{'by therapy ' + repr(other) if other else 'in drugs'}; a drug can have one schedule "
                                 "per model (choose one of the regimens or change its schedule with overrides)")
            taken[dname] = entry.name
            drugs.append(drug)
            for r in cat.rules_of(dname):
                if r["cell_type"] in types and r["behaviour"] in behaviours:
                    rules.append(Rule.model_validate(copy.deepcopy(r)))
                    n_rules += 1
        if n_rules == 0:
            targets = sorted({r["cell_type"] for d in names for r in cat.rules_of(d)})
            raise ModelError(f"{field}.name", f"therapy {entry.name!r} acts on {', '.join(targets)}, none of which "
                                              "(with the behaviours it changes) is in this model")
        expanded.add(entry.name)
    object.__setattr__(model, "drugs", drugs)
    object.__setattr__(model, "rules", rules)


__all__ = ["CATALOG_DIR", "CATALOG_FILE", "TherapyCatalog", "expand_therapies", "suggest", "therapy_catalog"]
