"""Quantities with units in model files, resolved to tmesim's canonical units.

Canonical units: length µm, time minutes, substrate concentrations in the unit each
substrate declares (ng/mL for cytokines, mmHg for oxygen, ...). A plain number is read as
already being in the canonical unit of its field; a string such as ``"1e5 um^2/min"`` or
``"2 day"`` is parsed with pint and converted, and a unit of the wrong dimension is an error
that names the field.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pint

from .errors import ModelError

# Canonical unit of each kind of parameter (pint syntax).
CANONICAL: dict[str, str] = {
    "length": "micrometer",
    "time": "minute",
    "rate": "1/minute",
    "diffusivity": "micrometer**2/minute",
    "speed": "micrometer/minute",
    "dimensionless": "dimensionless",
    "volume": "milliliter",
    "mass": "milligram",  # drug doses (tmesim.model.therapies)
    "cell_volume": "micrometer**3",
}

# Units a substrate may be measured in, by what pint calls their dimensionality.
CONCENTRATION_UNITS = ("ng/mL", "pg/mL", "ug/mL", "nM", "pM", "uM", "mmHg", "dimensionless")


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    ureg = pint.UnitRegistry()
    # molecules/µm³ is used for some ligands; counts are dimensionless in pint.
    ureg.define("molecule = 1 = molecules")
    return ureg


def _parse(value: object, field: str) -> pint.Quantity:
    ureg = registry()
    text = str(value).strip().replace("µ", "u").replace("μ", "u")
    try:
        return ureg.Quantity(text)
    except Exception as exc:  # pint raises many types; the user needs one message
        raise ModelError(field, f"cannot read {value!r} as a quantity with units ({exc})") from None


def _float(value: int | float, field: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ModelError(field, f"must be a finite number, got an integer of {len(str(value))} digits") from None


def _finite(x: float, given: object, field: str) -> float:
    if not math.isfinite(x):
        raise ModelError(field, f"must be a finite number, got {given!r}")
    return x


def to_canonical(value: object, kind: str, field: str) -> float:
    """Return ``value`` as a float in the canonical unit of ``kind``.

    >>> to_canonical("2 day", "time", "time.days")
    2880.0
    >>> to_canonical(10, "length", "domain.site_size")
    10.0
    """
    if isinstance(value, bool):
        raise ModelError(field, f"expected a number or a quantity like '1 {CANONICAL[kind]}', got {value!r}")
    if isinstance(value, int | float):
        return _finite(_float(value, field), value, field)
    if isinstance(value, str):
        try:
            return _str_to_canonical(value, kind)
        except ModelError as exc:
            raise ModelError(field, exc.message) from None
    return _to_canonical(value, kind, field)


@lru_cache(maxsize=65536)
def _str_to_canonical(value: str, kind: str) -> float:
    # Cached: every virtual patient's model re-validates thousands of the same quantity strings,
    # and pint's parser made that most of a patient's preparation time.
    return _to_canonical(value, kind, "")


def _to_canonical(value: object, kind: str, field: str) -> float:
    q = _parse(value, field)
    target = CANONICAL[kind]
    try:
        return _finite(float(q.to(target).magnitude), value, field)
    except pint.DimensionalityError:
        raise ModelError(
            field,
            f"unit of {value!r} has dimension {q.dimensionality}, expected a {kind} "
            f"(for example '{target}')",
        ) from None


def concentration_to(value: object, unit: str, field: str) -> float:
    """Convert a concentration to ``unit`` (the substrate's declared unit)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(_float(value, field), value, field)
    q = _parse(value, field)
    target = _parse(unit, field)
    try:
        return _finite(float(q.to(target.units).magnitude), value, field)
    except pint.DimensionalityError:
        raise ModelError(
            field, f"unit of {value!r} does not convert to the substrate's unit {unit!r}"
        ) from None


def check_concentration_unit(unit: str, field: str) -> str:
    if unit not in CONCENTRATION_UNITS:
        raise ModelError(field, f"unknown concentration unit {unit!r}; allowed: {', '.join(CONCENTRATION_UNITS)}")
    return unit
