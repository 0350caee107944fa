"""Virtual patients, endpoints and the mean-field engine's drug exposures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tmesim
from tmesim.cohort.endpoints import RECIST_PD, EndpointConfig, burden_curve, progression_day
from tmesim.cohort.virtual import patient_model, read_variability, sample_patients
from tmesim.meanfield import MeanField
from tmesim.model.pk import exposure
from tmesim.therapy import apply_therapies


@pytest.fixture(scope="module")
def tnbc():
    return tmesim.load_model(tmesim.preset_path("tnbc"))


def test_cohort_reproducible_from_model_n_seed(tnbc):
    a = sample_patients(tnbc, 20, seed=3)
    b = sample_patients(tnbc, 20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    # patient i does not depend on n; another seed gives other patients
    pd.testing.assert_frame_equal(sample_patients(tnbc, 5, seed=3), a.iloc[:5])
    assert not sample_patients(tnbc, 20, seed=4)["til_cd8"].equals(a["til_cd8"])
    assert a["patient_id"].tolist() == list(range(20))
    assert a["pdl1_positive"].dtype == bool


def test_pdl1_positive_share_and_sources(tnbc):
    df = sample_patients(tnbc, 2000, seed=0)
    assert 0.37 < df["pdl1_positive"].mean() < 0.45  # IMpassion130: 41%
    assert all(v.source for v in read_variability())
    assert np.isclose(np.log(df["til_cd8"]).std(), 0.6, rtol=0.1)


def test_patient_model_applies_factors(tnbc):
    row = sample_patients(tnbc, 1, seed=0).iloc[0].to_dict()
    row |= {"doubling_time": 2.0, "til_cd8": 3.0}
    pm = patient_model(tnbc, row)
    assert np.isclose(pm.body.primary.doubling_time.value, 2.0 * tnbc.body.primary.doubling_time.value)
    rec = {ct.name: ct for ct in tnbc.cell_types}["CD8_T_cell"].behaviours["recruitment"]
    got = {ct.name: ct for ct in pm.cell_types}["CD8_T_cell"].behaviours["recruitment"]
    assert np.isclose(got.value, 3.0 * rec.value)


def test_variability_exponent_and_burden_expands_mdscs(tnbc, tmp_path):
    """One draw moves several targets unequally: the burden factor raises the MDSC influx by
    its 0.3 power (review:160), and the blood marker reads that influx."""
    from tmesim.cohort.markers import blood_mdsc
    from tmesim.model import ModelError

    row = sample_patients(tnbc, 1, seed=0).iloc[0].to_dict() | {"baseline_burden": 10.0, "mdsc_level": 1.0}
    pm = patient_model(tnbc, row)
    assert np.isclose(pm.body.primary.diagnosis_cells.value, 10.0 * tnbc.body.primary.diagnosis_cells.value)
    assert np.isclose(blood_mdsc(pm, tnbc), 10.0**0.3)
    assert np.isclose(blood_mdsc(patient_model(tnbc, row | {"mdsc_level": 2.0}), tnbc), 2.0 * 10.0**0.3)
    bad = tmp_path / "v.csv"
    bad.write_text("subtype,name,target,distribution,sigma,p,factor_true,factor_false,exponent,source\n"
                   "*,x,initial:Treg,lognormal,1.0,,,,half,assumption: test\n")
    with pytest.raises(ModelError, match="exponent.*allowed: a finite number"):
        read_variability(str(bad))
    bad.write_text(bad.read_text().replace(",half,", ",inf,"))
    with pytest.raises(ModelError, match="exponent"):
        read_variability(str(bad))


def test_meanfield_reads_model_drugs(tnbc):
    treated = apply_therapies(tnbc, ["atezolizumab@day=1"])
    auto = MeanField(treated).run(days=4, t_eval=[0, 2, 4])
    drug = treated.drugs[0]
    explicit = MeanField(treated, signals={"drug atezolizumab": lambda t: float(exposure(drug, t * 1440.0))}).run(
        days=4, t_eval=[0, 2, 4])
    off = MeanField(treated, signals={"drug atezolizumab": 0.0}).run(days=4, t_eval=[0, 2, 4])
    pd.testing.assert_frame_equal(auto, explicit)
    assert auto["mean_pdl1_cancer"].iloc[-1] < 0.5 * off["mean_pdl1_cancer"].iloc[-1]


def test_recist_progression():
    days = np.arange(0, 70, 7.0)
    b = np.array([1.0, 0.5, 0.3, 0.3, 0.4, 0.31 * RECIST_PD, 1.0, 1.0, 1.0, 1.0]) * 1e10
    assert progression_day(days, b, floor=5e8) == 35.0
    # a complete response progresses only once measurable again
    b2 = np.array([1e10, 1e7, 1e7, 4e8, 8e8, 9e8, 1e9, 2e9, 4e9, 8e9])
    assert progression_day(days, b2, floor=5e8) == 35.0  # 9e8 >= 1.728 x 5e8
    assert np.isnan(progression_day(days, np.full(10, 1e10), floor=5e8))


def test_burden_curve_growth_and_kill(tnbc):
    cfg = EndpointConfig(run_in_days=2, treatment_days=4, follow_up_days=28, assessment_days=7)
    counts = [100, 100, 100, 80, 60, 50, 50]
    sec = pd.DataFrame({"time_days": np.arange(7.0), "cancer": counts, "tumor_cells": counts})
    c = burden_curve(sec, tnbc, cfg)
    g = np.log(2) / (tnbc.body.primary.doubling_time.value / 1440)
    b0 = 10 * tnbc.body.primary.diagnosis_cells.value
    assert np.isclose(c["burden"].iloc[0], b0)
    assert np.isclose(c["burden"].iloc[-1], b0 * 0.5 * np.exp(g * 28))


def test_derived_patient_models_equal_validated_ones(tnbc):
    """A cohort patient's model is derived from the validated model (and its arm's validated
    treated template), not validated again; it equals the model validated whole."""
    from tmesim.cohort.patient import treated_model, treated_patient
    from tmesim.cohort.virtual import drug_variation

    therapies = ["atezolizumab+nab-paclitaxel@day=0"]
    for row in sample_patients(tnbc, 3, seed=11).to_dict("records"):
        slow = patient_model(tnbc, row, validate=True)
        pm, tm = treated_patient(tnbc, row, therapies, 28.0)
        assert pm == slow and pm.model_dump(mode="json") == slow.model_dump(mode="json")
        slow_tm = drug_variation(treated_model(slow, therapies, 28.0), row, validate=True)
        assert tm == slow_tm and tm.model_dump(mode="json") == slow_tm.model_dump(mode="json")
        shared = sum(a is b for a, b in zip(pm.rules, tnbc.rules, strict=True))  # unchanged rules are shared
        assert pm.body.primary is not tnbc.body.primary and 0 < shared < len(tnbc.rules)
    # a derived value the schema refuses is one error naming the field, as validation gives
    from tmesim.model import ModelError

    row = sample_patients(tnbc, 1, seed=0).iloc[0].to_dict() | {"baseline_burden": 1e12}
    with pytest.raises(ModelError, match="diagnosis_cells < carrying_capacity"):
        patient_model(tnbc, row)
    with pytest.raises(ModelError, match="diagnosis_cells < carrying_capacity"):
        patient_model(tnbc, row, validate=True)


def test_vectorised_exposures_equal_exposure_bit_for_bit():
    """The mean-field solver's one-call exposures of all drugs equal exposure() per drug."""
    from tmesim.model.drugs import Drug
    from tmesim.model.pk import Exposures
    from tmesim.model.therapies import therapy_catalog

    cat = therapy_catalog()
    drugs = [Drug.model_validate({**raw, "name": name, "start": 3 * 1440.0}) for name, raw in cat.drugs.items()]
    assert len(drugs) >= 5 and any(len(d.offsets) > 1 for d in drugs) and any(d.cycles for d in drugs)
    vec = Exposures(drugs)
    times = np.concatenate([np.random.default_rng(0).uniform(-100.0, 400 * 1440.0, 500), np.arange(0, 60 * 1440, 720.0)])
    for t in times:
        assert np.array_equal(vec(float(t)), np.array([float(exposure(d, float(t))) for d in drugs]))


