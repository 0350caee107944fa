"""Parameter spaces: which model parameters vary, over which range, on which scale.

A space is a small YAML file (see ``docs/calibration.md``)::

    model: tnbc                      # preset name or model file
    parameters:
      - address: "cell_types[cancer].cycle entry"        # a base behaviour value
        fold: 2                                          # model value / 2 .. × 2
      - address: "rules[CD8_T_cell|adenosine|decreases|attack cancer].half_max"
        fold: 3
      - address: body.primary.doubling_time              # any number of the body section
        range: ["50 day", "300 day"]                    # numbers: the parameter's stored unit
        scale: log                                       # log (default) or linear

Addresses name what a validated model stores, in its canonical unit (rates 1/min, times
min, concentrations in the substrate's unit): a rule's ``half_max`` or ``saturation``, a cell
type's base behaviour value, or a number in ``body`` (dotted path; organs and EMT classes by
name). :func:`apply_params` returns a copy of a model with new values: the model itself is
never changed, so one loaded model serves every simulation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tmesim.model import Model, ModelError, Param

ADDRESS_FORMS = (
    "rules[<cell_type>|<signal>|<increases|decreases>|<behaviour>].half_max",
    "rules[<cell_type>|<signal>|<increases|decreases>|<behaviour>].saturation",
    "cell_types[<name>].<behaviour>",
    "body.<section>.<field> (e.g. body.primary.doubling_time, body.organs.lung.arrest_single)",
)
_RULE = re.compile(r"^rules\[([^|\]]+)\|([^|\]]+)\|(increases|decreases)\|([^|\]]+)\]\.(half_max|saturation)$")
_CELL = re.compile(r"^cell_types\[([^\]]+)\]\.(.+)$")


def _bad(address: str, why: str) -> ModelError:
    return ModelError(f"parameters: {address!r}", f"{why}; valid forms: {'; '.join(ADDRESS_FORMS)}")


@dataclass(frozen=True)
class Address:
    """A parsed parameter address: ``kind`` rule | cell | body and its keys."""

    text: str
    kind: Literal["rule", "cell", "body"]
    keys: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Address:
        t = text.strip()
        if m := _RULE.match(t):
            return cls(t, "rule", tuple(s.strip() for s in m.groups()))
        if m := _CELL.match(t):
            return cls(t, "cell", (m.group(1).strip(), m.group(2).strip()))
        if t.startswith("body.") and len(t) > 5:
            return cls(t, "body", tuple(t[5:].split(".")))
        raise _bad(t, "not a parameter address")

    # ------------------------------------------------------------------ access
    def _rule(self, model: Model) -> Any:
        ct, sig, direction, beh, _ = self.keys
        hits = [r for r in model.rules if (r.cell_type, r.signal, r.direction, r.behaviour) == (ct, sig, direction, beh)]
        if not hits:
            near = [f"{r.cell_type}|{r.signal}|{r.direction}|{r.behaviour}" for r in model.rules if r.cell_type == ct][:8]
            raise _bad(self.text, f"model {model.name!r} has no such rule" + (f" (rules of {ct}: {', '.join(near)})" if near else ""))
        return hits[0]

    def _body_parent(self, model: Model) -> tuple[Any, str]:
        node: Any = model.body
        if node is None:
            raise _bad(self.text, f"model {model.name!r} has no body section")
        for k in self.keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else getattr(node, k, None)
            if node is None:
                raise _bad(self.text, f"the body has no {k!r} here")
        last = self.keys[-1]
        value = node.get(last) if isinstance(node, dict) else getattr(node, last, None)
        if not isinstance(value, Param):
            raise _bad(self.text, "not a number of the body section")
        return node, last

    def get(self, model: Model) -> float:
        """The parameter's value in ``model`` (canonical unit)."""
        if self.kind == "rule":
            return float(getattr(self._rule(model), self.keys[4]))
        if self.kind == "cell":
            name, beh = self.keys
            if name not in model.cell_type_names:
                raise _bad(self.text, f"unknown cell type {name!r} (model has {', '.join(model.cell_type_names)})")
            ct = model.cell_type(name)
            if beh not in ct.behaviours:
                raise _bad(self.text, f"{name} has no base value for {beh!r} (it has: {', '.join(ct.behaviours)})")
            return float(ct.behaviours[beh].value)
        node, last = self._body_parent(model)
        return float((node[last] if isinstance(node, dict) else getattr(node, last)).value)

    def unit(self, model: Model) -> str:
        """The unit the value is stored in (for range strings and tables)."""
        if self.kind == "cell":
            return model.cell_type(self.keys[0]).behaviours[self.keys[1]].unit
        if self.kind == "body":
            node, last = self._body_parent(model)
            return (node[last] if isinstance(node, dict) else getattr(node, last)).unit
        sig = self.keys[1]
        if self.keys[4] == "half_max":
            return model.substrate(sig).unit if sig in model.substrate_names else ("minute" if sig == "time" else "dimensionless")
        base = [ct.behaviours.get(self.keys[3]) for ct in model.cell_types]
        units = [p.unit for p in base if p is not None]
        return units[0] if units else ""

    def own(self, model: Model) -> None:
        """Give ``model`` private copies of the objects on this address's path (``model`` itself
        a shallow copy): cheaper than a deep copy of the whole model for each simulation."""
        if self.kind == "rule":
            target = self._rule(model)
            rules = [r.model_copy() if r is target else r for r in model.rules]
            object.__setattr__(model, "rules", rules)
        elif self.kind == "cell":
            cts = list(model.cell_types)
            for i, ct in enumerate(cts):
                if ct.name == self.keys[0]:
                    c = ct.model_copy()
                    object.__setattr__(c, "behaviours", dict(ct.behaviours))
                    cts[i] = c
            object.__setattr__(model, "cell_types", cts)
        else:
            if model.body is None:
                raise _bad(self.text, f"model {model.name!r} has no body section")
            node: Any = model.body.model_copy()
            object.__setattr__(model, "body", node)
            for k in self.keys[:-1]:
                child = node.get(k) if isinstance(node, dict) else getattr(node, k, None)
                if child is None:
                    raise _bad(self.text, f"the body has no {k!r} here")
                copy = dict(child) if isinstance(child, dict) else child.model_copy()
                if isinstance(node, dict):
                    node[k] = copy
                else:
                    object.__setattr__(node, k, copy)
                node = copy

    def set(self, model: Model, value: float, source: str | None = None) -> None:
        """Set the value in ``model`` in place (``model`` must be a private copy)."""
        value = float(value)
        if self.kind == "rule":
            rule = self._rule(model)
            object.__setattr__(rule, self.keys[4], value)
            if source is not None:
                object.__setattr__(rule, "source", source)
            return
        if self.kind == "cell":
            ct = model.cell_type(self.keys[0])
            old = ct.behaviours[self.keys[1]]
            ct.behaviours[self.keys[1]] = Param(value=value, unit=old.unit, source=source or old.source)
            return
        node, last = self._body_parent(model)
        old = node[last] if isinstance(node, dict) else getattr(node, last)
        new = Param(value=value, unit=old.unit, source=source or old.source)
        if isinstance(node, dict):
            node[last] = new
        else:
            object.__setattr__(node, last, new)


