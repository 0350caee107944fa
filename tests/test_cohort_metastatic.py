"""Metastatic-setting trials (tmesim.cohort.metastatic): lesions, RECIST on their sum, new lesions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import tmesim
from tmesim.cohort import sample_patients
from tmesim.cohort.endpoints import EndpointConfig
from tmesim.cohort.metastatic import (
    PRIMARY,
    TOO_SMALL_MM,
    diameter_mm,
    lesion_curves,
    metastatic_endpoints,
    recist,
    run_metastatic_patient,
    scan_rows,
    screen_patient,
)

pytestmark = pytest.mark.filterwarnings("ignore")
# Short treatment window and follow-up; a fixed reference kill rate skips the 32-patient reference sample.
FAST = EndpointConfig(run_in_days=28, treatment_days=14, follow_up_days=180, reference_kill_rate=0.004,
                      after_window="extrapolate")
CFG = EndpointConfig()


@pytest.fixture(scope="module")
def tnbc():
    return tmesim.load_model(tmesim.preset_path("tnbc"))


def _lesions(cols: dict[str, list[float]], step: float = 7.0) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame(cols, index=pd.Index(np.arange(n) * step, name="day"))


def test_shipped_metastatic_trials_load():
    from pathlib import Path

    from tmesim.cohort import load_trial

    folder = Path(tmesim.__file__).parent / "presets" / "trials"
    specs = {p.stem: load_trial(p) for p in folder.glob("*.yaml")}
    assert specs["impassion130"].setting == "metastatic"
    assert specs["impassion130-tme-arms"].setting == "metastatic" and len(specs["impassion130-tme-arms"].arms) == 3


def test_diameter_of_a_lesion():
    # 1e9 cells = 1 cm³, a sphere of 12.4 mm; 8 times the cells, twice the diameter
    assert diameter_mm(1e9) == pytest.approx(12.407, rel=1e-3)
    assert diameter_mm(8e9) / diameter_mm(1e9) == pytest.approx(2.0)


def test_recist_sums_target_lesions(tnbc):
    a, b = 2e9, 1e9
    r = recist(_lesions({"lung": [a, a], "liver": [b, b], "bone": [0.0, 0.0], "brain": [0.0, 0.0]}), tnbc, CFG)
    assert r["targets"] == ["lung", "liver"]
    assert r["sum_mm"][0] == pytest.approx(float(diameter_mm(a) + diameter_mm(b)))
    assert np.isnan(r["pd_day"]) and r["best_response"] == "SD"
    # One lesion grows by 30% in diameter (the other stays): the sum grows by more than 20% only
    # because the lesions are summed with their sizes; 1.3³ = 2.197 in cells.
    grow = _lesions({"lung": [a, a, a * 2.197**2], "liver": [b, b, b], "bone": [0.0] * 3, "brain": [0.0] * 3})
    r = recist(grow, tnbc, CFG)
    assert r["pd_day"] == 14.0
    # The same relative growth of a lesion too small for +5 mm is not progression (RECIST 1.1)
    small = 6e8
    r = recist(_lesions({"lung": [small, small * 1.6], "liver": [0.0, 0.0], "bone": [0.0] * 2, "brain": [0.0] * 2}),
               tnbc, CFG)
    assert diameter_mm(small * 1.6) / diameter_mm(small) > 1.15 and np.isnan(r["pd_day"])


def test_new_lesion_is_progression(tnbc):
    det = tnbc.body.organs["bone"].detection_cells.value
    les = _lesions({"lung": [2e9] * 4, "liver": [0.0] * 4, "bone": [0.0, det * 0.5, det * 1.01, det * 2],
                    "brain": [0.0] * 4})
    out = metastatic_endpoints(les, tnbc, CFG)
    assert out["pfs_event"] and out["pfs_days"] == 14.0 and out["progression_by"] == "new lesion"
    assert out["met_bone_event"] and out["met_bone_days"] == 14.0
    assert not out["met_lung_event"]  # a baseline lesion is not a new one
    assert out["lesions_baseline"] == 1 and out["target_lesions"] == 1
    assert not metastatic_endpoints(les, tnbc, replace(CFG, new_lesion_progression=False))["pfs_event"]


def test_every_lesion_gets_the_same_exposure(tnbc):
    # Two metastatic organs and the primary in place: the treated course is each lesion's
    # untreated course times the one surviving fraction s(t).
    weeks = np.arange(0.0, 400.0, 7.0)
    burden = pd.DataFrame([{"days_from_diagnosis": d, "organ": o, "cells": c}
                           for d in weeks for o, c in (("lung", 3e9 * np.exp(0.01 * d)), ("liver", 2e8 + d * 1e6),
                                                       ("bone", 1e5 * np.exp(0.02 * d)), ("brain", 0.0))])
    primary = pd.DataFrame({"days_from_diagnosis": weeks, "cells": np.where(weeks < 30, 4e9, 0.0)})
    res = SimpleNamespace(burden=burden, primary=primary)
    days = np.arange(0.0, 120.0, 7.0)
    s = np.linspace(1.0, 0.2, len(days))
    untreated = lesion_curves(res, tnbc, 21.0, np.ones_like(s), days, 0.005)
    treated = lesion_curves(res, tnbc, 21.0, s, days, 0.005)
    assert set(treated.columns) == {"lung", "liver", "bone", "brain", PRIMARY}
    for col in ("lung", "liver", "bone", PRIMARY):
        np.testing.assert_allclose(treated[col].to_numpy(), untreated[col].to_numpy() * s)
    # a lesion detected at entry grows at the patient's rate g; undetected cells follow the body
    np.testing.assert_allclose(untreated["lung"], untreated["lung"].iloc[0] * np.exp(0.005 * days))
    np.testing.assert_allclose(untreated["bone"], 1e5 * np.exp(0.02 * (21.0 + days)), rtol=0.05)


def test_metastatic_patient_end_to_end(tnbc):
    # The first eligible candidate of seed 130 enters on its screening day with every lesion
    # measured; a candidate without metastasis in its life history is refused.
    rows = sample_patients(tnbc, 24, seed=130).to_dict("records")
    entries = [screen_patient(tnbc, r, FAST) for r in rows]
    eligible = [k for k, e in enumerate(entries) if np.isfinite(e)]
    refused = [k for k, e in enumerate(entries) if not np.isfinite(e)]
    assert eligible and refused
    k = eligible[0]
    out = run_metastatic_patient(tnbc, rows[k], "chemo", ["nab-paclitaxel@day=0"], FAST).iloc[0]
    assert out["entry_days_from_diagnosis"] == entries[k]
    sites = out["target_sites"].split(";")
    assert out["lesions_baseline"] >= 1 and len(sites) >= 1
    assert (PRIMARY in sites) == bool(out["de_novo"])
    # each target lesion measurable (10 mm at the screening week; the entry day's value within 5%)
    assert out["sum_diameters_baseline_mm"] >= 0.95 * 10.0 * len(sites)
    for col in ("pfs_days", "os_days", "met_bone_days", "met_lung_event", "pdl1_positive", "ctc_count"):
        assert col in out.index
    with pytest.raises(tmesim.ModelError, match="not eligible"):
        run_metastatic_patient(tnbc, rows[refused[0]], "chemo", [], replace(FAST))
    # the life history is the screening's in every arm: same entry, same lesions at entry
    ctl = run_metastatic_patient(tnbc, rows[k], "control", [], FAST).iloc[0]
    for col in ("entry_days_from_diagnosis", "de_novo", "lesion_sites", "target_sites", "sum_diameters_baseline_mm"):
        assert ctl[col] == out[col], col


@pytest.mark.slow
def test_chemotherapy_shrinks_every_patients_lesions_and_delays_progression(tnbc, tmp_path):
    # 10 eligible virtual patients (seed 130), each untreated and with nab-paclitaxel until
    # progression, mean-field with the measured contact enrichment: the nadir of the sum of
    # target diameters (relative to entry) is lower and PFS longer with chemotherapy, paired
    # over patients (Wilcoxon signed-rank, one-sided).
    from scipy.stats import wilcoxon

    from tmesim.cohort.contacts import resolve_contacts
    from tmesim.cohort.patient import with_reference

    contacts = resolve_contacts("measured", tnbc, tmp_path, 35.0, 0)
    cfg = with_reference(tnbc, EndpointConfig(after_window="extrapolate", follow_up_days=730), "meanfield", contacts)
    rows = [r for r in sample_patients(tnbc, 80, seed=130).to_dict("records")
            if np.isfinite(screen_patient(tnbc, r, cfg, contacts=contacts))][:10]
    assert len(rows) == 10
    arms = {name: pd.concat([run_metastatic_patient(tnbc, r, name, th, cfg, contacts=contacts) for r in rows])
            for name, th in (("none", []), ("chemo", ["nab-paclitaxel@day=0"]))}
    shrink = {k: (v["sum_diameters_nadir_mm"] / v["sum_diameters_baseline_mm"]).to_numpy() for k, v in arms.items()}
    assert wilcoxon(shrink["chemo"], shrink["none"], alternative="less").pvalue < 0.05
    assert (arms["chemo"]["pfs_days"].to_numpy() >= arms["none"]["pfs_days"].to_numpy()).all()
    assert wilcoxon(arms["chemo"]["pfs_days"], arms["none"]["pfs_days"], alternative="greater",
                    zero_method="zsplit").pvalue < 0.05


def test_scans_follow_the_trial_schedule(tnbc):
    # IMpassion130: scans every 8 weeks in the first year, every 12 weeks after it
    days = np.arange(0.0, 730.0, 7.0)
    cfg = replace(CFG, scan_days=56.0, late_scan_days=84.0)
    scans = days[scan_rows(days, cfg)]
    assert scans[:8].tolist() == [0.0, 56.0, 112.0, 168.0, 224.0, 280.0, 336.0, 420.0]
    assert np.diff(scans[7:]).tolist() == [84.0] * (len(scans) - 8)
    assert scan_rows(days, CFG).all()  # scan_days 0: every assessment
    # growth seen on the week-63 assessment is read at the week-112 scan
    grow = _lesions({"lung": [4e9] * 9 + [4e9 * 2.197] * 11, "liver": [0.0] * 20, "bone": [0.0] * 20,
                     "brain": [0.0] * 20})
    assert metastatic_endpoints(grow, tnbc, CFG)["pfs_days"] == 63.0
    assert metastatic_endpoints(grow, tnbc, cfg)["pfs_days"] == 112.0


def test_recist_classifies_responses_on_the_sum_of_lesions(tnbc):
    # Two target lesions (20 and 15.6 mm): the sum shrinks by 33% (PR), by 10% (SD); both below
    # detection (CR); a new lesion makes progression whatever the targets do.
    a, b = 4e9, 2e9
    det = tnbc.body.organs["lung"].detection_cells.value

    def best(f):
        return recist(_lesions({"lung": [a, a * f], "liver": [b, b * f], "bone": [0.0] * 2, "brain": [0.0] * 2}),
                      tnbc, CFG)
    assert best(0.3)["best_response"] == "PR" and best(0.3)["sum_mm"][1] / best(0.3)["sum_mm"][0] < 0.7
    assert best(0.75)["best_response"] == "SD"
    assert best(0.5 * det / a)["best_response"] == "CR"
    # one lesion gone (5 mm by RECIST's default), the other unchanged: the sum falls below 70%
    r = recist(_lesions({"lung": [a, 0.5 * det], "liver": [b, b], "bone": [0.0] * 2, "brain": [0.0] * 2}), tnbc, CFG)
    assert r["sum_mm"][1] == pytest.approx(TOO_SMALL_MM + float(diameter_mm(b)))
    assert r["best_response"] == "PR"


def test_metastatic_lesions_shrink_under_chemotherapy(tnbc):
    # Six virtual TNBC patients (seed 130), mean-field with the shipped contact table, 28 days of
    # nab-paclitaxel vs none: a lung metastasis detected at entry and the sum of target diameters
    # shrink below their untreated course in every patient (Wilcoxon signed-rank, one-sided, on
    # the nadir of the sum relative to entry), and a new lesion seeded from undetected bone cells
    # is held back by the same exposure.
    from scipy.stats import wilcoxon

    from tmesim.cohort.contacts import resolve_contacts
    from tmesim.cohort.endpoints import burden_curve
    from tmesim.cohort.patient import treated_patient
    from tmesim.cohort.section import run_section
    from tmesim.meanfield import ContactCourse

    cfg = replace(FAST, follow_up_days=56.0, treatment_days=28.0)
    contacts = ContactCourse.from_table(tnbc.cell_type_names, resolve_contacts("measured", tnbc, None, 35.0, 0))
    weeks = np.arange(0.0, 400.0, 7.0)
    res = SimpleNamespace(
        burden=pd.DataFrame([{"days_from_diagnosis": d, "organ": o, "cells": c} for d in weeks
                             for o, c in (("lung", 2e9), ("liver", 0.0), ("bone", 1e6 * np.exp(0.05 * d)),
                                          ("brain", 0.0))]),
        primary=pd.DataFrame({"days_from_diagnosis": weeks, "cells": 0.0}))
    nadir: dict[str, list[float]] = {"none": [], "chemo": []}
    bone: dict[str, list[float]] = {"none": [], "chemo": []}
    for row in sample_patients(tnbc, 6, seed=130).to_dict("records"):
        for arm, th in (("none", []), ("chemo", ["nab-paclitaxel@day=0"])):
            pm, tm = treated_patient(tnbc, row, th, cfg.run_in_days)
            sec = run_section(tm, cfg.run_in_days + cfg.treatment_days, "meanfield", seed=int(row["seed"]),
                              contacts=contacts)
            curve = burden_curve(sec, pm, cfg)
            b = curve["burden"].to_numpy(float)
            les = lesion_curves(res, pm, 0.0, curve["section_fraction"].to_numpy(float), curve["day"].to_numpy(float),
                                0.0, course=b / b[0])
            r = recist(les, pm, cfg)
            assert r["targets"] == ["lung"]
            nadir[arm].append(float(r["sum_mm"].min() / r["sum_mm"][0]))
            bone[arm].append(float(les["bone"].iloc[-1]))
    assert all(c < n for c, n in zip(nadir["chemo"], nadir["none"], strict=True))
    assert wilcoxon(nadir["chemo"], nadir["none"], alternative="less").pvalue < 0.05
    assert np.median(nadir["chemo"]) < 0.95  # at least 14% fewer cells in the typical patient
    assert all(c < n for c, n in zip(bone["chemo"], bone["none"], strict=True))


@pytest.mark.slow
def test_chemo_sensitivity_makes_responses_bimodal(tnbc):
    # The first 12 eligible candidates of seed 130 in IMpassion130's nab-paclitaxel arm (the trial's
    # timing and scans, shipped contact table, a fixed reference kill rate): with their drawn
    # chemo_sensitivity some respond by RECIST (PR or CR) and some do not, and the lesions' nadir
    # falls with the drawn factor (Spearman, one-sided p < 0.01); with the factor 1 for everyone
    # (no between-patient spread, as before it existed) at most one of the 12 responds.
    from scipy.stats import spearmanr

    from tmesim.cohort import load_trial
    from tmesim.cohort.contacts import resolve_contacts

    spec = load_trial(Path(tmesim.__file__).parent / "presets" / "trials" / "impassion130.yaml")
    cfg = replace(spec.endpoint_config(), reference_kill_rate=0.002)
    contacts = resolve_contacts("measured", tnbc, None, 35.0, 0)
    rows = [r for r in sample_patients(tnbc, 60, seed=130).to_dict("records")
            if np.isfinite(screen_patient(tnbc, r, cfg, contacts=contacts))][:12]
    assert len(rows) == 12
    th = ["nab-paclitaxel@day=0"]
    drawn = pd.concat([run_metastatic_patient(tnbc, r, "chemo", th, cfg, contacts=contacts) for r in rows])
    flat = pd.concat([run_metastatic_patient(tnbc, r | {"chemo_sensitivity": 1.0}, "chemo", th, cfg, contacts=contacts)
                      for r in rows])
    responded = drawn["best_response"].isin(["PR", "CR"])
    assert 2 <= responded.sum() <= 10, drawn["best_response"].tolist()
    nadir = drawn["sum_diameters_nadir_mm"] / drawn["sum_diameters_baseline_mm"]
    rho, p = spearmanr(drawn["chemo_sensitivity"], nadir, alternative="less")
    assert p < 0.01, (rho, p)
    assert flat["best_response"].isin(["PR", "CR"]).sum() <= 1, flat["best_response"].tolist()


def _without(model, organ: str | None = None, presentation: bool = False):
    """The model with one organ's lethal_cells (or the body's presentation_cells) unset."""
    body = model.body
    if organ is not None:
        organs = dict(body.organs) | {organ: body.organs[organ].model_copy(update={"lethal_cells": None})}
        body = body.model_copy(update={"organs": organs})
    if presentation:
        body = body.model_copy(update={"presentation_cells": None})
    return model.model_copy(update={"body": body})


def test_a_brain_metastasis_kills_at_a_smaller_burden_than_one_in_bone(tnbc):
    # The same growing metastasis (1e10 cells, 0.01/day) beside a stable lung target: in the
    # brain it kills when it reaches the brain's lethal_cells (raised intracranial pressure),
    # in bone only when the whole disease reaches the lethal burden (1e12 cells).
    days = np.arange(0.0, 731.0, 7.0)
    grow = 1e10 * np.exp(0.01 * days)

    def patient(site: str) -> pd.DataFrame:
        cols = {o: np.zeros(len(days)) for o in ("lung", "liver", "bone", "brain")}
        cols["lung"] = np.full(len(days), 2e9)
        cols[site] = grow
        return pd.DataFrame(cols, index=pd.Index(days, name="day"))

    brain, bone = (metastatic_endpoints(patient(s), tnbc, CFG) for s in ("brain", "bone"))
    limit = tnbc.body.organs["brain"].lethal_cells.value
    assert limit < 0.1 * tnbc.body.primary.carrying_capacity.value
    assert brain["os_event"] and brain["death_cause"] == "brain"
    assert brain["os_days"] == days[np.argmax(grow >= limit)]
    assert bone["os_event"] and bone["death_cause"] == "burden"
    assert brain["os_days"] < bone["os_days"] - 300
    assert brain["pfs_days"] <= brain["os_days"]
    # without the brain's organ failure the two patients die on the same day
    flat = metastatic_endpoints(patient("brain"), _without(tnbc, "brain"), CFG)
    assert flat["os_days"] == bone["os_days"] and flat["death_cause"] == "burden"


def test_body_model_dies_of_organ_failure_with_the_same_definition(tnbc):
    from tmesim.body.lethality import lethal, organ_limits

    names = ["bone", "lung", "liver", "brain", "primary"]
    lim = organ_limits(tnbc.body, names)
    assert np.isfinite(lim[3]) and np.isinf(lim[[0, 4]]).all()
    cells = np.array([[0, 0, 0, 0.5 * lim[3], 0], [0, 0, 0, lim[3], 0], [5e11, 0, 0, 0, 5e11]])
    assert lethal(tnbc.body, cells, names).tolist() == [False, True, True]


def test_patients_enter_when_their_metastatic_disease_presents(tnbc):
    # A lung metastasis growing at 0.05/day from 1e8 cells at diagnosis: without a presentation
    # burden the patient enters once it is measurable (10 mm); with it, once the whole disease
    # (here the lung lesion) reaches body.presentation_cells.
    from tmesim.cohort.metastatic import entry_day

    weeks = np.arange(0.0, 3650.0, 7.0)
    lung = 1e8 * np.exp(0.05 * weeks)
    res = SimpleNamespace(
        burden=pd.DataFrame({"days_from_diagnosis": np.repeat(weeks, 4),
                             "organ": np.tile(np.array(["bone", "lung", "liver", "brain"], dtype=object), len(weeks)),
                             "cells": np.stack([0 * weeks, lung, 0 * weeks, 0 * weeks], axis=1).ravel()}),
        primary=pd.DataFrame({"days_from_diagnosis": weeks, "cells": 0.0 * weeks}),
        death_days_from_diagnosis=float("nan"))
    present = tnbc.body.presentation_cells.value
    assert entry_day(res, _without(tnbc, presentation=True), CFG) == weeks[np.argmax(lung >= CFG.measurable_cells)]
    assert entry_day(res, tnbc, CFG) == weeks[np.argmax(lung >= present)]
    assert diameter_mm(present) > 30.0  # a symptomatic disease, not a lesion at the imaging size


@pytest.mark.slow
def test_patients_entering_at_presentation_die_sooner(tnbc):
    # Baseline tumor size predicts overall survival in first-line metastatic breast cancer (Tate
    # et al., Eur J Cancer 2016;66:95). The first 16 candidates (seed 130) eligible both ways,
    # untreated, followed two years: entering when the whole disease reaches
    # body.presentation_cells, those who enter later have a larger sum of target diameters, and
    # survival from entry is shorter than entering at the first 10 mm lesion (paired Wilcoxon
    # signed-rank, one-sided; not in every patient: a lesion detected at entry grows at the
    # patient's doubling time, an undetected one at its organ niche's colonisation rate, so a
    # patient whose fast-growing organ is undetected at the earlier entry can die sooner from it).
    from scipy.stats import wilcoxon

    cfg = replace(FAST, follow_up_days=730.0)
    first = _without(tnbc, presentation=True)
    rows = [r for r in sample_patients(tnbc, 90, seed=130).to_dict("records")
            if np.isfinite(screen_patient(tnbc, r, cfg)) and np.isfinite(screen_patient(first, r, cfg))][:16]
    assert len(rows) == 16
    runs = {k: pd.concat([run_metastatic_patient(m, r, "none", [], cfg) for r in rows])
            for k, m in (("presentation", tnbc), ("first", first))}
    p, f = runs["presentation"], runs["first"]
    later = p["entry_days_from_diagnosis"].to_numpy() > f["entry_days_from_diagnosis"].to_numpy()
    assert later.sum() >= 12  # the others (de novo, with the primary) already present at first detection
    assert (p["sum_diameters_baseline_mm"].to_numpy()[later] > f["sum_diameters_baseline_mm"].to_numpy()[later]).all()
    assert p["os_event"].sum() > f["os_event"].sum()
    assert wilcoxon(p["os_days"], f["os_days"], alternative="less", zero_method="zsplit").pvalue < 0.05


def test_immune_pace_slows_undetected_cells_while_therapy_continues(tnbc):
    # The undetected cells' untreated course runs at the immune pace: at pace 0.5 the bone
    # colony reaches on day 2t what it reached on day t untreated; detected lesions follow the
    # treated burden course as before.
    weeks = np.arange(0.0, 400.0, 7.0)
    burden = pd.DataFrame([{"days_from_diagnosis": d, "organ": o, "cells": c}
                           for d in weeks for o, c in (("lung", 3e9), ("liver", 0.0),
                                                       ("bone", 1e5 * np.exp(0.02 * d)), ("brain", 0.0))])
    res = SimpleNamespace(burden=burden, primary=pd.DataFrame({"days_from_diagnosis": weeks, "cells": 0.0}))
    days = np.arange(0.0, 120.0, 7.0)
    s = np.ones(len(days))
    full = lesion_curves(res, tnbc, 21.0, s, days, 0.005)
    half = lesion_curves(res, tnbc, 21.0, s, days, 0.005, pace=np.full(len(days), 0.5))
    np.testing.assert_allclose(half["bone"].to_numpy()[::2][:8], full["bone"].to_numpy()[:8], rtol=0.02)
    np.testing.assert_allclose(half["lung"], full["lung"])


def test_immune_pace_follows_the_treated_sections_kill_rate(tnbc):
    # Synthetic sections: a kill rate per cancer cell that doubles under therapy gives a pace of
    # 2^-w (w: the TNBC immune growth exponent) after the window while therapy continues, 1 when
    # it stops (hold) and 1 without the option.
    from tmesim.cohort.endpoints import immune_exponent, immune_pace
    from tmesim.cohort.section import KILLED, TUMOR

    t = np.arange(0.0, 28.0 + 56.0 + 1e-9, 0.25)
    sec = pd.DataFrame({"time_days": t, TUMOR: 1000.0, KILLED: np.where(t <= 28.0, 4.0, 8.0)})
    days = np.arange(0.0, 200.0, 7.0)
    on = replace(FAST, treatment_days=56.0, reference_kill_rate=0.004, immune_on_therapy=True)
    pace = immune_pace(sec, tnbc, on, days)
    w = immune_exponent(tnbc)
    assert pace[0] == 1.0
    np.testing.assert_allclose(pace[(days >= 14) & (days <= 56)], 2.0 ** -w, rtol=1e-9)
    np.testing.assert_allclose(pace[days > 56], 2.0 ** -w, rtol=1e-9)
    np.testing.assert_allclose(immune_pace(sec, tnbc, replace(on, after_window="hold"), days)[days > 56], 1.0)
    np.testing.assert_allclose(immune_pace(sec, tnbc, replace(on, immune_on_therapy=False), days), 1.0)


def test_atezolizumab_slows_the_immune_pace_of_pd_l1_positive_tumors(tnbc):
    # Five PD-L1-positive virtual TNBC patients (seed 130), mean-field with the shipped contact
    # table, 42 days of nab-paclitaxel with or without atezolizumab: the checkpoint inhibitor
    # raises the treated section's kill rate, so every lesion (and the undetected cells) expands
    # more slowly while therapy continues (paired, one-sided Wilcoxon signed-rank on the pace at
    # the window's end; Schmid et al. 2018: PFS HR 0.62 in PD-L1+ TNBC).
    from scipy.stats import wilcoxon

    from tmesim.cohort.contacts import resolve_contacts
    from tmesim.cohort.endpoints import burden_curve
    from tmesim.cohort.patient import treated_patient
    from tmesim.cohort.section import run_section
    from tmesim.meanfield import ContactCourse

    cfg = replace(FAST, follow_up_days=84.0, treatment_days=42.0, immune_on_therapy=True)
    contacts = ContactCourse.from_table(tnbc.cell_type_names, resolve_contacts("measured", tnbc, None, 35.0, 0))
    rows = [r for r in sample_patients(tnbc, 40, seed=130).to_dict("records") if r["pdl1_positive"]][:5]
    assert len(rows) == 5
    pace: dict[str, list[float]] = {"chemo": [], "atezo": []}
    for row in rows:
        for arm, th in (("chemo", ["nab-paclitaxel@day=0"]), ("atezo", ["atezolizumab+nab-paclitaxel@day=0"])):
            pm, tm = treated_patient(tnbc, row, th, cfg.run_in_days)
            sec = run_section(tm, cfg.run_in_days + cfg.treatment_days, "meanfield", seed=int(row["seed"]),
                              contacts=contacts)
            pace[arm].append(float(burden_curve(sec, pm, cfg)["immune_pace"].iloc[-1]))
    assert all(a < c for a, c in zip(pace["atezo"], pace["chemo"], strict=True)), pace
    assert wilcoxon(pace["atezo"], pace["chemo"], alternative="less").pvalue < 0.05
    assert np.median(pace["atezo"]) < 0.9  # a tenth slower expansion or more
