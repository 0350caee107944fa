"""Drugs and therapies in a model: dosing schedules with a one-compartment PK.

A model's ``therapies`` names regimens of the therapy catalog
(``src/tmesim/data/therapies.yaml``) with a start time; validation expands each into
``drugs`` (one schedule each, below) and appends the regimen's rules, whose signal is
``drug <name>``. A drug's exposure C(t) (:func:`tmesim.model.pk.exposure`) is the same for
every cell and is what those rules sense.

A resolved model keeps both lists, so reading it back (``config.yaml``, ``--resume``) does not
expand a therapy twice: a therapy whose drugs are already present is left as it is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .params import (
    NAME_PATTERN,
    ConcentrationUnit,
    Length,
    Mass,
    Param,
    Source,
    Time,
    Volume,
    parse_param,
)
from .units import concentration_to

# Schedule fields a therapy entry may override per drug (``overrides: {<drug>: {...}}``).
SCHEDULE_FIELDS = ("dose", "volume", "peak", "interval", "offsets", "cycles", "half_life", "penetration")


class Drug(BaseModel):
    """One drug: repeated administrations, each adding ``peak`` = dose/volume to C(t), which
    then decays with ``half_life`` (one-compartment PK, intravenous bolus).

    Administrations are at ``start + c*interval + offset`` for each offset and cycle
    c = 0 … cycles-1 (``cycles: null`` = until the end of the run).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=NAME_PATTERN)
    therapy: str | None = Field(default=None, description="catalog therapy that added this drug (null: written by hand)")
    description: str = ""
    unit: ConcentrationUnit = Field(default="ug/mL", description="unit of the exposure C(t) and of the half-max of its rules")
    dose: Mass | None = Field(default=None, description="amount per administration (mg)")
    volume: Volume | None = Field(default=None, description="volume of distribution (mL; '6.9 L' is fine)")
    peak: Any = Field(default=None, description="C(t) added by one administration (drug unit); default dose/volume")
    interval: Time = Field(description="length of one dosing cycle")
    offsets: list[Any] = Field(default_factory=lambda: [0.0], description="administration times within a cycle")
    cycles: int | None = Field(default=None, ge=1, description="number of cycles; null = until the end")
    half_life: Time = Field(description="elimination half-life")
    start: Time = Field(default_factory=lambda: parse_param(0.0, "time"), description="first administration")
    penetration: Length | None = Field(default=None, description="distance from the nearest perfused vessel over "
                                       "which tissue exposure falls e-fold (used when the model has perfusion; "
                                       "null: the drug reaches every site)")
    source: Source = None

    @model_validator(mode="after")
    def _resolve(self) -> Drug:
        if self.interval.value <= 0:
            raise ValueError(f"interval must be > 0 minutes, got {self.interval.value:g}")
        if self.half_life.value <= 0:
            raise ValueError(f"half_life must be > 0 minutes, got {self.half_life.value:g}")
        if self.start.value < 0:
            raise ValueError(f"start must be >= 0 (time from the beginning of the run), got {self.start.value:g} min")
        if self.peak is None:
            if self.dose is None or self.volume is None:
                raise ValueError("give peak (C(t) added by one administration) or both dose (mg) and volume (L)")
            if self.volume.value <= 0:
                raise ValueError("volume must be > 0")
            ug_per_ml = self.dose.value / self.volume.value * 1000.0  # mg/mL -> µg/mL
            peak = concentration_to(f"{ug_per_ml!r} ug/mL", self.unit, "peak")
        else:
            raw = self.peak.get("value") if isinstance(self.peak, dict) else self.peak
            peak = concentration_to(raw, self.unit, "peak")
        if not peak > 0:
            raise ValueError(f"peak must be > 0 {self.unit}, got {peak}")
        offsets = []
        for raw in self.offsets:
            off = parse_param(raw, "time").value
            if not 0 <= off < self.interval.value:
                raise ValueError(f"offsets must lie in [0, interval) = [0, {self.interval.value:g}) minutes, got {off:g}")
            offsets.append(off)
        if not offsets:
            raise ValueError("offsets must list at least one administration time within a cycle")
        object.__setattr__(self, "peak", float(peak))
        object.__setattr__(self, "offsets", sorted(offsets))
        return self

    @property
    def signal(self) -> str:
        return f"drug {self.name}"


class TherapyEntry(BaseModel):
    """A regimen of the therapy catalog given from ``start`` (``tmesim therapies`` lists them)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(description="catalog therapy, e.g. 'atezolizumab+nab-paclitaxel'")
    start: Time = Field(default_factory=lambda: parse_param(0.0, "time"), description="time of the first administration")
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description=f"per drug (or '*' for all): schedule fields {', '.join(SCHEDULE_FIELDS)}")

    @model_validator(mode="after")
    def _check(self) -> TherapyEntry:
        if self.start.value < 0:
            raise ValueError(f"start must be >= 0 (time from the beginning of the run), got {self.start.value:g} min")
        for drug, fields in self.overrides.items():
            if not isinstance(fields, dict):
                raise ValueError(f"overrides[{drug!r}] must be a mapping of schedule fields ({', '.join(SCHEDULE_FIELDS)})")
            bad = sorted(set(fields) - set(SCHEDULE_FIELDS))
            if bad:
                raise ValueError(f"overrides[{drug!r}]: unknown schedule field(s) {bad}; allowed: {', '.join(SCHEDULE_FIELDS)}")
        return self


__all__ = ["SCHEDULE_FIELDS", "Drug", "Param", "TherapyEntry"]