def _quantity(raw: Any, unit: str, where: str) -> float:
    """A range bound: a number in the stored unit, or a string with its own unit."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    from tmesim.model.units import registry

    try:
        q = registry().Quantity(str(raw))
        return float(q.to(unit or "dimensionless").magnitude)
    except Exception:  # noqa: BLE001 - pint raises many types; all mean "not this unit"
        raise ModelError(where, f"{raw!r} is not a quantity convertible to {unit or 'a plain number'}") from None


class ParameterSpec(BaseModel):
    """One varied parameter: an address and either a ``range`` or a ``fold`` around the model value."""

    model_config = ConfigDict(extra="forbid")
    address: str
    name: str | None = Field(default=None, description="short label for tables (default: the address)")
    range: tuple[float | str, float | str] | None = Field(default=None, description="[low, high]; numbers in the stored unit or strings with units")
    fold: float | None = Field(default=None, gt=1.0, description="model value / fold .. model value × fold")
    scale: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _one(self) -> ParameterSpec:
        if (self.range is None) == (self.fold is None):
            raise ValueError("give exactly one of range: [low, high] or fold: <number > 1>")
        return self


class SpaceSpec(BaseModel):
    """A parameter space with the simulation settings its outputs are read under."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="preset name or model file")
    engine: Literal["meanfield", "spatial"] = "meanfield"
    days: float = Field(default=28.0, gt=0, description="section days for section outputs")
    patients: int = Field(default=16, ge=1, description="virtual patients for cohort outputs")
    patient_seed: int = Field(default=0, description="seed of the virtual patients (the same in every simulation)")
    variability: bool = Field(default=True, description="false: every patient is the model itself (a typical patient; "
                              "only the body model's seed differs)")
    follow_up: float = Field(default=730.0, gt=0, description="days after diagnosis for body outputs")
    trial: str | None = Field(default=None, description="trial file for the trial_hr output")
    parameters: list[ParameterSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Dimension:
    """One resolved dimension: bounds in the stored unit and the model value."""

    name: str
    address: Address
    low: float
    high: float
    value: float
    unit: str
    scale: str

    def to_unit(self, x: np.ndarray | float) -> np.ndarray:
        """Stored value -> the sampling coordinate (log10 or linear)."""
        return np.log10(x) if self.scale == "log" else np.asarray(x, float)

    def from_unit(self, u: np.ndarray | float) -> np.ndarray:
        return np.power(10.0, u) if self.scale == "log" else np.asarray(u, float)

    @property
    def bounds(self) -> tuple[float, float]:
        return float(self.to_unit(self.low)), float(self.to_unit(self.high))


@dataclass(frozen=True)
class Space:
    """A validated space over one loaded model (picklable)."""

    spec: SpaceSpec
    model: Model
    dims: tuple[Dimension, ...]
    base: Path | None = None

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def model_values(self) -> dict[str, float]:
        return {d.name: d.value for d in self.dims}

    def table(self):  # noqa: ANN201 - pandas DataFrame
        import pandas as pd

        return pd.DataFrame([{"name": d.name, "address": d.address.text, "value": d.value, "low": d.low,
                              "high": d.high, "unit": d.unit, "scale": d.scale} for d in self.dims])


def apply_params(model: Model, space: Space | None, params: dict[str, float],
                 addresses: dict[str, Address] | None = None, source: str | None = None) -> Model:
    """A copy of ``model`` with ``params`` (name -> value in the stored unit) set.

    Names are those of ``space`` (or keys of ``addresses``); unknown names are an error."""
    index = addresses if addresses is not None else {d.name: d.address for d in (space.dims if space else ())}
    unknown = sorted(set(params) - set(index))
    if unknown:
        raise ModelError("params", f"unknown parameter(s) {unknown}; allowed: {', '.join(index)}")
    out = model.model_copy()  # shallow: only the objects on each address's path are copied
    for name, value in params.items():
        if not np.isfinite(value):
            raise ModelError(f"params: {name}", f"must be a finite number, got {value}")
        index[name].own(out)
        index[name].set(out, float(value), source)
    return out


def _fmt(exc: ValidationError) -> str:
    e = exc.errors()[0]
    loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}"


