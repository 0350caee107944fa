"""The pure, picklable simulator calibration tools call: ``simulate(params, seed, problem)``.

``problem`` (a :class:`Problem`) holds the loaded model, the parameter space and the outputs
to compute; ``params`` maps the space's parameter names to values (stored units); the result
maps output names to floats. The same (params, seed, problem) gives the same numbers on any
worker: the mean-field engine is deterministic, virtual patients are drawn from
``problem.patient_seed`` (the same patients for every parameter set: common random numbers,
so differences between parameter sets are not sampling noise) and the body model from each
patient's own seed (``seed`` is added to it, so replicate simulations differ).

Outputs (the registry :data:`OUTPUTS`; each says which simulation level it needs):

* section level (one untreated section for ``days``): ``final_cancer`` (live cancer cells at
  the end), ``immune_share`` (immune cells / all live cells at the end; immune cells are the
  types the IMC comparison counts as T cells, macrophages and B cells,
  :func:`immune_types`), ``immune_density``
  (immune cells per mm² of section), ``cancer_growth_rate`` (net specific growth of the
  section's cancer cells over the first week, 1/day);
* cohort level (``patients`` virtual patients, untreated section for ``days`` each, as the
  cohort runner's run-in): ``tvdt_mean``, ``tvdt_median`` and ``tvdt_sd`` (days; the whole tumor's volume
  doubling time ln 2 / g, g from the patient's doubling time corrected by its section's
  immune kill rate against the cohort's median (``body.primary.immune_growth_exponent``), :func:`tmesim.cohort.endpoints.growth_rate`
  — the cohort is its own reference sample), ``kill_rate`` (median cancer cells killed per
  cancer cell and day);
* body level (each patient's section shedding → :class:`tmesim.body.Patient` to
  ``follow_up`` days after diagnosis): ``metastatic_fraction`` (mean probability of at
  least one detected metastasis by the end of follow-up: 1 − exp(−Σ expected detected
  metastases), smooth in the parameters, unlike the 0/1 realisations),
  ``metastatic_fraction_observed`` (share of patients whose realised history has one),
  ``time_to_first_metastasis`` (days from diagnosis, restricted mean, censored at
  follow-up), ``met_share_<organ>`` (share of metastatic patients with that organ involved);
* trial level (``trial_hr``): the space's ``trial`` file run in-process with the varied
  model on its first ``patients`` patients: the Cox hazard ratio of PFS of the second arm
  vs the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tmesim.model import Model, ModelError
from tmesim.model.body import ORGANS

from .space import Space, apply_params

MIN_PER_DAY = 1440.0
LEVELS = ("section", "cohort", "body", "trial")


@dataclass(frozen=True)
class Output:
    name: str
    level: str
    unit: str
    description: str


OUTPUTS: dict[str, Output] = {o.name: o for o in [
    Output("final_cancer", "section", "cells", "live cancer cells in the section at the end"),
    Output("immune_share", "section", "fraction", "immune cells / all live cells in the section at the end"),
    Output("immune_density", "section", "cells/mm²", "immune cells per mm² of section at the end"),
    Output("cancer_growth_rate", "section", "1/day", "net specific growth of section cancer cells, first week"),
    Output("tvdt_mean", "cohort", "day", "mean whole-tumor volume doubling time of the virtual patients"),
    Output("tvdt_median", "cohort", "day", "median whole-tumor volume doubling time of the virtual patients"),
    Output("tvdt_sd", "cohort", "day", "standard deviation of the doubling time between virtual patients"),
    Output("kill_rate", "cohort", "1/day", "median cancer cells killed by attacks per cancer cell and day"),
    Output("metastatic_fraction", "body", "fraction", "mean probability of a detected metastasis by end of follow-up"),
    Output("metastatic_fraction_observed", "body", "fraction", "share of patients with a detected metastasis"),
    Output("time_to_first_metastasis", "body", "day", "restricted mean days from diagnosis to the first metastasis"),
    *[Output(f"met_share_{o}", "body", "fraction", f"share of metastatic patients with a {o} metastasis") for o in ORGANS],
    Output("trial_hr", "trial", "ratio", "PFS hazard ratio, second arm vs first (Cox)"),
]}


def check_outputs(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    bad = [n for n in names if n not in OUTPUTS]
    if bad:
        raise ModelError("--output", f"unknown output {bad[0]!r}; allowed: {', '.join(OUTPUTS)}")
    if not names:
        raise ModelError("--output", f"give at least one output; allowed: {', '.join(OUTPUTS)}")
    return tuple(names)


@dataclass(frozen=True)
class Problem:
    """Everything a simulation needs besides the parameter values (picklable)."""

    space: Space
    outputs: tuple[str, ...]
    trial_spec: Any = None  # tmesim.cohort.trial.TrialSpec for trial_hr
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> Model:
        return self.space.model

    @property
    def levels(self) -> set[str]:
        return {OUTPUTS[o].level for o in self.outputs}

    @classmethod
    def make(cls, space: Space, outputs: list[str] | tuple[str, ...]) -> Problem:
        outs = check_outputs(list(outputs))
        trial = None
        if "trial_hr" in outs:
            if not space.spec.trial:
                raise ModelError("trial", "the trial_hr output needs 'trial: <trial file>' in the space file")
            from pathlib import Path

            from tmesim.cohort.trial import load_trial

            p = Path(space.spec.trial)
            if not p.is_absolute() and space.base is not None and (space.base / p).exists():
                p = space.base / p
            trial = load_trial(p)
            if len(trial.arms) < 2:
                raise ModelError("trial", f"{p.name} has one arm; trial_hr needs two")
        return cls(space, outs, trial)


IMMUNE_CLASSES = ("T", "Macrophage", "B")  # the IMC panel's immune classes (Jackson et al. 2020)


def immune_types(model: Model) -> list[str]:
    """Cell types counted as immune: those whose role's IMC coarse class
    (:func:`tmesim.readouts.reference.coarse_class`) is T, macrophage or B, so that the share
    compares with the IMC data's immune share (neutrophils, MDSCs, NK cells have no IMC class)."""
    from tmesim.readouts.reference import coarse_class

    return [ct.name for ct in model.cell_types if coarse_class(ct.role) in IMMUNE_CLASSES]


