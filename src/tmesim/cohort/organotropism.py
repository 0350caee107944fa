"""Coupled organotropism: virtual patients whose own sections set their metastatic cascade.

Each virtual patient of a subtype (:func:`tmesim.cohort.virtual.sample_patients`) gets its
model variant, its untreated mean-field section (``days``, default 28) and, through
:mod:`tmesim.body.coupling`, its own shedding, CTC mix, clusters and systemic factors; the
body level then follows it for ``follow_up_days``. One row per patient: metastatic sites,
days to each, expected metastases per organ, and the coupling factors.
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
           "death_days": res.death_days_from_diagnosis}
    u = res.units.groupby("unit")[["colonies", "intravasated_units"]].sum()
    for unit in ("single", "cluster"):
        out[f"colonies_per_{unit}"] = float(u.loc[unit, "colonies"] / u.loc[unit, "intravasated_units"]) \
            if u.loc[unit, "intravasated_units"] > 0 else 0.0
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


def site_probabilities(df: pd.DataFrame, expected: bool) -> pd.DataFrame:
    """Per patient and organ: the probability of a metastasis there by the end of follow-up —
    ``1 - exp(-expected_<organ>)`` from expected values, or the simulated 0/1."""
    if expected:
        return pd.DataFrame({o: 1.0 - np.exp(-df[f"expected_{o}"].to_numpy(float)) for o in ORGANS})
    return pd.DataFrame({o: df[o].astype(float).to_numpy() for o in ORGANS})


def predict(cohorts: dict[str, pd.DataFrame], targets: pd.DataFrame, expected: bool = False) -> pd.DataFrame:
    """``targets`` with the model's figure for each row (``model``), from coupled cohorts per
    subtype (:func:`simulate_coupled` tables); ``expected=True`` reads expected metastases."""
    P = {s: site_probabilities(df, expected) for s, df in cohorts.items()}

    def any_(p: pd.DataFrame, organs: tuple[str, ...] = ORGANS) -> np.ndarray:
        return 1.0 - np.prod(1.0 - p[list(organs)].to_numpy(), axis=1)

    def share(s: str, kind: str, organ: str) -> float:
        p = P[s]
        met = float(np.mean(any_(p)))
        if met <= 0:
            return float("nan")
        if kind == "visceral":
            num = np.mean(any_(p, VISCERAL))
        elif kind == "bone_only":
            num = np.mean(p["bone"].to_numpy() * (1.0 - any_(p, VISCERAL)))
        else:
            num = np.mean(p[organ].to_numpy())
        return float(num / met)

    def pooled(spec: str, kind: str, organ: str) -> float:
        mix = {s: w for s, w in _mix(spec).items() if s in P}
        tot = sum(mix.values())
        return sum(w * share(s, kind, organ) for s, w in mix.items()) / tot if tot else float("nan")

    vals = []
    for r in targets.itertuples(index=False):
        mix = _mix(r.subtypes)
        if not set(mix) <= set(P):
            vals.append(float("nan"))
        elif r.kind == "fraction":
            vals.append(100.0 * float(np.mean(any_(P[next(iter(mix))]))))
        elif r.kind in ("site_share", "visceral", "bone_only"):
            vals.append(100.0 * pooled(r.subtypes, r.kind, r.organ))
        elif r.kind == "site_or":
            a, b = pooled(r.subtypes, "site_share", r.organ), pooled(r.reference, "site_share", r.organ)
            vals.append(float((a / (1 - a)) / (b / (1 - b))) if 0 < a < 1 and 0 < b < 1 else float("nan"))
        elif r.kind == "brain_first_5y" and not expected:
            df = cohorts[next(iter(mix))]
            days = df[[f"days_to_{o}" for o in ORGANS]].to_numpy(float)
            first = np.nanmin(np.where(np.isfinite(days), days, np.inf), axis=1)
            b = df["days_to_brain"].to_numpy(float)
            vals.append(100.0 * float(np.mean(np.isfinite(b) & (b <= 5 * 365.25) & (b <= first))))
        else:
            vals.append(float("nan"))
    out = targets.copy()
    out["model"] = vals
    return out
__all__ = ["COUPLING_COLUMNS", "TARGETS_FILE", "coupled_patient", "predict", "read_targets", "simulate_coupled", "site_probabilities"]
