"""Metastatic sites are counted the way the cohorts count them, and the fit counts them alike.

The benchmark reads simulated detection days (:func:`site_table`); the fit reads expected weekly
detections (:func:`expected_site_table`). Both must give the same shares for the same patients,
or a fitted parameter would be fitted to a different quantity than the one reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmesim.cohort.organotropism import FIRST_RECURRENCE_DAYS, expected_site_table, site_table
from tmesim.model.body import ORGANS


def _synthetic(n: int, weeks: int, seed: int) -> pd.DataFrame:
    """Patients with lognormal metastatic propensity and organ-specific weekly detection rates,
    and their detection days drawn from those rates (first detection per organ)."""
    rng = np.random.default_rng(seed)
    base = {"bone": 2e-3, "lung": 1e-3, "liver": 1e-3, "brain": 5e-4}
    scale = rng.lognormal(0.0, 1.5, size=n)
    ramp = np.exp(-np.arange(weeks) / 150.0)
    out = {}
    for o in ORGANS:
        d = base[o] * scale[:, None] * ramp[None, :]
        hit = rng.poisson(d) > 0
        week = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        out[f"detections_{o}"] = list(d)
        out[f"days_to_{o}"] = np.where(week >= 0, 7.0 * week + rng.uniform(0, 7, size=n), np.nan)
    return pd.DataFrame(out)


@pytest.mark.parametrize("window", [FIRST_RECURRENCE_DAYS, 730.5])
def test_fit_and_benchmark_count_the_same_sites(window: float) -> None:
    df = _synthetic(4000, 400, 3)
    sim = site_table(df, window, horizon_days=1800.0).mean()
    exp = expected_site_table(df, window, horizon_days=1800.0).mean()
    for col in ("any", *ORGANS, "visceral", "bone_only", "brain_first_5y"):
        assert abs(sim[col] - exp[col]) < 0.02, (col, sim[col], exp[col])


def test_first_recurrence_sites_exclude_later_organs() -> None:
    df = pd.DataFrame([{"days_to_bone": 100.0, "days_to_lung": 150.0, "days_to_liver": 700.0, "days_to_brain": np.nan},
                       {"days_to_bone": np.nan, "days_to_lung": np.nan, "days_to_liver": 4000.0, "days_to_brain": np.nan}])
    first = site_table(df, FIRST_RECURRENCE_DAYS)
    assert first.loc[0, ["bone", "lung", "liver", "brain"]].tolist() == [1, 1, 0, 0]
    assert first.loc[0, "bone_only"] == 0 and first.loc[0, "visceral"] == 1
    assert first.loc[1, "any"] == 0  # first metastasis after the 10-year horizon
    course = site_table(df, 2 * 365.25)
    assert course.loc[0, "liver"] == 1


def test_fit_and_benchmark_time_relapse_alike() -> None:
    """The relapse-timing targets (annual hazard in a window, mean time to relapse) read the same
    from simulated detection days as from the expected weekly detections."""
    from tmesim.cohort.organotropism import annual_hazard, mean_relapse_years

    df = _synthetic(4000, 1050, 5)
    for a, b in ((0.0, 5.0), (5.0, 10.0), (10.0, 20.0)):
        sim, exp = annual_hazard(df, a, b), annual_hazard(df, a, b, expected=True)
        assert abs(sim - exp) < 0.1 * exp + 0.05, (a, b, sim, exp)
    assert abs(mean_relapse_years(df) - mean_relapse_years(df, expected=True)) < 0.15
