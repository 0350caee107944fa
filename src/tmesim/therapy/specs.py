"""Therapy specs (``name@day=14``) and adding therapies to a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tmesim.model import Model, model_from_dict
from tmesim.model.errors import ModelError
from tmesim.model.params import parse_param
from tmesim.model.therapies import suggest, therapy_catalog

SPEC_KEYS = ("day", "hour", "start", "cycles")
SPEC_HELP = ("NAME[@day=N][,cycles=K] — NAME a catalog therapy (`tmesim therapies`), e.g. "
             "'atezolizumab+nab-paclitaxel@day=14'; start also as hour=N or start='2 week'")


@dataclass(frozen=True)
class TherapySpec:
    """A catalog therapy given from ``start`` minutes, with optional schedule overrides per drug
    (``{"*": {...}}`` for all its drugs; fields as in ``tmesim.model.drugs.SCHEDULE_FIELDS``)."""

    name: str
    start: float = 0.0  # minutes
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        """The model's ``therapies:`` entry for this spec."""
        out: dict[str, Any] = {"name": self.name, "start": self.start}
        if self.overrides:
            out["overrides"] = self.overrides
        return out


def _check_name(name: str, where: str) -> None:
    known = list(therapy_catalog().therapies)
    if name not in known:
        hint = ""
        if "+" in name:
            hint = (" A combination is one catalog entry; to give regimens that are not combined in the "
                    "catalog, pass --therapy once for each.")
        raise ModelError(where, f"unknown therapy {name!r}; {suggest(name, known)}{hint}")


def parse_therapy(text: str, where: str = "--therapy") -> TherapySpec:
    """Read ``NAME``, ``NAME@day=14``, ``NAME@day=0.5,cycles=2``, ``NAME@start=2 week`` or ``NAME@hour=6``.

    >>> parse_therapy("anti-CD25@day=2").start
    2880.0
    >>> parse_therapy("low-dose-cyclophosphamide@hour=6,cycles=1").overrides
    {'*': {'cycles': 1}}
    """
    text = text.strip()
    name, _, sched = text.partition("@")
    name = name.strip()
    if not name:
        raise ModelError(where, f"{text!r} names no therapy; expected {SPEC_HELP}")
    _check_name(name, where)
    start = 0.0
    overrides: dict[str, dict[str, Any]] = {}
    if sched.strip():
        seen: set[str] = set()
        for part in sched.split(","):
            key, eq, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not value:
                raise ModelError(where, f"{part.strip()!r} in {text!r} is not KEY=VALUE; allowed keys: {', '.join(SPEC_KEYS)}")
            if key not in SPEC_KEYS:
                raise ModelError(where, f"unknown schedule key {key!r} in {text!r}; allowed: {', '.join(SPEC_KEYS)}")
            if key in seen or (key in ("day", "hour", "start") and seen & {"day", "hour", "start"}):
                raise ModelError(where, f"{text!r} gives the start twice; use one of day=, hour=, start=")
            seen.add(key)
            if key == "cycles":
                try:
                    cycles = int(value)
                except ValueError:
                    cycles = 0
                if cycles < 1 or str(cycles) != value:
                    raise ModelError(where, f"cycles must be a whole number >= 1, got {value!r} in {text!r}")
                overrides["*"] = {"cycles": cycles}
                continue
            raw = value if key == "start" else f"{value} {key}"
            try:
                start = parse_param(raw, "time").value
            except ValueError as exc:
                raise ModelError(where, f"bad start {value!r} in {text!r}: {exc}") from None
            if not start >= 0:
                raise ModelError(where, f"the start must be >= 0 (time from the beginning of the run), got {value!r} in {text!r}")
    return TherapySpec(name=name, start=start, overrides=overrides)


def apply_therapies(model: Model, specs: list[TherapySpec | str]) -> Model:
    """A new Model with ``specs`` added to its therapies (their drugs and rules appended).

    The model itself is not changed; strings are read with :func:`parse_therapy`.
    """
    specs = [parse_therapy(s) if isinstance(s, str) else s for s in specs]
    if not specs:
        return model
    data = model.model_dump(mode="json")
    data["therapies"] = list(data.get("therapies") or []) + [s.entry() for s in specs]
    return model_from_dict(data)


__all__ = ["SPEC_HELP", "SPEC_KEYS", "TherapySpec", "apply_therapies", "parse_therapy"]
