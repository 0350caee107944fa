"""Virtual cohorts and trials: the YAML schema, randomisation, and running them end to end.

A trial file (see ``presets/trials/impassion130.yaml``)::

    name: impassion130
    preset: tnbc                # or model: path/to/model.yaml
    n: 1000                     # patients, randomised over the arms
    seed: 130                   # virtual patients (parameters and per-patient seeds)
    engine: meanfield           # or spatial
    arms:
      - {name: nab-paclitaxel, therapies: ["nab-paclitaxel@day=0"]}
      - {name: atezolizumab+nab-paclitaxel, therapies: ["atezolizumab+nab-paclitaxel@day=0"]}
    randomisation: {ratio: [1, 1], seed: 7}
    follow_up: 730              # days
    endpoints: [pfs, os, metastasis]
    timing: {run_in_days: 28, treatment_days: 84, assessment_days: 7}   # optional
    contacts: measured          # mean-field contact enrichment: well-mixed | measured | file.csv
    contact_days: 35            # days of that spatial run (default: run-in + 7)
    setting: metastatic         # or primary (default): see tmesim.cohort.metastatic
    post_progression:           # further lines after first progression, alike in every arm
      - {share: 0.8, control_days: 155}   # (tmesim.cohort.further_lines; primary setting)

The first arm is the reference of the hazard ratios. Randomisation allocates exactly
``n·ratio/sum(ratio)`` patients per arm (remainders to the first arms) in an order shuffled
by ``randomisation.seed``; patient ``i`` is the same virtual patient whatever its arm.
In the metastatic setting the ``n`` patients are the first eligible candidates (:func:`enrol`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tmesim.io.lock import locked
from tmesim.model import Model, ModelError
from tmesim.model.safe_yaml import check_finite, load_yaml
from tmesim.units import MAX_SEED

from .contacts import CONTACT_MODES, resolve_contacts
from .endpoints import EndpointConfig
from .further_lines import FurtherLine
from .runner import SETTINGS, Job, check_config, dask_client, run_jobs, screen_rows
from .section import ENGINES
from .virtual import sample_patients

ENDPOINTS = ("pfs", "os", "metastasis")
MAX_SCREENED_PER_PATIENT = 20  # metastatic setting: candidates screened per enrolled patient before giving up
MAX_PATIENTS = 10_000_000  # per-patient files in one folder; beyond this split the trial


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+.\-]*$")
    therapies: list[str] = Field(default_factory=list)

    @field_validator("therapies")
    @classmethod
    def _specs(cls, v: list[str]) -> list[str]:
        from tmesim.therapy import parse_therapy

        for s in v:
            parse_therapy(s, where="arms.therapies")
        return v


class Randomisation(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    ratio: list[int] | None = None
    seed: int = Field(default=0, ge=0, le=MAX_SEED)


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    run_in_days: float = Field(default=28.0, ge=0)
    treatment_days: float = Field(default=84.0, gt=0)
    assessment_days: float = Field(default=7.0, gt=0)
    baseline_factor: float = Field(default=10.0, gt=0)
    immune_control: bool = Field(default=True, description="grow at the doubling time corrected by the "
                                 "untreated section's immune kill rate (tmesim.cohort.endpoints)")
    scan_days: float = Field(default=0.0, ge=0, description="metastatic setting: days between RECIST scans in the "
                             "first year (0: every assessment); IMpassion130 scanned every 8 weeks (56)")
    late_scan_days: float = Field(default=0.0, ge=0, description="metastatic setting: days between RECIST scans after "
                                  "the first year (0: as scan_days); IMpassion130 scanned every 12 weeks (84)")
    after_window: Literal["hold", "extrapolate"] = Field(
        default="hold", description="the section after the treatment window: 'hold' its last value (therapy "
        "stopped) or 'extrapolate' its net regrowth over the last 28-day cycle (therapy given until progression)")
    revascularisation_days: float = Field(
        default=0.0, ge=0, description="days over which the vessel-led expansion withheld by an anti-angiogenic "
        "course is regained once treatment stops (withdrawal rebound; Mancuso et al. 2006: 7); 0: no rebound")
    immune_on_therapy: bool = Field(
        default=False, description="while therapy continues, the immune growth correction follows the treated "
        "section's kill rate instead of the untreated one, for every lesion and undetected metastases "
        "(tmesim.cohort.immune_growth.immune_pace); needs immune_control")


class FurtherLineSpec(BaseModel):
    """One line of therapy after first progression (:mod:`tmesim.cohort.further_lines`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    share: float = Field(ge=0.0, le=1.0, description="of the patients progressing on the previous line, those who "
                         "receive this one (0-1)")
    control_days: float = Field(gt=0.0, description="median days this line holds the disease without net growth "
                                "(exponential between patients)")


class TrialSpec(BaseModel):
    """A virtual trial (the YAML file's content)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    preset: str | None = None
    model: str | None = None
    n: int = Field(default=100, ge=1, le=MAX_PATIENTS)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    engine: Literal["meanfield", "spatial"] = "meanfield"
    arms: list[Arm] = Field(min_length=1)
    randomisation: Randomisation = Field(default_factory=Randomisation)
    follow_up: float = Field(default=730.0, gt=0, description="days")
    endpoints: list[Literal["pfs", "os", "metastasis"]] = Field(default_factory=lambda: list(ENDPOINTS))
    timing: Timing = Field(default_factory=Timing)
    days: float | None = Field(default=None, gt=0, description="override: section days (run-in + treatment)")
    contacts: str = Field(default="well-mixed", description="well-mixed | measured | path to a contacts CSV")
    contact_days: float | None = Field(default=None, gt=0.0, description="days of the spatial run that measures "
                                       "contacts; default: the run-in plus 7 days")
    contact_seed: int = Field(default=0, ge=0, le=MAX_SEED, description="seed of the spatial run that measures contacts")
    post_progression: list[FurtherLineSpec] = Field(default_factory=list, description="further lines after first "
                                                    "progression, the same in every arm (tmesim.cohort.further_lines)")
    setting: str = Field(default="primary", description="primary: patients treated from diagnosis (the primary "
                         "section); metastatic: patients enter at diagnosis of metastatic disease from the body model, "
                         "every lesion treated, RECIST on the sum of lesions (tmesim.cohort.metastatic)")

    @field_validator("setting")
    @classmethod
    def _setting(cls, v: str) -> str:
        if v not in SETTINGS:
            raise ValueError(f"allowed: {', '.join(SETTINGS)}; got {v!r}")
        return v

    @field_validator("contacts")
    @classmethod
    def _contacts(cls, v: str) -> str:
        if v not in CONTACT_MODES and not v.endswith(".csv"):
            raise ValueError(f"got {v!r}; allowed: {', '.join(CONTACT_MODES)} or a path to a .csv contacts table")
        return v

    @model_validator(mode="after")
    def _check(self) -> TrialSpec:
        if (self.preset is None) == (self.model is None):
            raise ValueError("give exactly one of 'preset' (a preset name) or 'model' (a model file)")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arms: arm names must be unique, got {names}")
        if self.post_progression and self.setting != "primary":
            raise ValueError("post_progression: allowed only with setting: primary (the metastatic setting's "
                             "endpoints do not apply further lines)")
        r = self.randomisation.ratio
        if r is not None and (len(r) != len(self.arms) or any(x < 1 for x in r)):
            raise ValueError(f"randomisation.ratio: needs one whole number >= 1 per arm ({len(self.arms)} arms), got {r}")
        return self

    def endpoint_config(self) -> EndpointConfig:
        t = self.timing
        treat = t.treatment_days if self.days is None else max(self.days - t.run_in_days, 1.0)
        return EndpointConfig(run_in_days=t.run_in_days, treatment_days=treat, follow_up_days=self.follow_up,
                              assessment_days=t.assessment_days, baseline_factor=t.baseline_factor,
                              immune_control=t.immune_control, after_window=t.after_window,
                              scan_days=t.scan_days, late_scan_days=t.late_scan_days,
                              revascularisation_days=t.revascularisation_days,
                              immune_on_therapy=t.immune_on_therapy,
                              further_lines=tuple(FurtherLine(x.share, x.control_days) for x in self.post_progression))

    def load_model(self, base: Path | None = None) -> Model:
        from tmesim.model import load_model
        from tmesim.presets import preset_path

        if self.preset is not None:
            return load_model(preset_path(self.preset))
        return load_model(_beside(self.model or "", base))


def _beside(path: str, base: Path | None) -> Path:
    """``path`` as given, or relative to the trial file's folder ``base`` when it exists there."""
    p = Path(path)
    if not p.is_absolute() and base is not None and (base / p).exists():
        return base / p
    return p


def _fmt_error(exc: ValidationError, where: str) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "literal_error":
            msg = f"{msg}; got {e.get('input')!r}"
        elif e["type"] == "extra_forbidden":
            msg = f"unknown field {loc!r}; allowed: {', '.join(_allowed(e['loc']))}"
        parts.append(f"{loc}: {msg}")
    return f"{where}: " + "; ".join(parts)


def _allowed(loc: tuple[Any, ...]) -> list[str]:
    model: Any = TrialSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        ann = model.model_fields[part].annotation
        model = getattr(ann, "__args__", [ann])[0] if hasattr(ann, "__args__") else ann
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def load_trial(path: str | Path, **overrides: Any) -> TrialSpec:
    """Read and validate a trial YAML; errors name the field and the allowed values."""
    p = Path(path)
    data = load_yaml(p, "trial file") or {}
    if not isinstance(data, dict):
        raise ModelError(str(p), "a trial file is a mapping (name:, preset:, arms:, ...)")
    data |= {k: v for k, v in overrides.items() if v is not None}
    check_finite(data)
    try:
        return TrialSpec.model_validate(data)
    except ValidationError as exc:
        raise ModelError(p.name, _fmt_error(exc, "trial")) from None


def randomise(n: int, n_arms: int, ratio: list[int] | None, seed: int) -> np.ndarray:
    """Arm index per patient: exact allocation by ``ratio``, shuffled with ``seed``."""
    ratio = ratio or [1] * n_arms
    counts = np.floor(n * np.asarray(ratio, float) / sum(ratio)).astype(int)
    counts[: n - counts.sum()] += 1
    arms = np.repeat(np.arange(n_arms), counts)
    return np.random.default_rng(seed).permutation(arms)


def trial_jobs(spec: TrialSpec, model: Model, enrolled: pd.DataFrame | None = None) -> list[Job]:
    """One job per patient: the first ``n`` virtual patients, or the ``enrolled`` ones (metastatic
    setting, :func:`enrol`), randomised over the arms."""
    pts = sample_patients(model, spec.n, spec.seed) if enrolled is None else enrolled
    idx = randomise(len(pts), len(spec.arms), spec.randomisation.ratio, spec.randomisation.seed)
    return [Job(spec.arms[k].name, rec, list(spec.arms[k].therapies))
            for rec, k in zip(pts.to_dict("records"), idx, strict=True)]


SCREENING_FILE = "screening.parquet"


def enrol(spec: TrialSpec, model: Model, cfg: EndpointConfig, client: Any, out: Path | None = None,
          contacts: Any = None, notice: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Metastatic setting: screen candidate virtual patients (in candidate order, in batches) until
    ``spec.n`` are eligible; returns their rows (candidate ids kept as ``patient_id``). The
    screening table (``patient_id``, ``entry_days_from_diagnosis``; NaN = not eligible) is kept in
    ``out/screening.parquet``, so a resumed trial does not screen again."""
    from tmesim.io.trial import write_table

    path = out / SCREENING_FILE if out is not None else None
    done = pd.read_parquet(path) if path is not None and path.exists() else pd.DataFrame(
        {"patient_id": pd.Series(dtype=int), "entry_days_from_diagnosis": pd.Series(dtype=float)})
    cap = MAX_SCREENED_PER_PATIENT * spec.n
    while True:
        eligible = int(np.isfinite(done["entry_days_from_diagnosis"].to_numpy(float)).sum())
        if eligible >= spec.n or len(done) >= cap:
            break
        m = min(cap, len(done) + max(5 * (spec.n - eligible), 16))  # about one TNBC candidate in five is eligible
        rows = sample_patients(model, m, spec.seed).iloc[len(done):].to_dict("records")
        if notice:
            notice(f"screening candidates {len(done)}-{m - 1} for measurable metastatic disease ({eligible} of "
                   f"{spec.n} enrolled)")
        entry = screen_rows(model, rows, cfg, client, spec.engine, contacts=contacts)
        new = pd.DataFrame({"patient_id": [int(r["patient_id"]) for r in rows], "entry_days_from_diagnosis": entry})
        done = pd.concat([done, new], ignore_index=True)
        if path is not None:
            write_table(out, SCREENING_FILE, done)  # type: ignore[arg-type]
    ok = done.loc[np.isfinite(done["entry_days_from_diagnosis"].to_numpy(float)), "patient_id"].to_numpy(int)[: spec.n]
    if len(ok) < spec.n:
        raise ModelError("n", f"only {len(ok)} of {len(done)} screened virtual patients have measurable metastatic "
                              f"disease; allowed: n <= {len(ok)} for this model and seed")
    pts = sample_patients(model, int(ok.max()) + 1, spec.seed)
    return pts[pts["patient_id"].isin(ok)].reset_index(drop=True)


def run_trial(spec: TrialSpec, out: str | Path, model: Model | None = None, workers: int = 2,
              scheduler: str | None = None, client: Any = None, progress: Callable[[int, int], None] | None = None,
              report: bool = True, resume: bool = True, base: Path | None = None,
              notice: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run a trial (resuming finished patients), analyse it and write the outputs to ``out``.

    ``base``: folder that relative paths of the trial file (``model``, ``contacts``) are read from;
    ``notice``: told about slow preparation (measuring the contact enrichment) and about a stale
    lock of a killed run. The folder is locked while the trial runs: a second process writing
    to it gets an error naming this one."""
    out = Path(out)
    model = model or spec.load_model()
    with locked(out, "trial folder", "--out", notice):
        if client is None and scheduler:  # an unreachable scheduler is reported before any work
            with dask_client(workers, scheduler) as c:
                return _run_locked(spec, out, model, workers, scheduler, c, progress, report, resume, base, notice)
        return _run_locked(spec, out, model, workers, scheduler, client, progress, report, resume, base, notice)


def _run_locked(spec: TrialSpec, out: Path, model: Model, workers: int, scheduler: str | None, client: Any,
                progress: Callable[[int, int], None] | None, report: bool, resume: bool, base: Path | None,
                notice: Callable[[str], None] | None) -> dict[str, Any]:
    from .report import analyse

    cfg = spec.endpoint_config()
    if not resume and (out / "patients").exists():
        raise ModelError("--out", f"{out} already holds patients; pass --resume to continue it or use another folder")
    trial = spec.model_dump(mode="json")
    if not spec.post_progression:  # options left unset: folders written before they existed still resume
        trial.pop("post_progression")
    if not spec.timing.revascularisation_days:
        trial["timing"].pop("revascularisation_days")
    if not spec.timing.immune_on_therapy:
        trial["timing"].pop("immune_on_therapy")
    check_config(out, {"trial": trial, "model": model.model_dump(mode="json"),
                       "endpoints": cfg.as_dict()})
    t0 = time.perf_counter()
    choice = spec.contacts if spec.contacts in CONTACT_MODES else str(_beside(spec.contacts, base))
    cdays = spec.contact_days if spec.contact_days is not None else spec.timing.run_in_days + 7.0
    contacts = (resolve_contacts(choice, model, out, cdays, spec.contact_seed, notice)
                if spec.engine == "meanfield" else None)
    if spec.setting == "metastatic":
        ctx = contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)
        with ctx as c:
            jobs = trial_jobs(spec, model, enrol(spec, model, cfg, c, out, contacts, notice))
            df = run_jobs(model, jobs, out, cfg, spec.engine, workers, scheduler, c, progress=progress,
                          contacts=contacts, setting="metastatic")
    else:
        df = run_jobs(model, trial_jobs(spec, model), out, cfg, spec.engine, workers, scheduler, client,
                      progress=progress, contacts=contacts)
    wall = time.perf_counter() - t0
    return analyse(df, out, spec.name, [a.name for a in spec.arms], spec.endpoints, wall, report=report)


def cohort_spec(preset: str | None, n: int, seed: int = 0, engine: str = "meanfield", therapies: list[str] | None = None,
                days: float | None = None, follow_up: float = 730.0, model: str | None = None,
                contacts: str = "well-mixed") -> TrialSpec:
    """A one-arm 'trial' (a cohort), as ``tmesim cohort`` runs it."""
    if engine not in ENGINES:
        raise ModelError("--engine", f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    try:
        return TrialSpec(name=f"cohort-{preset or Path(model or 'model').stem}", preset=preset if model is None else None,
                         model=model, n=n, seed=seed, engine=engine,  # type: ignore[arg-type]
                         arms=[Arm(name="cohort", therapies=list(therapies or []))], follow_up=follow_up, days=days,
                         contacts=contacts)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = next((str(x) for x in e["loc"] if isinstance(x, str)), "")
        option = {"arms": "--therapy", "therapies": "--therapy", "follow_up": "--follow-up"}.get(where, f"--{where}")
        raise ModelError(option if where else "cohort", e["msg"].removeprefix("Value error, ")) from None


def patients_table(out: str | Path) -> pd.DataFrame:
    """The combined per-patient table of a finished run folder (format version checked)."""
    from tmesim.io.trial import read_patients

    return read_patients(out)


__all__ = ["ENDPOINTS", "SCREENING_FILE", "Arm", "FurtherLineSpec", "enrol", "Randomisation", "Timing", "TrialSpec", "cohort_spec", "load_trial", "patients_table",
           "randomise", "run_trial", "trial_jobs"]
