"""Reading a model from YAML (+ a rules CSV), with one clear error per problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tmesim._resources import data_path

from .errors import ModelError, ModelErrors
from .safe_yaml import check_finite, load_yaml
from .schema import Model
from .validate import resolve_model


def _loc(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Turn pydantic's location into 'cell_types[cancer].behaviours' using names where possible."""
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and part < len(node) and isinstance(node[part], dict) else None
            out += f"[{name or part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _fields_at(data: Any, loc: tuple[Any, ...]) -> set[str]:
    node = data
    for part in loc:
        node = node[part] if isinstance(node, dict | list) and (isinstance(node, dict) and part in node
                                                                or isinstance(part, int) and part < len(node)) else None
    return set(node) if isinstance(node, dict) else set()


MODEL_FORMAT = 1
"""Version of the model-file format this tmesim writes (``format_version:``; optional in a file)."""
READABLE_MODEL_FORMATS = (1,)


def check_model_format(found: Any) -> None:
    """A model file's ``format_version`` must be one this tmesim reads."""
    ok = isinstance(found, int) and not isinstance(found, bool) and found in READABLE_MODEL_FORMATS
    if not ok:
        newer = isinstance(found, int) and found > max(READABLE_MODEL_FORMATS)
        hint = "upgrade tmesim to read it" if newer else "update the file to the current format (see the model reference)"
        raise ModelError("format_version", f"model format version {found!r} is not read by this tmesim, which reads "
                                           f"version {', '.join(map(str, READABLE_MODEL_FORMATS))} ({hint})")


def model_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Model:
    """Validate a model given as a dict (the parsed YAML)."""
    if not isinstance(data, dict):
        raise ModelError("", f"a model file must be a mapping at the top level, got {type(data).__name__}")
    check_finite(data)
    data = dict(data)
    check_model_format(data.get("format_version", MODEL_FORMAT))
    from tmesim.model.rules_csv import read_rules_csv

    def csv_path(text: str) -> Path:
        path = Path(text)
        return base_dir / path if not path.is_absolute() and base_dir is not None else path

    rules = data.get("rules")
    if isinstance(rules, str):
        data["rules"] = read_rules_csv(csv_path(rules))
    # ``rules_add``: further rules tables appended to the inherited ones (a preset that
    # extends another adds mechanisms without copying its parent's table).
    extra = data.pop("rules_add", None)
    if extra is not None:
        data["rules"] = list(data.get("rules") or [])
        for text in [extra] if isinstance(extra, str) else list(extra):
            data["rules"] += read_rules_csv(csv_path(str(text)))
    try:
        model = Model.model_validate(data)
    except ValidationError as exc:
        errors = [_error(err, data) for err in exc.errors()]
        raise (errors[0] if len(errors) == 1 else ModelErrors(errors)) from None
    try:
        resolve_model(model)  # names, units and therapies
    except ModelError:
        raise
    except ValueError as exc:  # a value check without a field path (e.g. a parameter's unit)
        field, _, msg = str(exc).partition(": ") if ": " in str(exc) else ("", "", str(exc))
        raise ModelError(field, msg) from None
    return model


def _error(err: Any, data: dict[str, Any]) -> ModelError:
    """One pydantic error as a ModelError naming the field and what is allowed."""
    msg = err["msg"].removeprefix("Value error, ")
    field = _loc(tuple(err["loc"]), data)
    if err["type"] == "extra_forbidden":
        msg = "unknown field; check the spelling (see `tmesim schema model` and docs/cli.md)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    if ": " in msg and not field:
        field, msg = msg.split(": ", 1)
    elif (sub := re.match(r"([A-Za-z_]\w*): (.*)", msg, re.S)) and sub.group(1) in _fields_at(data, err["loc"]):
        field, msg = f"{field}.{sub.group(1)}", sub.group(2)  # a validator naming one of its fields
    return ModelError(field, msg)


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings key by key, lists of named entries by name
    (``name`` or, for placements, nothing: an overriding list replaces the base list)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(over, list) and all(isinstance(x, dict) and "name" in x for x in base + over):
        merged = {x["name"]: x for x in base}
        for x in over:
            merged[x["name"]] = _merge(merged[x["name"]], x) if x["name"] in merged else x
        return list(merged.values())
    return over


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a model YAML, resolving ``extends: <preset name or path>`` recursively."""
    if not path.exists():
        raise ModelError("model", f"file {str(path)!r} does not exist")
    data = load_yaml(path, "model file")
    if not isinstance(data, dict):
        raise ModelError(str(path), f"a model file must be a mapping at the top level, got {type(data).__name__}")
    if isinstance(data.get("rules"), str) and not Path(data["rules"]).is_absolute():
        data["rules"] = str(path.parent.resolve() / data["rules"])
    if "rules_add" in data:
        add = data["rules_add"]
        data["rules_add"] = [str(p if Path(p).is_absolute() else path.parent.resolve() / p)
                             for p in ([add] if isinstance(add, str) else list(add))]
    parent = data.pop("extends", None)
    if parent is None:
        return data
    # shipped presets are package data (read through importlib.resources, not imported)
    ppath = Path(parent) if str(parent).endswith((".yaml", ".yml")) else data_path("tmesim.presets", f"{parent}.yaml")
    if not ppath.is_absolute() and not ppath.exists():
        ppath = path.parent / ppath
    if ppath.resolve() in seen:
        raise ModelError("extends", f"{parent!r} extends itself (cycle through {[str(p) for p in seen]})")
    base = _read_yaml(ppath, seen + (path.resolve(),))
    merged = _merge(base, data)
    if "rules_add" in base and "rules_add" in data:  # every level's added rules apply
        merged["rules_add"] = list(base["rules_add"]) + list(data["rules_add"])
    return merged


def load_model(path: str | Path) -> Model:
    """Load and validate a model YAML file.

    >>> from tmesim.presets import preset_path
    >>> load_model(preset_path("tnbc")).name
    'tnbc'
    """
    path = Path(path)
    return model_from_dict(_read_yaml(path), base_dir=path.parent)