def _check_tumor(model: Model) -> None:
    from tmesim.model.roles import Role

    if not model.types_with_role(Role.CANCER):
        raise ModelError("model", f"the calibration outputs read the tumor cells (role cancer); model {model.name!r} "
                                  "has no cell type with that role")


def _section_outputs(model: Model, section: pd.DataFrame) -> dict[str, float]:
    from tmesim.body.section import TUMOR
    from tmesim.cohort.markers import section_area_mm2

    _check_tumor(model)
    last = section.iloc[-1]
    imm = immune_types(model)
    live = float(sum(float(last[n]) for n in model.cell_type_names))
    n_imm = float(sum(float(last[n]) for n in imm))
    t = section["time_days"].to_numpy(float)
    c = np.maximum(section[TUMOR].to_numpy(float), 1e-9)
    k = int(np.argmin(np.abs(t - min(7.0, t[-1]))))
    growth = float(np.log(c[k] / c[0]) / t[k]) if t[k] > 0 else float("nan")
    depth = int(model.domain.shape[2]) if int(model.domain.dims) == 3 else 1
    return {"final_cancer": float(last[TUMOR]), "immune_share": n_imm / live if live > 0 else float("nan"),
            "immune_density": n_imm / (section_area_mm2(model) * depth), "cancer_growth_rate": growth}


_SECTIONS: dict[Any, tuple[list[Any], list[pd.DataFrame], list[float], list[float]]] = {}
_SECTIONS_MAX = 4


def _sections(model: Model, problem: Problem, params: dict[str, float], seed: int,
              body: bool) -> tuple[list[Any], list[pd.DataFrame], list[float], list[float]]:
    """Each virtual patient's untreated section, kill rate and doubling-time factor.

    Body numbers do not act on the section, so when only body parameters differ from an earlier
    call (in this process) the sections are reused; patient models are then rebuilt only when
    body outputs need them."""
    from tmesim.cohort import sample_patients
    from tmesim.cohort.endpoints import immune_kill_rate
    from tmesim.cohort.section import run_section
    from tmesim.cohort.virtual import patient_model

    spec = problem.space.spec
    kinds = {d.name: d.address.kind for d in problem.space.dims}
    key = (spec.model_dump_json(), tuple(d.address.text for d in problem.space.dims), int(seed),
           tuple(sorted((k, v) for k, v in params.items() if kinds.get(k) != "body")))
    rows = sample_patients(model, spec.patients, spec.patient_seed).to_dict("records")
    if key in _SECTIONS:
        models, sections, kills, factors = _SECTIONS[key]
        if body:
            models = [patient_model(model, r) if spec.variability else model for r in rows]
        return models, sections, kills, factors
    days = float(spec.days)
    td0 = model.body.primary.doubling_time.value if model.body is not None else float("nan")
    models, sections, kills, factors = [], [], [], []
    for row in rows:
        pm = patient_model(model, row) if spec.variability else model
        sec = run_section(pm, days, spec.engine, seed=int(row["seed"]) + seed)
        kills.append(immune_kill_rate(sec, days))
        models.append(pm)
        sections.append(sec)
        factors.append(pm.body.primary.doubling_time.value / td0 if pm.body is not None else float("nan"))
    if len(_SECTIONS) >= _SECTIONS_MAX:
        _SECTIONS.pop(next(iter(_SECTIONS)))
    _SECTIONS[key] = (models, sections, kills, factors)
    return models, sections, kills, factors


