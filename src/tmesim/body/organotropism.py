"""Where metastases go, by subtype: simulated patients compared with the review's figures.

review:112 (as quoted by the review): bone metastases in 60-85% of women with metastatic
breast cancer; liver metastases in 32% of HER2+ patients; brain metastases in about 50% of
TNBC, 33% of HER2+ and 14% of hormone-receptor-positive patients. Shares are among the
patients who have metastases, and a patient can have several sites.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.model.body import ORGANS

from .patient import Patient, PatientOptions
from .primary import SheddingProfile

# (subtype, organ) -> (low, high) share of metastatic patients, in percent.
REVIEW_SITE_SHARES: dict[tuple[str, str], tuple[float, float]] = {
    ("tnbc", "bone"): (60.0, 85.0), ("her2", "bone"): (60.0, 85.0),
    ("luminal-a", "bone"): (60.0, 85.0), ("luminal-b", "bone"): (60.0, 85.0),
    ("her2", "liver"): (32.0, 32.0),
    ("tnbc", "brain"): (50.0, 50.0), ("her2", "brain"): (33.0, 33.0),
    ("luminal-a", "brain"): (14.0, 14.0), ("luminal-b", "brain"): (14.0, 14.0),
}
REVIEW_SOURCE = "review:112"


def patient_seeds(seed: int, n: int) -> list[int]:
    """Independent per-patient seeds from one cohort seed (numpy SeedSequence.spawn)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def simulate_patients(model: Model, n: int, seed: int, shedding: SheddingProfile,
                      options: PatientOptions | None = None,
                      progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """One row per patient: metastatic sites (bool per organ) and days to first metastasis."""
    rows = []
    for k, s in enumerate(patient_seeds(seed, n)):
        res = Patient(model, seed=s, options=options, shedding=shedding).run()
        fm = res.first_metastasis.set_index("organ")["days_from_diagnosis"]
        rows.append({"patient": k, "seed": s, "shedding_propensity": res.shedding_propensity,
                     **{o: bool(np.isfinite(fm[o])) for o in ORGANS},
                     **{f"days_to_{o}": float(fm[o]) for o in ORGANS}})
        if progress is not None:
            progress(k + 1)
    return pd.DataFrame(rows)


def site_shares(patients: pd.DataFrame, subtype: str) -> pd.DataFrame:
    """Share of metastatic patients with each site, next to the review's figure where it gives one."""
    met = patients[patients[list(ORGANS)].any(axis=1)]
    out = []
    for o in ORGANS:
        share = 100.0 * float(met[o].mean()) if len(met) else float("nan")
        lo, hi = REVIEW_SITE_SHARES.get((subtype, o), (np.nan, np.nan))
        dist = 0.0 if lo <= share <= hi else min(abs(share - lo), abs(share - hi)) if np.isfinite(lo) else np.nan
        out.append({"subtype": subtype, "organ": o, "patients": len(patients), "metastatic_patients": len(met),
                    "simulated_percent": share, "review_low_percent": lo, "review_high_percent": hi,
                    "distance_pp": dist, "within_10pp": bool(dist <= 10.0) if np.isfinite(dist) else None,
                    "source": REVIEW_SOURCE if np.isfinite(lo) else ""})
    return pd.DataFrame(out)


__all__ = ["REVIEW_SITE_SHARES", "patient_seeds", "simulate_patients", "site_shares"]
