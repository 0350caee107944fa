"""Immune killing in the section: its measurement (both engines), its adenosine suppression by
Tregs and MDSCs, and how it shapes regrowth after the treatment window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tmesim
from tmesim.cohort import EndpointConfig, sample_patients
from tmesim.cohort.endpoints import (
    burden_curve,
    growth_rate,
    immune_exponent,
    immune_growth_factor,
    immune_kill_rate,
    progression_day,
)
from tmesim.cohort.section import KILLED, TUMOR, run_section
from tmesim.cohort.virtual import patient_model
from tmesim.model import model_from_dict

pytestmark = pytest.mark.filterwarnings("ignore")
ATTACKERS = ("CD8_T_cell", "NK_cell", "M1_macrophage", "N1_neutrophil")


@pytest.fixture(scope="module")
def tnbc():
    return tmesim.load_model(tmesim.preset_path("tnbc"))


def _typical(model, **factors):
    """The first reference patient with every factor at 1 except ``factors``."""
    row = sample_patients(model, 1, 0).iloc[0].to_dict()
    for k in row:
        if k not in ("patient_id", "seed", "pdl1_positive"):
            row[k] = 1.0
    row.update(factors)
    return patient_model(model, row)


def _without(model, cell_type: str, signal: str, behaviour: str):
    d = model.model_dump(mode="json")
    d["rules"] = [r for r in d["rules"]
                  if not (r["cell_type"] == cell_type and r["signal"] == signal and r["behaviour"] == behaviour)]
    return model_from_dict(d)


def test_meanfield_kill_flux_comes_from_attacks(tnbc):
    sec = run_section(tnbc, 7)
    assert (sec[KILLED].iloc[1:] > 0).all()
    d = tnbc.model_dump(mode="json")
    for ct in d["cell_types"]:
        if ct["name"] in ATTACKERS:
            ct["behaviours"].pop("attack cancer", None)
    d["rules"] = [r for r in d["rules"] if not (r["cell_type"] in ATTACKERS and r["behaviour"] == "attack cancer")]
    calm = run_section(model_from_dict(d), 7)
    assert (calm[KILLED] == 0).all()
    assert calm[TUMOR].iloc[-1] > sec[TUMOR].iloc[-1]  # the kills were real losses


def test_tregs_suppress_killing_through_adenosine(tnbc):
    """Deaglio et al. 2007 (CD39/CD73 on Tregs), Ohta et al. 2006 (A2A receptors protect tumors
    from T cells): more Tregs → more adenosine → fewer tumor cells killed; without the A2A rule
    the Treg effect on killing shrinks by about half (the rest: contact suppression, IL-10, TGF-β)."""
    def kill_and_ado(model, level):
        sec = run_section(_typical(model, treg_level=level), 28)
        return immune_kill_rate(sec, 28), float(sec["adenosine"].iloc[-7:].mean())

    k_lo, a_lo = kill_and_ado(tnbc, 0.3)
    k_hi, a_hi = kill_and_ado(tnbc, 3.0)
    assert a_hi > 2 * a_lo
    assert k_hi < 0.85 * k_lo
    blind = _without(tnbc, "CD8_T_cell", "adenosine", "attack cancer")
    kb_lo, _ = kill_and_ado(blind, 0.3)
    kb_hi, _ = kill_and_ado(blind, 3.0)
    assert abs(np.log(kb_hi / kb_lo)) < 0.6 * abs(np.log(k_hi / k_lo))


def test_mdscs_suppress_killing(tnbc):
    """MDSCs (CD73, Ryzhov et al. 2011) lower the kill rate; review:65, 160-162 (more MDSCs, worse outcome)."""
    lo = immune_kill_rate(run_section(_typical(tnbc, mdsc_level=0.3), 28), 28)
    hi = immune_kill_rate(run_section(_typical(tnbc, mdsc_level=3.0), 28), 28)
    assert hi < 0.85 * lo


def _flat_section(kill_per_cell: float, days: int = 10) -> pd.DataFrame:
    n = np.full(days + 1, 1000.0)
    return pd.DataFrame({"time_days": np.arange(days + 1.0), TUMOR: n, KILLED: kill_per_cell * n})


def test_growth_rate_follows_baseline_kill_rate(tnbc):
    g = np.log(2) / (tnbc.body.primary.doubling_time.value / 1440)
    w = immune_exponent(tnbc)
    assert 0 < w == tnbc.body.primary.immune_growth_exponent.value
    cfg = EndpointConfig(run_in_days=3, treatment_days=7, follow_up_days=364, reference_kill_rate=0.004)
    assert np.isclose(growth_rate(_flat_section(0.004), tnbc, cfg), g)
    slowed = g * 1.5**-w  # a constant elasticity: 1.5 times the reference kill, 1.5^w times slower
    assert np.isclose(growth_rate(_flat_section(0.006), tnbc, cfg), slowed)
    assert np.isclose(growth_rate(_flat_section(0.002), tnbc, cfg), g * 2.0**w)
    assert np.isclose(growth_rate(_flat_section(0.0), tnbc, cfg), g * 10.0**w)  # a kill-free section: bounded
    assert 0 < growth_rate(_flat_section(0.5), tnbc, cfg) < g  # a metastatic tumor never regresses untreated
    off = EndpointConfig(run_in_days=3, treatment_days=7, follow_up_days=364, reference_kill_rate=0.004,
                         immune_control=False)
    assert np.isclose(growth_rate(_flat_section(0.04), tnbc, off), g)
    # only the untreated run-in counts: killing that rises under treatment stays in s(t)
    sec = _flat_section(0.006)
    sec.loc[sec["time_days"] > 3, KILLED] *= 5
    assert np.isclose(growth_rate(sec, tnbc, cfg), slowed)
    c = burden_curve(sec, tnbc, cfg)
    assert np.isclose(c["burden"].iloc[-1], c["burden"].iloc[0] * np.exp(slowed * 364))


def test_right_skewed_kill_rates_do_not_give_runaway_doubling_times():
    """Section kill rates are right-skewed between patients (a tenth of TNBC virtual patients
    kill 4-5 times the median); the growth factor's log spread is w times the kill rates' log
    spread, so they lengthen the doubling time by 5^w, not by exp(excess / g0) (up to 7-fold,
    400-900 days, with the first-order form used before)."""
    rng = np.random.default_rng(0)
    k = 0.004 * np.exp(rng.normal(0.0, 0.6, 2000))
    f = immune_growth_factor(k, float(np.median(k)), 0.4)
    assert np.std(np.log(f)) == pytest.approx(0.4 * np.std(np.log(np.maximum(k, 0.1 * np.median(k)))), rel=1e-9)
    g0 = np.log(2) / 103
    old = np.exp(-(k - np.median(k)) / g0)
    assert np.quantile(1 / f, 0.99) < 3 and np.quantile(1 / old, 0.99) > 5
    assert immune_growth_factor(0.01, 0.0, 0.4) == 1.0 and immune_growth_factor(0.01, 0.004, 0.0) == 1.0


def test_immune_pressure_decides_progression(tnbc):
    cfg = EndpointConfig(run_in_days=3, treatment_days=7, follow_up_days=364, reference_kill_rate=0.004)
    days = np.arange(0.0, 365.0, 7.0)

    def pd_day(kill: float) -> float:
        d = progression_day(days, burden_curve(_flat_section(kill), tnbc, cfg)["burden"].to_numpy(), 5e8)
        return np.inf if np.isnan(d) else d

    assert pd_day(0.002) < pd_day(0.004) < pd_day(0.04)  # escaping, typical, inflamed


def test_patient_reports_kill_rates(tnbc):
    from tmesim.cohort.patient import reference_kill_rate, run_patient

    cfg = EndpointConfig(run_in_days=14, treatment_days=14, follow_up_days=200)
    row = sample_patients(tnbc, 1, 3).iloc[0].to_dict()
    k_ref = reference_kill_rate(tnbc, cfg)
    out = run_patient(tnbc, row, "a", ["atezolizumab@day=0"], cfg).iloc[0]
    assert out["kill_rate_reference"] == pytest.approx(k_ref)
    g = np.log(2) / (patient_model(tnbc, row).body.primary.doubling_time.value / 1440)
    assert out["growth_rate"] == pytest.approx(g * immune_growth_factor(out["kill_rate_baseline"], k_ref, immune_exponent(tnbc)))
