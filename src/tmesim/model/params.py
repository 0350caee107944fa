"""Parameters: a value in canonical units plus the source it comes from."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from typing_extensions import TypedDict  # pydantic needs it for TypedDicts on Python < 3.12

from .errors import ModelError
from .units import CANONICAL, check_concentration_unit, to_canonical

SOURCE_PATTERN = re.compile(r"^(review:\s*\d+(\s*[,;]\s*\d+)*|doi:\S+|pmid:\d+|paper:.+|assumption:.+|fit:.+)", re.S)
SOURCE_HELP = (
    "a source must start with 'review:<reference numbers>' (the review's reference list), "
    "'doi:', 'pmid:', 'paper:<citation>', 'assumption:<why the value is reasonable>' or "
    "'fit:<target file>' (calibrated by tmesim calibrate against that file's data)"
)


def check_source(text: str | None) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    if not SOURCE_PATTERN.match(text):
        raise ValueError(f"{text!r} is not a source; {SOURCE_HELP}")
    return text


class Param(BaseModel):
    """A parameter in canonical units with its provenance."""

    model_config = ConfigDict(frozen=True)

    value: float
    unit: str
    source: str | None = None

    def __float__(self) -> float:
        return self.value


def parse_param(raw: Any, kind: str) -> Param:
    """Read ``3``, ``"3 1/day"`` or ``{value: 3, unit: 1/day, source: ...}`` as a Param."""
    if isinstance(raw, Param):
        return raw
    source = None
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "unit", "source"}
        if unknown or "value" not in raw:
            raise ValueError(
                f"a parameter is a number, a quantity string, or a mapping with keys value, unit, source; got keys {sorted(raw)}"
            )
        source = check_source(raw.get("source"))
        raw = raw["value"] if raw.get("unit") is None else f"{raw['value']} {raw['unit']}"
    try:
        value = to_canonical(raw, kind, "")
    except ModelError as exc:
        raise ValueError(exc.message) from None
    if value != value:  # NaN
        raise ValueError("value is not a number")
    return Param(value=value, unit=CANONICAL[kind], source=source)


class ParamInput(TypedDict, total=False):
    """A parameter written as a mapping (for the JSON Schema of model files)."""

    value: float | str
    unit: str
    source: str


def _param_type(kind: str, minimum: float | None = 0.0) -> Any:
    def validate(raw: Any) -> Param:
        p = parse_param(raw, kind)
        if minimum is not None and p.value < minimum:
            raise ValueError(f"must be >= {minimum} {CANONICAL[kind]}, got {p.value}")
        return p

    # What a model file may hold here: a number in the canonical unit, a quantity string
    # ("2 day") or a mapping with value, unit and source (tmesim schema prints this).
    return Annotated[Param, BeforeValidator(validate, json_schema_input_type=float | str | ParamInput)]


Length = _param_type("length")
Time = _param_type("time")
Rate = _param_type("rate")
Diffusivity = _param_type("diffusivity")
Speed = _param_type("speed")
Volume = _param_type("volume")
Number = _param_type("dimensionless")
Mass = _param_type("mass")
CellVolume = _param_type("cell_volume")

# Field types shared by the schema classes.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*$"
# Cell types and substrates are named as their users name them (PhysiCell projects use
# "tumor cell", "pro-inflammatory factor"): letters, digits, spaces and punctuation, starting
# with a letter or digit, no trailing space. Excluded: the rules CSV's comma and quote, the
# path separator '/' (substrates name zarr arrays) and control characters.
DISPLAY_NAME_PATTERN = r"^[A-Za-z0-9](?:[^,\"/\x00-\x1f]*[^,\"/\x00-\x1f ])?$"
Source = Annotated[str | None, AfterValidator(check_source)]
ConcentrationUnit = Annotated[str, AfterValidator(lambda v: check_concentration_unit(v, "unit"))]
