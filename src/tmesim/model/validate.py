"""Cross-field checks and unit resolution of a Model (names, rules, behaviours, memory)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from .errors import ModelError
from .grammar import CELL_SIGNALS, DRUG_PREFIX, FIXED_SIGNALS, Behaviour
from .params import Param, parse_param
from .roles import catalog_roles, check_role
from .units import concentration_to

if TYPE_CHECKING:
    from .schema import Model

# Approximate resident bytes per lattice site for cell arrays and occupancy, and per
# substrate voxel (field, solver work array, exchange scratch); used to refuse domains
# that cannot fit before numpy fails deep inside an allocation.
BYTES_PER_SITE = 96
BYTES_PER_VOXEL = 16


def _suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(allowed[:40]) + (" …" if len(allowed) > 40 else "")
    return f"allowed: {shown}.{hint}"


def _unique(names: list[str], field: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ModelError(field, f"name {n!r} is used twice; names must be unique")
        seen.add(n)


def behaviour_param(model: Model, beh: Behaviour, raw: Any, field: str) -> Param:
    """Resolve a base or saturation value of behaviour ``beh`` to its canonical unit."""
    if beh.unit in ("conc", "conc/min"):
        unit = model.substrate(beh.arg).unit  # type: ignore[arg-type]
        source = raw.get("source") if isinstance(raw, dict) else None
        value_raw = raw.get("value") if isinstance(raw, dict) else raw
        if beh.unit == "conc/min" and isinstance(value_raw, str):
            value_raw = value_raw.replace("/min", "").replace("/ min", "")
        value = concentration_to(value_raw, unit, field)
        return Param(value=value, unit=unit if beh.unit == "conc" else f"{unit}/min", source=source)
    try:
        return parse_param(raw, beh.unit)
    except ValueError as exc:
        raise ModelError(field, str(exc)) from None


def signal_param(model: Model, signal: str, raw: Any, field: str) -> float:
    """Resolve a half-max value to the signal's unit (substrate unit, minutes, or 0-1)."""
    if signal in model.substrate_names:
        return concentration_to(raw, model.substrate(signal).unit, field)
    if signal == "time":
        return parse_param(raw, "time").value
    if signal.startswith(DRUG_PREFIX):
        return concentration_to(raw, model.drug(signal.removeprefix(DRUG_PREFIX)).unit, field)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ModelError(field, f"signal {signal!r} is dimensionless (0-1); give a plain number, got {raw!r}") from None


def check_memory(model: Model) -> None:
    import psutil

    n = model.domain.n_sites
    need = n * (BYTES_PER_SITE + BYTES_PER_VOXEL * max(1, len(model.substrates)))
    avail = psutil.virtual_memory().available
    if need > 0.8 * avail:
        max_sites = int(0.8 * avail / (BYTES_PER_SITE + BYTES_PER_VOXEL * max(1, len(model.substrates))))
        raise ModelError(
            "domain.shape",
            f"{model.domain.shape} is {n:,} sites and needs about {need / 2**30:.1f} GiB, but "
            f"{avail / 2**30:.1f} GiB of memory is available; allowed here: at most about "
            f"{max_sites:,} sites with {len(model.substrates)} substrates",
        )


