"""Acquired chemoresistance and anti-angiogenic biology on the TNBC preset, mean-field engine
(deterministic: one run per arm; the shipped measured contact table).

* Resistance emerges under continuous weekly paclitaxel (Sharma et al., Cell 2010): the tumor
  cells' resistance state rises and a dose kills less and less of the section; without the
  drug-induced resistance rule the doses keep their effect.
* Bevacizumab at a moderate dose (2.5 mg/kg every 2 weeks) normalises vessels for a window
  (Jain, Science 2005; Winkler et al., Cancer Cell 2004): pericyte coverage and the perfused
  share of vessels rise and the hypoxic share of the section (sites beyond one oxygen diffusion
  length of a perfused vessel) falls within the first days, and the gain fades as vessels are
  lost; at the label dose (10 mg/kg) it prunes more tumor vessels.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

import tmesim
from tmesim.meanfield import MeanField
from tmesim.therapy import apply_therapies
from tmesim.therapy.specs import TherapySpec

START = 28.0  # days of untreated growth before therapy


@functools.cache
def _contacts() -> pd.DataFrame:
    path = tmesim.preset_path("catalog").parent.parent / "cohort" / "data" / "contacts" / "tnbc.csv.gz"
    return pd.read_csv(path)


@functools.cache
def arm(name: str, days: float = 112.0, induced_resistance: bool = True) -> pd.DataFrame:
    m = tmesim.load_model(tmesim.preset_path("tnbc"))
    day = START * 1440.0
    specs = {"none": [], "paclitaxel": [TherapySpec("chemotherapy", day)],
             "bev_moderate": [TherapySpec("bevacizumab", day, {"bevacizumab": {"dose": "175 mg"}})],
             "bev_label": [TherapySpec("bevacizumab", day)]}[name]
    m = apply_therapies(m, specs)
    if not induced_resistance:
        data = m.model_dump(mode="json")
        data["rules"] = [r for r in data["rules"] if r["behaviour"] != "resistance increase"]
        m = tmesim.model_from_dict(data)
    out = MeanField(m, contacts=_contacts()).run(days=days, t_eval=np.arange(0.0, days + 1e-9, 1.0))
    return out.set_index("time_days")


def test_resistance_emerges_under_continuous_chemotherapy() -> None:
    tx, naive = arm("paclitaxel"), arm("paclitaxel", induced_resistance=False)
    assert tx.loc[START:, "mean_resistance_cancer"].iloc[-1] > 0.2
    assert naive.loc[START:, "mean_resistance_cancer"].max() < 0.01

    def dose_kill(df: pd.DataFrame, day: float) -> float:  # share of tumor cells one dose kills
        return 1.0 - df.loc[day:day + 3, "cancer"].min() / df.loc[day - 1, "cancer"]

    # weekly paclitaxel on days 1, 8, 15 of 28-day cycles: the third cycle's first dose kills
    # much less than the first; without acquired resistance it does not lose its effect as much
    first, third = START, START + 56
    assert dose_kill(tx, third) < 0.5 * dose_kill(tx, first)
    assert dose_kill(naive, third) > 1.2 * dose_kill(tx, third)  # measured 0.24 vs 0.19
    assert tx.loc[third + 14, "cancer"] > 1.3 * naive.loc[third + 14, "cancer"]


def test_moderate_vegf_blockade_normalises_vessels_for_a_window() -> None:
    ctl, bev = arm("none"), arm("bev_moderate")
    early = [START + 4, START + 7, START + 10]
    assert (bev.loc[early, "mean_maturity_TEC"] > ctl.loc[early, "mean_maturity_TEC"] + 0.2).all()
    # +0.04 of all vessels perfused in the window on the current catalog (0.43 vs 0.39)
    assert (bev.loc[early, "perfused_fraction"] > ctl.loc[early, "perfused_fraction"] + 0.02).all()
    # fewer sites beyond the oxygen diffusion length of a perfused vessel (less hypoxia)
    assert (bev.loc[early, "hypoxic_fraction"] < ctl.loc[early, "hypoxic_fraction"]).all()
    # the window closes: two months on, the perfusion gain is gone (vessels pruned and lost)
    late = START + 56
    assert bev.loc[late, "perfused_fraction"] - ctl.loc[late, "perfused_fraction"] < \
        bev.loc[START + 7, "perfused_fraction"] - ctl.loc[START + 7, "perfused_fraction"]
    assert bev.loc[late, "vessels"] < ctl.loc[late, "vessels"]


def test_label_dose_prunes_more_tumor_vessels_than_moderate() -> None:
    assert arm("bev_label").loc[START + 28, "TEC"] < 0.85 * arm("bev_moderate").loc[START + 28, "TEC"]