def test_chemo_sensitivity_varies_the_taxane_kill_between_patients(tnbc):
    """Each virtual patient draws how strongly a cytotoxic drug kills its tumor cells
    (``chemo_sensitivity``, a ``drug:cancer:apoptosis`` row of the variability table): the drug's
    tumor-kill rule of the treated model is scaled by it, nothing else is, and a more sensitive
    tumor shrinks more under the same nab-paclitaxel (mean-field, 14 days of therapy, paired over
    5 patients: a sign test at p = 1/32)."""
    from tmesim.cohort.patient import treated_patient
    from tmesim.cohort.section import TUMOR, run_section

    df = sample_patients(tnbc, 2000, seed=0)
    assert np.isclose(np.log(df["chemo_sensitivity"]).std(), 0.5, rtol=0.1)
    therapies = ["nab-paclitaxel@day=0"]

    def drug_rules(m):
        return {(r.cell_type, r.behaviour): r.saturation for r in m.rules if r.signal == "drug nab-paclitaxel"}

    rows = df.iloc[:5].to_dict("records")
    one = treated_patient(tnbc, rows[0] | {"chemo_sensitivity": 1.0}, therapies, 28.0)
    two = treated_patient(tnbc, rows[0] | {"chemo_sensitivity": 2.0}, therapies, 28.0)
    assert one[0] == two[0]  # the untreated patient has no drug rule to vary
    a, b = drug_rules(one[1]), drug_rules(two[1])
    assert np.isclose(b[("cancer", "apoptosis")], 2.0 * a[("cancer", "apoptosis")])
    assert all(b[k] == a[k] for k in a if k != ("cancer", "apoptosis"))  # MDSC, vessels, resistance: unchanged
    left = {}
    for f in (0.6, 1.6):
        for row in rows:
            _, tm = treated_patient(tnbc, row | {"chemo_sensitivity": f}, therapies, 7.0)
            sec = run_section(tm, 21.0, "meanfield", seed=int(row["seed"]))
            n = sec[TUMOR].to_numpy(float)
            left.setdefault(f, []).append(n[-1] / n[np.argmin(np.abs(sec["time_days"].to_numpy(float) - 7.0))])
    assert all(hi < lo for lo, hi in zip(left[0.6], left[1.6], strict=True)), left
