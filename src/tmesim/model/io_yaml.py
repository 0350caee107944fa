"""Reading a model from YAML (+ a rules CSV), with one clear error per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import ModelError
from .schema import Model


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


def model_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Model:
    """Validate a model given as a dict (the parsed YAML)."""
    if not isinstance(data, dict):
        raise ModelError("", f"a model file must be a mapping at the top level, got {type(data).__name__}")
    data = dict(data)
    rules = data.get("rules")
    if isinstance(rules, str):
        from tmesim.model.rules_csv import read_rules_csv

        path = Path(rules)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        data["rules"] = read_rules_csv(path)
    try:
        return Model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        field = _loc(tuple(err["loc"]), data)
        if err["type"] == "extra_forbidden":
            msg = "unknown field; check the spelling (see `tmesim validate --help` and the README's model reference)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        if ": " in msg and not field:
            field, msg = msg.split(": ", 1)
        extra = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise ModelError(field, msg + extra) from None


def load_model(path: str | Path) -> Model:
    """Load and validate a model YAML file.

    >>> from tmesim.presets import preset_path
    >>> load_model(preset_path("tnbc")).name
    'tnbc'
    """
    path = Path(path)
    if not path.exists():
        raise ModelError("model", f"file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ModelError(str(path), f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return model_from_dict(data, base_dir=path.parent)
