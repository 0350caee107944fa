"""One virtual patient, end to end: model variant → section → body → endpoints and markers.

:func:`run_patient` is pure and picklable (what the dask runner submits): the same inputs
give the same one-row table on any worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY

if TYPE_CHECKING:
    from tmesim.meanfield import ContactCourse

from .endpoints import (
    EndpointConfig,
    burden_curve,
    endpoints,
    growth_rate,
    immune_kill_rate,
)
from .markers import blood_mdsc, ctc_at, section_markers
from .section import MEAN_EMT, TUMOR, run_section
from .virtual import drug_variation, patient_model, sample_patients


def treated_model(model: Model, therapies: list[str], start_day: float) -> Model:
    """``model`` with ``therapies`` (specs such as ``atezolizumab+nab-paclitaxel@day=0``) added,
    their start days counted from ``start_day`` (the end of the run-in)."""
    if not therapies:
        return model
    from tmesim.therapy import apply_therapies, parse_therapy

    specs = []
    for text in therapies:
        spec = parse_therapy(text)
        specs.append(type(spec)(name=spec.name, start=spec.start + start_day * MIN_PER_DAY, overrides=spec.overrides))
    return apply_therapies(model, specs)


_TEMPLATES: dict[tuple[int, tuple[str, ...], float], tuple[Model, Model]] = {}


def treated_template(model: Model, therapies: list[str], start_day: float) -> Model:
    """:func:`treated_model` of the cohort's model, validated once per process and reused for
    every patient of the arm (the dask runner sends each worker one copy of the model)."""
    key = (id(model), tuple(therapies), float(start_day))
    hit = _TEMPLATES.get(key)
    if hit is None or hit[0] is not model:  # the model is kept with it, so its id is not reused
        if len(_TEMPLATES) >= 8:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        hit = _TEMPLATES[key] = (model, treated_model(model, list(therapies), start_day))
    return hit[1]


def treated_patient(model: Model, row: dict[str, Any], therapies: list[str], start_day: float) -> tuple[Model, Model]:
    """(untreated, treated) model of one virtual patient, neither validated again: the patient's
    factors applied to the validated model and to its validated treated template (the same
    result as validating ``drug_variation(treated_model(patient_model(model, row), …), row)``,
    tested: the ``drug:`` factors act on the therapy's rules)."""
    pm = patient_model(model, row)
    if not therapies:
        return pm, pm
    return pm, patient_model(treated_template(model, therapies, start_day), row, base_rules=len(model.rules))


def _untreated(section: pd.DataFrame, cfg: EndpointConfig) -> pd.DataFrame:
    """The untreated run-in of the section: what the body model's life history couples to (it is
    untreated, so metastases that arise from it are the same in every arm)."""
    return section[section["time_days"].to_numpy(float) <= cfg.run_in_days + 1e-9]


def _shedding(section: pd.DataFrame, cfg: EndpointConfig) -> Any:
    """The primary's shedding before treatment for a model without ``body.coupling``:
    intravasated cells per cancer cell and day over the last week of the run-in."""
    from tmesim.body.primary import SheddingProfile, emt_class

    t = section["time_days"].to_numpy(float)
    sec = section[(t >= cfg.run_in_days - 7.0 - 1e-9) & (t <= cfg.run_in_days + 1e-9)]
    n = max(float(sec[TUMOR].mean()), 1.0)
    rate = float(sec["intravasation_per_day"].mean()) / n
    emt = float(sec[MEAN_EMT].iloc[-1]) if MEAN_EMT in sec else 0.0
    share = np.zeros(3)
    share[int(emt_class(np.array([emt if np.isfinite(emt) else 0.0]))[0])] = 1.0
    share = 0.5 * share + 0.5 / 3  # the mean EMT's class, smoothed over the three classes
    return SheddingProfile.from_rate(rate, share), rate


REFERENCE_PATIENTS = 32  # virtual patients (seed 0) whose median baseline kill rate is k_ref


def baseline_kill_rate(model: Model, row: dict[str, Any], cfg: EndpointConfig, engine: str = "meanfield",
                       contacts: pd.DataFrame | ContactCourse | None = None) -> float:
    """A virtual patient's untreated kill rate: cancer cells killed by attacks per cancer cell and
    day over the last week of the run-in."""
    section = run_section(patient_model(model, row), cfg.run_in_days, engine, seed=int(row["seed"]),
                          contacts=contacts)
    return immune_kill_rate(section, cfg.run_in_days)


def reference_rows(model: Model) -> list[dict[str, Any]]:
    """The reference sample: :data:`REFERENCE_PATIENTS` virtual patients drawn with seed 0, the
    same whatever the cohort's size, seed or arms."""
    return sample_patients(model, REFERENCE_PATIENTS, seed=0).to_dict("records")


def reference_kill_rate(model: Model, cfg: EndpointConfig, engine: str = "meanfield",
                        contacts: pd.DataFrame | ContactCourse | None = None,
                        mapper: Callable[..., Iterable[float]] | None = None) -> float:
    """k_ref (1/day): the median untreated kill rate of the model's reference sample — the
    immune pressure of a typical tumor of the subtype, which its observed doubling time
    includes (see :mod:`tmesim.cohort.endpoints`).

    ``mapper(f, models, rows, cfgs, engines, contacts)`` runs :func:`baseline_kill_rate` over
    the sample (default: the builtin ``map``; the dask runner passes one that uses its cluster)."""
    rows = reference_rows(model)
    n = len(rows)
    rates = (mapper or map)(baseline_kill_rate, [model] * n, rows, [cfg] * n, [engine] * n, [contacts] * n)
    return float(np.median(list(rates)))


def with_reference(model: Model, cfg: EndpointConfig, engine: str = "meanfield",
                   contacts: pd.DataFrame | ContactCourse | None = None) -> EndpointConfig:
    """``cfg`` with its reference kill rate filled in (unchanged when set or not used)."""
    if not cfg.immune_control or cfg.reference_kill_rate is not None:
        return cfg
    return replace(cfg, reference_kill_rate=reference_kill_rate(model, cfg, engine, contacts))


def run_patient(model: Model, row: dict[str, Any], arm: str = "cohort", therapies: list[str] | None = None,
                cfg: EndpointConfig | None = None, engine: str = "meanfield",
                contacts: pd.DataFrame | ContactCourse | None = None, validate: bool = False) -> pd.DataFrame:
    """Simulate one virtual patient; returns one row: identity, covariates, markers, endpoints.

    ``contacts``: contact enrichment for the mean-field section (see :func:`run_section`).
    ``validate``: validate the patient's untreated and treated models whole (the slower
    reference path, same results) instead of deriving them (:func:`treated_patient`)."""
    t0 = time.perf_counter()
    cfg = with_reference(model, cfg or EndpointConfig(), engine, contacts)
    if validate:
        pm = patient_model(model, row, validate=True)
        tm = drug_variation(treated_model(pm, list(therapies or []), cfg.run_in_days), row, validate=True)
    else:
        pm, tm = treated_patient(model, row, list(therapies or []), cfg.run_in_days)
    section = run_section(tm, cfg.run_in_days + cfg.treatment_days, engine, seed=int(row["seed"]),
                          contacts=contacts)
    base = section.iloc[int(np.argmin(np.abs(section["time_days"].to_numpy(float) - cfg.run_in_days)))]
    curve = burden_curve(section, pm, cfg)
    out: dict[str, Any] = {"arm": arm, **{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
    out |= section_markers(base, pm)
    out["mdsc_blood"] = blood_mdsc(pm, model)
    mets = met_burden = None
    shed_rate = float("nan")
    if pm.body is not None:
        from tmesim.body import Patient

        if pm.body.coupling is not None:  # the patient's own untreated section sets its cascade
            res = Patient(pm, seed=int(row["seed"]), section=_untreated(section, cfg)).run(days=cfg.follow_up_days)
            shed_rate = res.shedding.cells_per_cell_minute() * MIN_PER_DAY
            cp = res.coupling.set_index("factor")["value"]
            out |= {f"coupling_{k}": float(cp[k]) for k in ("cluster_fraction", "exosome_release", "platelet_shield",
                                                             "cathepsin_s", "cxcr4", "tgfb") if k in cp.index}
        else:
            shed, shed_rate = _shedding(section, cfg)
            res = Patient(pm, seed=int(row["seed"]), shedding=shed).run(days=cfg.follow_up_days)
        mets = res.first_metastasis
        b = res.burden[res.burden["days_from_diagnosis"] >= -1e-9]
        met_burden = b.groupby("days_from_diagnosis", as_index=False)["cells"].sum().rename(
            columns={"days_from_diagnosis": "day"})
        out["ctc_count"] = ctc_at(res.ctc, 0.0)
    else:
        out["ctc_count"] = float("nan")
    out["shedding_per_cell_day"] = shed_rate
    out["kill_rate_baseline"] = immune_kill_rate(section, cfg.run_in_days)
    out["kill_rate_end"] = immune_kill_rate(section, float(section["time_days"].iloc[-1]))
    out["growth_rate"] = growth_rate(section, pm, cfg)
    out["kill_rate_reference"] = float("nan") if cfg.reference_kill_rate is None else float(cfg.reference_kill_rate)
    if cfg.immune_on_therapy:  # the expansion rate under therapy relative to untreated, at the window's end
        out["immune_pace_window"] = float(np.interp(cfg.treatment_days, curve["day"], curve["immune_pace"]))
    out |= endpoints(curve, pm, mets, met_burden, cfg, seed=int(row["seed"]))
    out["engine"] = engine
    out["runtime_s"] = time.perf_counter() - t0
    return pd.DataFrame([out])


__all__ = ["REFERENCE_PATIENTS", "baseline_kill_rate", "reference_kill_rate", "reference_rows", "run_patient",
           "treated_model", "treated_patient", "treated_template", "with_reference"]