def resolve_model_ref(ref: str, base: Path | None = None) -> Model:
    from tmesim.model import load_model
    from tmesim.presets import preset_path

    p = Path(ref)
    if ref.endswith((".yaml", ".yml")):
        if not p.is_absolute() and base is not None and (base / p).exists():
            p = base / p
        return load_model(p)
    try:
        return load_model(preset_path(ref))
    except Exception:  # noqa: BLE001 - preset_path raises for unknown names
        from tmesim.presets import available

        raise ModelError("model", f"{ref!r} is neither a preset nor a .yaml file; presets: {', '.join(available())}") from None


def build_space(spec: SpaceSpec, model: Model | None = None, base: Path | None = None) -> Space:
    """Resolve every address against the model; errors name the address and the valid forms."""
    model = model or resolve_model_ref(spec.model, base)
    dims: list[Dimension] = []
    for k, p in enumerate(spec.parameters):
        addr = Address.parse(p.address)
        value = addr.get(model)
        unit = addr.unit(model)
        where = f"parameters[{k}] ({p.address})"
        if p.fold is not None:
            low, high = value / p.fold, value * p.fold
        else:
            assert p.range is not None
            low, high = (_quantity(x, unit, where) for x in p.range)
        if not low < high:
            raise ModelError(where, f"needs low < high, got [{low}, {high}] {unit}"
                             + (" (the model value is 0: give a range instead of a fold)" if value == 0 else ""))
        if p.scale == "log" and low <= 0:
            raise ModelError(where, f"a log scale needs low > 0, got {low}; use scale: linear")
        dims.append(Dimension(p.name or p.address, addr, float(low), float(high), value, unit, p.scale))
    names = [d.name for d in dims]
    if len(set(names)) != len(names):
        raise ModelError("parameters", f"names must be unique, got {names}")
    return Space(spec, model, tuple(dims), base)


def load_space(path: str | Path, model: Model | None = None) -> Space:
    """Read and resolve a space YAML."""
    p = Path(path)
    if not p.exists():
        raise ModelError(str(p), "space file does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelError(str(p), f"not valid YAML: {exc}") from None
    try:
        spec = SpaceSpec.model_validate(data)
    except ValidationError as exc:
        raise ModelError(p.name, _fmt(exc)) from None
    return build_space(spec, model, p.parent)


__all__ = ["ADDRESS_FORMS", "Address", "Dimension", "ParameterSpec", "Space", "SpaceSpec", "apply_params",
           "build_space", "load_space", "resolve_model_ref"]
