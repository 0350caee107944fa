"""One virtual patient, end to end: model variant → section → body → endpoints and markers.

:func:`run_patient` is pure and picklable (what the dask runner submits): the same inputs
give the same one-row table on any worker.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tmesim.model import Model

if TYPE_CHECKING:
    from tmesim.meanfield import ContactCourse

from .endpoints import EndpointConfig, burden_curve, endpoints
from .markers import ctc_at, section_markers
from .section import run_section
from .virtual import patient_model

MIN_PER_DAY = 1440.0


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


def _shedding(section: pd.DataFrame, cfg: EndpointConfig) -> Any:
    """The primary's shedding before treatment: intravasated cells per cancer cell and day over
    the last week of the run-in (the body model's life history is untreated, so metastases that
    arise from it are the same in every arm)."""
    from tmesim.body.primary import SheddingProfile, emt_class

    t = section["time_days"].to_numpy(float)
    sec = section[(t >= cfg.run_in_days - 7.0 - 1e-9) & (t <= cfg.run_in_days + 1e-9)]
    n = max(float(sec["cancer"].mean()), 1.0)
    rate = float(sec["intravasation_per_day"].mean()) / n
    emt = float(sec["mean_emt_cancer"].iloc[-1]) if "mean_emt_cancer" in sec else 0.0
    share = np.zeros(3)
    share[int(emt_class(np.array([emt if np.isfinite(emt) else 0.0]))[0])] = 1.0
    share = 0.5 * share + 0.5 / 3  # the mean EMT's class, smoothed over the three classes
    return SheddingProfile.from_rate(rate, share), rate


def run_patient(model: Model, row: dict[str, Any], arm: str = "cohort", therapies: list[str] | None = None,
                cfg: EndpointConfig | None = None, engine: str = "meanfield",
                contacts: pd.DataFrame | ContactCourse | None = None) -> pd.DataFrame:
    """Simulate one virtual patient; returns one row: identity, covariates, markers, endpoints.

    ``contacts``: contact enrichment for the mean-field section (see :func:`run_section`)."""
    cfg = cfg or EndpointConfig()
    t0 = time.perf_counter()
    pm = patient_model(model, row)
    tm = treated_model(pm, list(therapies or []), cfg.run_in_days)
    section = run_section(tm, cfg.run_in_days + cfg.treatment_days, engine, seed=int(row["seed"]),
                          contacts=contacts)
    base = section.iloc[int(np.argmin(np.abs(section["time_days"].to_numpy(float) - cfg.run_in_days)))]
    curve = burden_curve(section, pm, cfg)
    out: dict[str, Any] = {"arm": arm, **{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
    out |= section_markers(base, pm)
    mets = met_burden = None
    shed_rate = float("nan")
    if pm.body is not None:
        from tmesim.body import Patient

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
    out |= endpoints(curve, pm, mets, met_burden, cfg)
    out["engine"] = engine
    out["runtime_s"] = time.perf_counter() - t0
    return pd.DataFrame([out])


__all__ = ["run_patient", "treated_model"]
