"""Coupled organotropism: virtual patients whose own sections set their metastatic cascade.

Each virtual patient of a subtype (:func:`tmesim.cohort.virtual.sample_patients`) gets its
model variant, its untreated mean-field section (``days``, default 28) and, through
:mod:`tmesim.body.coupling`, its own shedding, CTC mix, clusters and systemic factors; the
body level then follows it for ``follow_up_days``. One row per patient: metastatic sites,
days to each, expected metastases per organ, the expected detections per week after
diagnosis per organ (``detections_<organ>``, first-generation colonies founded while the
patient lives) and the coupling factors.

Metastatic sites are counted the way the cohorts count them (:func:`site_table`): the sites
found at the **first distant recurrence** — every organ whose first metastasis is detected
within ``window`` days of the patient's first detected metastasis (SEER "at diagnosis of
metastatic disease" and first-recurrence series: 13 weeks, the staging work-up) — or over a
stated time of metastatic disease (a longer window). "Every organ ever reached by the end of
follow-up" is not what the cohorts report: untreated virtual patients live years with growing
metastases that shed cells into every organ (re-seeding), so by then nearly every organ has one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tmesim.body import Patient, PatientOptions
from tmesim.body.knockouts import knockout
from tmesim.body.section import run_section
from tmesim.model import Model
from tmesim.model.body import ORGANS

from .virtual import patient_model, sample_patients

COUPLING_COLUMNS = ("cluster_fraction", "shedding_per_cell_day", "stemness_founding", "exosome_release",
                    "platelet_shield", "cluster_death_factor", "cluster_founding_factor")


def coupled_patient(model: Model, row: dict, days: float = 28.0, follow_up_days: float | None = None,
                    options: PatientOptions | None = None, knockouts: tuple[str, ...] = ()) -> dict:
    """One virtual patient through section → body; ``knockouts`` edit its section."""
    pm = patient_model(model, row)
    section = run_section(knockout(pm, *knockouts), days, "meanfield", seed=int(row["seed"]))
    res = Patient(pm, seed=int(row["seed"]), options=options, section=section).run(days=follow_up_days)
    fm = res.first_metastasis.set_index("organ")
    cp = res.coupling.set_index("factor")["value"]
    out = {"patient_id": int(row["patient_id"]), "seed": int(row["seed"]), "shedding_propensity": res.shedding_propensity,
           **{o: bool(np.isfinite(fm.loc[o, "days_from_diagnosis"])) for o in ORGANS},
           **{f"days_to_{o}": float(fm.loc[o, "days_from_diagnosis"]) for o in ORGANS},
           **{f"expected_{o}": float(fm.loc[o, "expected_metastases"]) for o in ORGANS},
           **{f"colonies_{o}": float(fm.loc[o, "expected_colonies"]) for o in ORGANS},
           **{f"coupling_{k}": float(cp[k]) for k in COUPLING_COLUMNS if k in cp.index},
           **_detections(res, fm),
           "death_days": res.death_days_from_diagnosis}
    u = res.units.groupby("unit")[["colonies", "intravasated_units"]].sum()
    for unit in ("single", "cluster"):
        out[f"colonies_per_{unit}"] = float(u.loc[unit, "colonies"] / u.loc[unit, "intravasated_units"]) \
            if u.loc[unit, "intravasated_units"] > 0 else 0.0
    return out


WEEK = 7.0


def _detections(res, fm: pd.DataFrame) -> dict[str, np.ndarray]:  # noqa: ANN001 - PatientResult
    """Expected first-generation detections per week after diagnosis, per organ: each week's
    founding rate moved by the organ's founding-to-detection delay (what the Poisson draws
    of :meth:`tmesim.body.Patient.run` detect on average). Metastases already detectable at
    diagnosis fall in week 0."""
    arr = res.arrivals
    out = {}
    for o in ORGANS:
        a = arr[arr["organ"] == o]
        delay = float(fm.loc[o, "detection_delay_days"])
        t_end = float(a["time_days"].max()) - res.diagnosis_day
        nb = int(np.floor(t_end / WEEK)) + 1
        d = np.zeros(max(nb, 1))
        if np.isfinite(delay):
            day = a["time_days"].to_numpy(float) + delay - res.diagnosis_day
            keep = day <= t_end
            idx = np.clip(np.floor(day[keep] / WEEK).astype(int), 0, len(d) - 1)
            np.add.at(d, idx, a["founding_per_day"].to_numpy(float)[keep] * WEEK)
        out[f"detections_{o}"] = d
    return out


def simulate_coupled(model: Model, n: int, seed: int = 0, days: float = 28.0, follow_up_days: float | None = None,
                     options: PatientOptions | None = None, knockouts: tuple[str, ...] = (),
                     progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """``n`` coupled virtual patients of ``model`` (one row each)."""
    rows = []
    for k, row in enumerate(sample_patients(model, n, seed).to_dict("records")):
        rows.append(coupled_patient(model, row, days, follow_up_days, options, knockouts))
        if progress is not None:
            progress(k + 1)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ calibration targets
TARGETS_FILE = "organotropism_targets.csv"
VISCERAL = ("lung", "liver", "brain")
FIRST_RECURRENCE_DAYS = 91.0  # 13 weeks: the staging work-up of a first distant recurrence (assumption)
HORIZON_DAYS = 10 * 365.25
SITE_COLUMNS = (*ORGANS, "visceral", "bone_only")


def read_targets() -> pd.DataFrame:
    """The shipped cohort figures (``tmesim/body/data/organotropism_targets.csv``)."""
    from importlib.resources import files

    text = (files("tmesim.body") / "data" / TARGETS_FILE).read_text()
    import io

    return pd.read_csv(io.StringIO(text), comment="#")


def _mix(spec: str) -> dict[str, float]:
    out = {}
    for part in str(spec).split("|"):
        if part.strip():
            name, _, w = part.partition(":")
            out[name.strip()] = float(w or 1.0)
    return out


def _weeks(days: float) -> int:
    return int(round(days / WEEK))


def site_table(df: pd.DataFrame, window_days: float = FIRST_RECURRENCE_DAYS,
               horizon_days: float = HORIZON_DAYS) -> pd.DataFrame:
    """Per simulated patient (0/1): ``any`` (a distant metastasis detected by ``horizon_days``
    after diagnosis), each organ, ``visceral`` and ``bone_only`` among the sites detected
    within ``window_days`` of the first, and ``brain_first_5y`` (brain among the first sites,
    within five years)."""
    days = df[[f"days_to_{o}" for o in ORGANS]].to_numpy(float)
    days = np.where(np.isfinite(days), days, np.inf)
    first = days.min(axis=1)
    met = first <= horizon_days
    site = met[:, None] & (days <= first[:, None] + WEEK * _weeks(window_days) + 1e-6)
    out = pd.DataFrame(site.astype(float), columns=list(ORGANS))
    vis = out[list(VISCERAL)].max(axis=1)
    out["any"] = met.astype(float)
    out["visceral"] = vis
    out["bone_only"] = out["bone"] * (1.0 - vis)
    b = days[:, ORGANS.index("brain")]
    out["brain_first_5y"] = ((b <= first + WEEK) & (b <= 5 * 365.25)).astype(float)
    return out


def expected_site_table(df: pd.DataFrame, window_days: float = FIRST_RECURRENCE_DAYS,
                        horizon_days: float = HORIZON_DAYS, scale: dict[str, float] | None = None) -> pd.DataFrame:
    """:func:`site_table`'s probabilities from the expected weekly detections (Poisson per
    organ and week), with each organ's detections multiplied by ``scale`` (the fit's rescaling
    of awakening rates: detections are proportional to them while awakening is far slower than
    dormant death)."""
    scale = scale or {}
    nb = min(len(v) for v in df["detections_bone"])
    dm = np.stack([np.stack([v[:nb] for v in df[f"detections_{o}"]]) * scale.get(o, 1.0) for o in ORGANS], axis=1)
    kh = min(int(np.floor(horizon_days / WEEK)) + 1, nb)
    w = _weeks(window_days)
    tot = dm.sum(axis=1)  # [p, k]
    surv = np.exp(-(np.cumsum(tot, axis=1) - tot))
    step_any = -np.expm1(-tot)
    pk = (surv * step_any)[:, :kh]  # first detection in week k
    safe = np.where(step_any > 0, step_any, 1.0)
    c = np.concatenate([np.zeros(dm.shape[:2] + (1,)), np.cumsum(dm, axis=2)], axis=2)
    k = np.arange(kh)
    win = c[:, :, np.minimum(k + 1 + w, nb)] - c[:, :, k + 1]  # detections in the window after week k
    q = (-np.expm1(-dm[:, :, :kh])) / safe[:, None, :kh]  # organ among week k's detections
    p_org = 1.0 - (1.0 - q) * np.exp(-win)
    vi = [ORGANS.index(o) for o in VISCERAL]
    bi = ORGANS.index("bone")
    no_vis_step = np.exp(-dm[:, vi, :kh].sum(axis=1)) * (-np.expm1(-dm[:, bi, :kh])) / safe[:, :kh]
    bone_only = no_vis_step * np.exp(-win[:, vi].sum(axis=1))
    out = pd.DataFrame({o: (pk * p_org[:, n]).sum(axis=1) for n, o in enumerate(ORGANS)})
    out["any"] = pk.sum(axis=1)
    out["visceral"] = (pk * (1.0 - no_vis_step * np.exp(-win[:, vi].sum(axis=1)))).sum(axis=1)
    out["bone_only"] = (pk * bone_only).sum(axis=1)
    k5 = min(int(np.floor(5 * 365.25 / WEEK)) + 1, nb)
    out["brain_first_5y"] = (surv[:, :k5] * -np.expm1(-dm[:, ORGANS.index("brain"), :k5])).sum(axis=1)
    return out


YEAR_DAYS = 365.25
HAZARD_KINDS = {"hazard_5_10": (5.0, 10.0), "hazard_10_15": (10.0, 15.0), "hazard_15_20": (15.0, 20.0),
                "hazard_8_20": (8.0, 20.0)}


def relapse_free(df: pd.DataFrame, years: np.ndarray, expected: bool = False,
                 scale: dict[str, float] | None = None) -> np.ndarray:
    """Share of patients free of distant relapse (no detected metastasis) at each of ``years``
    after diagnosis: from the simulated detection days, or (``expected=True``) from the expected
    weekly detections (Poisson per week, each organ scaled by ``scale``)."""
    years = np.asarray(years, float)
    if not expected:
        days = df[[f"days_to_{o}" for o in ORGANS]].to_numpy(float)
        first = np.where(np.isfinite(days), days, np.inf).min(axis=1)
        return np.array([float(np.mean(first > y * YEAR_DAYS)) for y in years])
    scale = scale or {}
    nb = min(len(v) for v in df["detections_bone"])
    tot = sum(np.stack([v[:nb] for v in df[f"detections_{o}"]]) * scale.get(o, 1.0) for o in ORGANS)
    cum = np.concatenate([np.zeros((len(df), 1)), np.cumsum(tot, axis=1)], axis=1)  # detections by week end
    k = np.minimum(np.floor(years * YEAR_DAYS / WEEK).astype(int), nb)
    return np.exp(-cum[:, k]).mean(axis=0)


def annual_hazard(df: pd.DataFrame, start: float, end: float, expected: bool = False,
                  scale: dict[str, float] | None = None) -> float:
    """Mean annual hazard of distant relapse (%/year) from ``start`` to ``end`` years after
    diagnosis among the patients relapse-free at ``start`` (EBCTCG, Pan et al. 2017)."""
    s = relapse_free(df, np.array([start, end]), expected, scale)
    return float(100.0 * -np.log(s[1] / s[0]) / (end - start)) if s[0] > 0 and s[1] > 0 else float("nan")


def mean_relapse_years(df: pd.DataFrame, horizon_days: float = HORIZON_DAYS, expected: bool = False,
                       scale: dict[str, float] | None = None) -> float:
    """Mean time (years) from diagnosis to the first distant relapse among the patients who
    relapse within ``horizon_days`` (Dent et al. 2007: 2.6 years in triple-negative disease)."""
    if not expected:
        days = df[[f"days_to_{o}" for o in ORGANS]].to_numpy(float)
        first = np.where(np.isfinite(days), days, np.inf).min(axis=1)
        hit = first <= horizon_days
        return float(first[hit].mean() / YEAR_DAYS) if hit.any() else float("nan")
    weeks = np.arange(int(np.floor(horizon_days / WEEK)) + 2)
    s = relapse_free(df, weeks * WEEK / YEAR_DAYS, True, scale)
    p = -np.diff(s)  # first relapse in each week
    mid = (weeks[:-1] + 0.5) * WEEK / YEAR_DAYS
    return float((p * mid).sum() / p.sum()) if p.sum() > 0 else float("nan")


def predict(cohorts: dict[str, pd.DataFrame], targets: pd.DataFrame, expected: bool = False,
            scale: dict[str, dict[str, float]] | None = None, horizon_days: float = HORIZON_DAYS) -> pd.DataFrame:
    """``targets`` with the model's figure for each row (``model``), from coupled cohorts per
    subtype (:func:`simulate_coupled` tables). Sites are those detected within the row's
    ``window_years`` of the first distant metastasis (:func:`site_table`); ``expected=True``
    reads the expected weekly detections instead (:func:`expected_site_table`, ``scale`` per
    subtype and organ)."""
    cache: dict[tuple[str, float], pd.DataFrame] = {}

    def table(s: str, window_days: float) -> pd.DataFrame:
        key = (s, window_days)
        if key not in cache:
            cache[key] = (expected_site_table(cohorts[s], window_days, horizon_days, (scale or {}).get(s))
                          if expected else site_table(cohorts[s], window_days, horizon_days))
        return cache[key]

    def share(s: str, col: str, window_days: float) -> float:
        p = table(s, window_days)
        met = float(p["any"].mean())
        return float(p[col].mean() / met) if met > 0 else float("nan")

    def pooled(spec: str, col: str, window_days: float) -> float:
        mix = {s: w for s, w in _mix(spec).items() if s in cohorts}
        tot = sum(mix.values())
        return sum(w * share(s, col, window_days) for s, w in mix.items()) / tot if tot else float("nan")

    vals = []
    for r in targets.itertuples(index=False):
        mix = _mix(r.subtypes)
        win = float(r.window_years) * 365.25 if np.isfinite(float(r.window_years)) else FIRST_RECURRENCE_DAYS
        col = {"site_share": r.organ, "site_or": r.organ, "visceral": "visceral", "bone_only": "bone_only"}.get(r.kind)
        if not set(mix) <= set(cohorts):
            vals.append(float("nan"))
        elif r.kind == "fraction":
            vals.append(100.0 * float(table(next(iter(mix)), win)["any"].mean()))
        elif r.kind in ("site_share", "visceral", "bone_only"):
            vals.append(100.0 * pooled(r.subtypes, col, win))
        elif r.kind == "site_or":
            a, b = pooled(r.subtypes, col, win), pooled(r.reference, col, win)
            vals.append(float((a / (1 - a)) / (b / (1 - b))) if 0 < a < 1 and 0 < b < 1 else float("nan"))
        elif r.kind in HAZARD_KINDS or r.kind == "mean_years":
            tot = sum(mix.values())
            if r.kind == "mean_years":
                f = [mean_relapse_years(cohorts[s], horizon_days, expected, (scale or {}).get(s)) for s in mix]
            else:
                f = [annual_hazard(cohorts[s], *HAZARD_KINDS[r.kind], expected, (scale or {}).get(s)) for s in mix]
            vals.append(sum(w * v for w, v in zip(mix.values(), f, strict=True)) / tot)
        elif r.kind == "brain_first_5y":
            vals.append(100.0 * float(table(next(iter(mix)), win)["brain_first_5y"].mean()))
        else:
            vals.append(float("nan"))
    out = targets.copy()
    out["model"] = vals
    return out


__all__ = ["COUPLING_COLUMNS", "FIRST_RECURRENCE_DAYS", "HAZARD_KINDS", "HORIZON_DAYS", "TARGETS_FILE", "annual_hazard",
           "coupled_patient", "expected_site_table", "mean_relapse_years", "predict", "read_targets", "relapse_free",
           "simulate_coupled", "site_table"]