def resolve_model(model: Model) -> None:
    """Check names and references and convert every value to canonical units (in place)."""
    subs, types, vars_ = model.substrate_names, model.cell_type_names, model.state_variables
    _unique(subs, "substrates")
    _unique(types, "cell_types")
    _unique(vars_, "state_variables")
    _unique(model.custom_variables, "custom_variables")
    builtin = set(FIXED_SIGNALS) | set(CELL_SIGNALS)
    clash = (set(subs) & set(vars_)) | (set(subs) & builtin) | (set(vars_) & builtin)
    if clash:
        raise ModelError("state_variables", f"names {sorted(clash)} clash with substrate or signal names")
    # "contact with <type>" must not read as a built-in contact signal ("live cell", "vessel", ...).
    contact_builtin = {s.removeprefix("contact with ") for s in FIXED_SIGNALS if s.startswith("contact with ")}
    for t in types:
        if t in contact_builtin:
            raise ModelError("cell_types", f"cell type name {t!r} is reserved ('contact with {t}' is a built-in signal); "
                                           f"not allowed: {', '.join(sorted(contact_builtin))}")
    for c in model.custom_variables:
        if not c or c != c.strip() or "," in c:
            raise ModelError("custom_variables", f"{c!r} is not allowed: a non-empty name without comma or surrounding spaces")

    from .therapies import expand_therapies

    expand_therapies(model)  # therapies -> drugs + drug rules, before the rules are checked
    _unique([d.name for d in model.drugs], "drugs")
    if model.perfusion is not None:
        for sub in model.perfusion.blood_borne:
            if sub not in subs:
                raise ModelError("perfusion.blood_borne", f"unknown substrate {sub!r}; allowed: {', '.join(subs)}")
        stab = model.perfusion.stabilised_by
        if stab is not None and stab not in vars_:
            raise ModelError("perfusion.stabilised_by", f"unknown state variable {stab!r}; allowed: {', '.join(vars_)}")
    if model.barrier is not None and model.barrier.substrate not in subs:
        raise ModelError("barrier.substrate", f"unknown substrate {model.barrier.substrate!r}; {_suggest(model.barrier.substrate, subs)}")
    behaviours = {b.name: b for b in model.behaviours()}
    signals = model.signals()

    known = catalog_roles()
    for ct in model.cell_types:
        if ct.role is None and ct.name in known:  # a catalog cell type keeps its catalog role
            role, tags = known[ct.name]
            object.__setattr__(ct, "role", role)
            if not ct.tags:
                object.__setattr__(ct, "tags", list(tags))
        if ct.role is not None:
            check_role(ct.role, f"cell_types[{ct.name}].role")
    for ct in model.cell_types:
        resolved: dict[str, Param] = {}
        for name, raw in ct.behaviours.items():
            field = f"cell_types[{ct.name}].behaviours[{name!r}]"
            if name not in behaviours:
                raise ModelError(field, f"unknown behaviour {name!r}; {_suggest(name, list(behaviours))}")
            resolved[name] = behaviour_param(model, behaviours[name], raw, field)
        object.__setattr__(ct, "behaviours", resolved)
        for var, value in ct.initial_state.items():
            field = f"cell_types[{ct.name}].initial_state[{var!r}]"
            if var not in vars_:
                raise ModelError(field, f"unknown state variable {var!r}; {_suggest(var, vars_)}")
            if not 0.0 <= value <= 1.0:
                raise ModelError(field, f"state variables are in [0, 1], got {value}")

    for i, rule in enumerate(model.rules):
        where = f"rules[{i}] ({rule.cell_type}, {rule.signal}, {rule.direction}, {rule.behaviour})"
        if rule.cell_type not in types:
            raise ModelError(f"{where}.cell_type", f"unknown cell type {rule.cell_type!r}; {_suggest(rule.cell_type, types)}")
        if rule.signal not in signals:
            raise ModelError(f"{where}.signal", f"unknown signal {rule.signal!r}; {_suggest(rule.signal, signals)}")
        if rule.behaviour not in behaviours:
            raise ModelError(f"{where}.behaviour", f"unknown behaviour {rule.behaviour!r}; {_suggest(rule.behaviour, list(behaviours))}")
        sat = behaviour_param(model, behaviours[rule.behaviour], rule.saturation, f"{where}.saturation")
        half = signal_param(model, rule.signal, rule.half_max, f"{where}.half_max")
        if half <= 0:
            raise ModelError(f"{where}.half_max", f"must be > 0, got {half}")
        object.__setattr__(rule, "saturation", sat.value)
        object.__setattr__(rule, "half_max", half)

    for i, p in enumerate(model.initial):
        if p.cell_type not in types:
            raise ModelError(f"initial[{i}].cell_type", f"unknown cell type {p.cell_type!r}; {_suggest(p.cell_type, types)}")
        for var in p.state:
            if var not in vars_:
                raise ModelError(f"initial[{i}].state[{var!r}]", f"unknown state variable; {_suggest(var, vars_)}")
        for name in ("center", "low", "high"):
            v = getattr(p, name)
            if v is not None and len(v) != model.domain.dims:
                raise ModelError(f"initial[{i}].{name}", f"needs {model.domain.dims} coordinates (µm), got {v}")
        extent = [n * model.domain.site_size.value for n in model.domain.shape]
        for k, pos in enumerate(p.positions or []):
            if len(pos) != model.domain.dims or not all(0.0 <= c < e for c, e in zip(pos, extent, strict=False)):
                raise ModelError(f"initial[{i}].positions[{k}]", f"needs {model.domain.dims} coordinates (µm) inside "
                                                                 f"the domain [0, {extent}), got {pos}")
    # A model without vessel types is allowed: nothing is recruited and nothing intravasates.

    for i, r in enumerate(model.reactions):
        where = f"reactions[{i}]"
        for name in ("substrate", "by", "inhibited_by"):
            v = getattr(r, name)
            if v is not None and v not in subs:
                raise ModelError(f"{where}.{name}", f"unknown substrate {v!r}; {_suggest(v, subs)}")
        half = concentration_to(r.half_max, model.substrate(r.by).unit, f"{where}.half_max")
        if half <= 0:
            raise ModelError(f"{where}.half_max", f"must be > 0, got {half}")
        object.__setattr__(r, "half_max", half)
    check_memory(model)