def _cohort(model: Model, problem: Problem, params: dict[str, float], seed: int, body: bool) -> dict[str, float]:
    from tmesim.cohort import sample_patients
    from tmesim.cohort.endpoints import EndpointConfig, immune_exponent, immune_growth_factor
    from tmesim.cohort.patient import _shedding

    spec = problem.space.spec
    cfg = EndpointConfig(run_in_days=float(spec.days))
    models, sections, kills, factors = _sections(model, problem, params, seed, body)
    rows = sample_patients(model, spec.patients, spec.patient_seed).to_dict("records")
    k_ref = float(np.median(kills))
    # tmesim.cohort.endpoints.growth_rate with the cohort as its own reference sample
    td = (model.body.primary.doubling_time.value / MIN_PER_DAY if model.body is not None else 150.0) * np.asarray(
        factors if model.body is not None else np.ones(len(kills)), float)
    g = np.log(2.0) / td * immune_growth_factor(np.asarray(kills, float), k_ref, immune_exponent(model))
    tvdt = np.log(2.0) / g
    out = {"tvdt_mean": float(np.mean(tvdt)), "tvdt_median": float(np.median(tvdt)), "tvdt_sd": float(np.std(tvdt, ddof=1)) if len(tvdt) > 1 else 0.0,
           "kill_rate": k_ref}
    if not body:
        return out
    if model.body is None:
        raise ModelError("model", f"body outputs need a model with a body section; {model.name!r} has none")
    from tmesim.body import Patient

    fu = float(spec.follow_up)
    p_met, seen, first, organs = [], [], [], []
    for row, pm, sec in zip(rows, models, sections, strict=True):
        if getattr(pm.body, "coupling", None) is not None:  # as run_patient: the section sets the cascade
            res = Patient(pm, seed=int(row["seed"]) + seed, section=sec).run(days=fu)
        else:
            shed, _ = _shedding(sec, cfg)
            res = Patient(pm, seed=int(row["seed"]) + seed, shedding=shed).run(days=fu)
        fm = res.first_metastasis
        p_met.append(1.0 - float(np.exp(-fm["expected_metastases"].sum())))
        d = fm["days_from_diagnosis"].to_numpy(float)
        hit = np.isfinite(d) & (d <= fu)
        seen.append(bool(hit.any()))
        first.append(float(np.min(np.where(hit, np.maximum(d, 0.0), fu))))
        organs.append({o: bool(h) for o, h in zip(fm["organ"], hit, strict=True)})
    out |= {"metastatic_fraction": float(np.mean(p_met)), "metastatic_fraction_observed": float(np.mean(seen)),
            "time_to_first_metastasis": float(np.mean(first))}
    n_met = max(sum(seen), 1)
    for o in ORGANS:
        out[f"met_share_{o}"] = float(sum(x.get(o, False) for x in organs)) / n_met if any(seen) else float("nan")
    return out


def _trial_hr(model: Model, problem: Problem, seed: int) -> float:
    from tmesim.cohort.patient import run_patient, with_reference
    from tmesim.cohort.survival import arm_hazard_ratios
    from tmesim.cohort.trial import trial_jobs

    spec = problem.trial_spec.model_copy(update={"n": max(problem.space.spec.patients, 2 * len(problem.trial_spec.arms))})
    cfg = with_reference(model, spec.endpoint_config(), "meanfield")
    jobs = trial_jobs(spec, model)
    rows = []
    for j in jobs:
        row = dict(j.row)
        row["seed"] = int(row["seed"]) + seed
        rows.append(run_patient(model, row, j.arm, j.therapies, cfg, spec.engine))
    df = pd.concat(rows, ignore_index=True)
    arms = [a.name for a in spec.arms]
    hr = arm_hazard_ratios(df, ["pfs"], arms)
    return float(hr["hr"].iloc[0]) if len(hr) else float("nan")


def simulate(params: dict[str, float], seed: int, problem: Problem) -> dict[str, float]:
    """Outputs of ``problem`` at ``params`` (names of its space; missing names stay at the
    model value). Pure and picklable: safe to send to dask, SALib or pyABC workers."""
    model = apply_params(problem.model, problem.space, {k: float(v) for k, v in params.items()})
    spec = problem.space.spec
    levels = problem.levels
    out: dict[str, float] = {}
    if "section" in levels:
        from tmesim.cohort.section import run_section

        out |= _section_outputs(model, run_section(model, spec.days, spec.engine, seed=int(seed)))
    if levels & {"cohort", "body"}:
        out |= _cohort(model, problem, params, int(seed), "body" in levels)
    if "trial" in levels:
        out["trial_hr"] = _trial_hr(model, problem, int(seed))
    return {k: float(out[k]) for k in problem.outputs}


def simulator(problem: Problem) -> Callable[[dict[str, float], int], dict[str, float]]:
    """``simulate`` bound to ``problem`` (a picklable partial)."""
    from functools import partial

    return partial(simulate, problem=problem)


__all__ = ["IMMUNE_CLASSES", "LEVELS", "OUTPUTS", "Output", "Problem", "check_outputs", "immune_types", "simulate", "simulator"]
