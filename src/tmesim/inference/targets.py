"""Target files: observed summary statistics a calibration fits, each with its uncertainty.

A target file (YAML)::

    name: tvdt-tnbc
    statistics:
      - statistic: tvdt_mean          # a name of tmesim.inference.simulate.OUTPUTS
        observed: 103                 # days
        sd: 43                        # between-patient SD of the measurement ...
        n: 17                         # ... and the number of patients: SE = sd / sqrt(n)
        source: "paper:Ryu et al., Eur Radiol 2014;24:2227"
      - statistic: tvdt_sd
        observed: 43
        se: 7.6                       # or the standard error directly
        source: "..."

``check_only: true`` marks a statistic that is reported in the posterior-predictive check
but not fitted. The standard error sets how closely the simulation must match (distances are in SE units)
and the Gaussian measurement noise added to simulated statistics (noisy ABC, see
:mod:`tmesim.inference.calibrate`). Every statistic needs a source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tmesim.model import ModelError
from tmesim.model.params import check_source

from .simulate import OUTPUTS


class Statistic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statistic: str
    observed: float
    se: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)
    n: int | None = Field(default=None, ge=1)
    source: str
    note: str = ""
    check_only: bool = Field(default=False, description="reported in the predictive check but not fitted")

    @field_validator("statistic")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in OUTPUTS:
            raise ValueError(f"unknown statistic {v!r}; allowed: {', '.join(OUTPUTS)}")
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return check_source(v) or ""

    @model_validator(mode="after")
    def _uncertainty(self) -> Statistic:
        if self.se is None and (self.sd is None or self.n is None):
            raise ValueError("give se, or sd and n (the standard error is sd / sqrt(n))")
        return self

    @property
    def standard_error(self) -> float:
        return float(self.se) if self.se is not None else float(self.sd) / float(np.sqrt(self.n))  # type: ignore[arg-type]


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    statistics: list[Statistic] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        names = [s.statistic for s in self.statistics]
        if len(set(names)) != len(names):
            raise ValueError(f"statistics: each statistic once, got {names}")
        return self

    @model_validator(mode="after")
    def _some_fitted(self) -> Targets:
        if not self.fitted:
            raise ValueError("statistics: at least one statistic must be fitted (check_only: false)")
        return self

    @property
    def names(self) -> list[str]:
        """Every statistic (fitted and check-only)."""
        return [s.statistic for s in self.statistics]

    @property
    def fitted(self) -> list[str]:
        return [s.statistic for s in self.statistics if not s.check_only]

    def observed(self, fitted_only: bool = False) -> dict[str, float]:
        return {s.statistic: s.observed for s in self.statistics if not (fitted_only and s.check_only)}

    def se(self, fitted_only: bool = False) -> dict[str, float]:
        return {s.statistic: s.standard_error for s in self.statistics if not (fitted_only and s.check_only)}


def load_targets(path: str | Path) -> Targets:
    p = Path(path)
    if not p.exists():
        raise ModelError(str(p), "target file does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelError(str(p), f"not valid YAML: {exc}") from None
    try:
        return Targets.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        raise ModelError(f"{p.name}: {loc}", msg) from None


__all__ = ["Statistic", "Targets", "load_targets"]
