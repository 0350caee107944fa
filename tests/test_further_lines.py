"""Post-progression therapy (further lines given alike in every arm, tmesim.cohort.further_lines)
dilutes a first-line overall-survival difference without touching progression-free survival
(Miles et al., Ann Oncol 2013;24:2773: first-line bevacizumab, pooled PFS HR 0.64, OS HR 0.97).

The experiment: a virtual two-arm cohort whose arms differ only in the depth of the first-line
response (the burden course of the model's endpoint law: response, then regrowth at a doubling
time that varies between patients), read through :func:`tmesim.cohort.endpoints.endpoints` of
the TNBC model without and with the further lines of the shipped RIBBON-1 trial file."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import tmesim
from tmesim.cohort import EndpointConfig
from tmesim.cohort.endpoints import endpoints
from tmesim.cohort.further_lines import FurtherLine, delay_after, held_days
from tmesim.cohort.survival import arm_hazard_ratios
from tmesim.cohort.trial import load_trial
from tmesim.model import ModelError
from tmesim.presets import preset_path

RIBBON1 = preset_path("catalog").parent / "trials" / "ribbon1.yaml"
LINES = load_trial(RIBBON1).endpoint_config().further_lines


@pytest.fixture(scope="module")
def tnbc():
    return tmesim.load_model(tmesim.preset_path("tnbc"))


def _cohort(model, cfg: EndpointConfig, n: int, seed: int) -> pd.DataFrame:
    """``n`` patients per arm; arm 'deep' reaches a nadir 0.6 times arm 'shallow's (patient i has
    the same doubling time, baseline and further-line draws in both arms)."""
    rng = np.random.default_rng(seed)
    days = np.arange(0.0, cfg.follow_up_days + 1e-9, cfg.assessment_days)
    rows = []
    for i in range(n):
        g = np.log(2.0) / (99.0 * rng.lognormal(0.0, 0.35))  # TNBC doubling time, spread between patients
        b0 = 4e10 * rng.lognormal(0.0, 0.5)
        depth = 0.7 * rng.lognormal(0.0, 0.3)
        pseed = int(rng.integers(2**31))
        for arm, d in (("shallow", depth), ("deep", 0.6 * depth)):
            burden = b0 * (d + (1.0 - d) * np.exp(-days / 21.0)) * np.exp(g * days)
            curve = pd.DataFrame({"day": days, "section_fraction": burden / b0, "burden": burden})
            rows.append({"arm": arm, "patient_id": i} | endpoints(curve, model, None, None, cfg, seed=pseed))
    return pd.DataFrame(rows)


def test_further_lines_narrow_the_survival_gap_and_leave_pfs_alone(tnbc) -> None:
    base = EndpointConfig(follow_up_days=1820.0)
    lines = replace(base, further_lines=LINES)
    gaps = []
    for seed in range(5):
        a, b = _cohort(tnbc, base, 150, seed), _cohort(tnbc, lines, 150, seed)
        assert (a["pfs_days"].to_numpy() == b["pfs_days"].to_numpy()).all()  # the lines start after progression
        assert (b["os_days"] >= a["os_days"]).all()
        hr_a = arm_hazard_ratios(a, ["pfs", "os"], ["shallow", "deep"]).set_index("endpoint")["hr"]
        hr_b = arm_hazard_ratios(b, ["os"], ["shallow", "deep"]).set_index("endpoint")["hr"]
        assert hr_a["pfs"] < 0.8  # the deeper response delays progression
        gaps.append((np.log(hr_a["os"]), np.log(hr_b["os"])))
        # the survival they add is what the lines hold: E[sum of control times], within sampling error
        added = (b["os_days"] - a["os_days"])[a["os_event"]].mean()
        expect = np.mean([held_days(LINES, s) for s in range(4000)])
        assert abs(added - expect) < 0.25 * expect, (added, expect)
    gaps_arr = np.array(gaps)
    assert (gaps_arr[:, 0] < 0).all()  # without further lines the deep arm lives longer
    # with them the OS hazard ratio moves toward 1 in every replicate (paired over 5 seeds)
    assert (np.abs(gaps_arr[:, 1]) < np.abs(gaps_arr[:, 0])).all(), gaps_arr
    assert np.abs(gaps_arr[:, 1]).mean() < 0.75 * np.abs(gaps_arr[:, 0]).mean(), gaps_arr


def test_held_days_follow_the_lines() -> None:
    one = (FurtherLine(1.0, 100.0),)
    draws = np.array([held_days(one, s) for s in range(3000)])
    assert abs(np.median(draws) - 100.0) < 10.0  # the median control time
    assert held_days((FurtherLine(0.0, 100.0), FurtherLine(1.0, 100.0)), 3) == 0.0  # a line not given ends them
    half = np.array([held_days((FurtherLine(0.5, 100.0),), s) > 0 for s in range(3000)])
    assert abs(half.mean() - 0.5) < 0.05
    assert held_days(LINES, 7) == held_days(LINES, 7)  # the patient's seed decides, not the arm


def test_delay_after_holds_then_resumes() -> None:
    days = np.arange(0.0, 71.0, 7.0)
    b = np.exp(days / 10.0)
    out = delay_after(days, b, 14.0, 21.0)
    assert (out[days <= 14] == b[days <= 14]).all()
    assert np.allclose(out[(days > 14) & (days < 35)], b[2])
    assert np.allclose(out[days >= 35], np.exp((days[days >= 35] - 21.0) / 10.0))


def test_post_progression_is_checked(tmp_path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text(RIBBON1.read_text().replace("share: 0.8", "share: 1.5"))
    with pytest.raises(ModelError, match=r"post_progression\.0\.share"):
        load_trial(bad)
    meta = tmp_path / "m.yaml"
    meta.write_text(RIBBON1.read_text() + "setting: metastatic\n")
    with pytest.raises(ModelError, match="post_progression: allowed only with setting: primary"):
        load_trial(meta)


# --- withdrawal rebound (tmesim.cohort.endpoints.rebound), on virtual patients of the RIBBON-1 file


@pytest.fixture(scope="module")
def ribbon_sections(tnbc):
    """Sections of 5 RIBBON-1 virtual patients in both arms (mean-field, shipped contact table), at
    the catalog's mean chemosensitivity (``chemo_sensitivity`` 1: the rebound is the subject here;
    with their drawn factors the two least sensitive of them respond less to paclitaxel with
    bevacizumab than without, so bevacizumab shortens their survival even without the rebound)."""
    from tmesim.cohort.patient import treated_patient
    from tmesim.cohort.section import run_section
    from tmesim.cohort.virtual import sample_patients

    spec = load_trial(RIBBON1)
    cfg = replace(spec.endpoint_config(), immune_control=False, follow_up_days=1460.0, further_lines=(),
                  revascularisation_days=0.0)
    contacts = pd.read_csv(preset_path("catalog").parent.parent / "cohort" / "data" / "contacts" / "tnbc.csv.gz")
    out = []
    for row in sample_patients(tnbc, 5, spec.seed).to_dict("records"):
        row["chemo_sensitivity"] = 1.0
        arms = {}
        for arm in spec.arms:
            pm, tm = treated_patient(tnbc, row, list(arm.therapies), cfg.run_in_days)
            arms[arm.name] = (pm, run_section(tm, cfg.run_in_days + cfg.treatment_days, "meanfield",
                                              seed=int(row["seed"]), contacts=contacts))
        out.append(arms)
    return cfg, out


def test_withdrawal_rebound_regains_the_withheld_expansion(ribbon_sections) -> None:
    from scipy.stats import wilcoxon

    from tmesim.cohort.endpoints import burden_curve, endpoints, progression_day

    cfg, patients = ribbon_sections
    on = replace(cfg, revascularisation_days=7.0)
    after_stop, continued, gaps = [], [], []
    for arms in patients:
        pm, sec = arms["bevacizumab+paclitaxel"]
        plain, reb = burden_curve(sec, pm, cfg), burden_curve(sec, pm, on)
        days = plain["day"].to_numpy()
        stop = progression_day(days, plain["burden"].to_numpy(), cfg.measurable_cells)
        assert np.isfinite(stop)
        # PFS is read before the rebound: the same progression day
        assert progression_day(days, reb["burden"].to_numpy(), cfg.measurable_cells) == stop
        # growth over the 4 weeks after stopping bevacizumab (log-fold) exceeds that under continued
        # therapy (the window's vessel drive kept: the burden's own growth before the stop)
        k, k4 = int(np.searchsorted(days, stop)), int(np.searchsorted(days, stop + 28.0))
        after_stop.append(np.log(reb["burden"].iloc[k4] / reb["burden"].iloc[k]))
        continued.append(np.log(plain["burden"].iloc[k] / plain["burden"].iloc[k - 4]))
        # the OS gap between the arms narrows with the rebound
        os_gap = []
        for c in (cfg, on):
            d = {name: endpoints(burden_curve(s, p, c), p, None, None, c)["os_days"] for name, (p, s) in arms.items()}
            os_gap.append(d["bevacizumab+paclitaxel"] - d["paclitaxel"])
        gaps.append(os_gap)
    after_stop_arr, continued_arr, gaps_arr = np.array(after_stop), np.array(continued), np.array(gaps)
    assert (after_stop_arr > continued_arr).all(), (after_stop_arr, continued_arr)
    assert wilcoxon(after_stop_arr, continued_arr, alternative="greater").pvalue < 0.05
    assert (gaps_arr[:, 0] > 0).all()  # without the rebound bevacizumab's lag carries into survival
    assert (gaps_arr[:, 1] < gaps_arr[:, 0]).all(), gaps_arr
