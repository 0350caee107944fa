"""The primary section drives the metastatic cascade patient by patient (tmesim.body.coupling).

Knockouts are made in each virtual patient's own section (mean-field, 28 days) and reach
metastasis only through the coupling maps; each is a paired comparison over 10 virtual
patients (one-sided Wilcoxon signed-rank test on expected colonies per organ, p ≤ 0.05; a
patient may go the other way, e.g. CAF ablation in a strongly mesenchymal section moves its
cells toward the hybrid state, which founds more colonies).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

import tmesim
from tmesim.body import Patient, PatientOptions
from tmesim.body.knockouts import knockout
from tmesim.body.section import run_section
from tmesim.cohort.organotropism import simulate_coupled

N = 10
ORG = ("bone", "lung", "liver", "brain")


@pytest.fixture(scope="module")
def luma():
    return tmesim.load_model(tmesim.preset_path("luminal-a"))


@pytest.fixture(scope="module")
def base(luma):
    return simulate_coupled(luma, N, seed=0, follow_up_days=3650)


def _lower(base: pd.DataFrame, edited: pd.DataFrame, organ: str) -> float:
    a, b = edited[f"colonies_{organ}"].to_numpy(), base[f"colonies_{organ}"].to_numpy()
    assert np.median(a / b) < 1.0, (organ, a, b)
    return float(wilcoxon(a, b, alternative="less").pvalue)


@pytest.mark.slow  # 10 patients x 2 sections each (about 10 s idle)
def test_tgfb_blockade_in_the_section_lowers_lung_seeding(luma, base):
    """Padua et al. Cell 2008 (tumor TGF-β primes lung seeding through ANGPTL4). Bone is not
    asserted: TGF-β blockade acts on bone through the niche's vicious cycle (review:121, 122;
    test_body.test_tgfb_blockade_reduces_bone_metastasis), while in the section it lowers EMT
    toward the hybrid state, which founds more colonies."""
    ko = simulate_coupled(luma, N, seed=0, follow_up_days=3650, knockouts=("tgfb_block",))
    assert _lower(base, ko, "lung") <= 0.05


@pytest.mark.slow  # 10 patients x 2 sections each (about 10 s idle)
def test_m2_depletion_lowers_brain_seeding(luma, base):
    """review:145 (Sevenich et al. 2014: TAM cathepsin S opens the blood-brain barrier)."""
    ko = simulate_coupled(luma, N, seed=0, follow_up_days=3650, knockouts=("deplete:M2_macrophage",))
    assert _lower(base, ko, "brain") <= 0.05


@pytest.mark.slow  # 10 patients x 2 sections each (about 10 s idle)
def test_platelet_depletion_lowers_seeding(luma, base):
    """review:85-87; Labelle et al. 2011 (platelets shield CTCs; depletion reduces metastasis)."""
    ko = simulate_coupled(luma, N, seed=0, follow_up_days=3650, knockouts=("deplete:platelet",))
    for organ in ("bone", "brain"):
        assert _lower(base, ko, organ) <= 0.05


@pytest.mark.slow  # 10 patients x 2 sections each (about 10 s idle)
def test_caf_ablation_lowers_bone_seeding(luma, base):
    """Zhang et al. Cell 2013 (CAF CXCL12 selects bone-homing seeds); review:27, 30."""
    ko = simulate_coupled(luma, N, seed=0, follow_up_days=3650, knockouts=("deplete:CAF_S100A4", "deplete:CAF_PDPN"))
    assert _lower(base, ko, "bone") <= 0.05
    assert (ko["coupling_cluster_founding_factor"] < base["coupling_cluster_founding_factor"]).all()  # fewer CAF partners


@pytest.mark.slow  # 10 patients x 2 sections each (about 10 s idle)
def test_blocked_exosome_release_lowers_lung_and_liver_seeding(luma, base):
    """review:93 (Hoshino 2015: exosome integrins prime lung and liver); Peinado 2012 (Rab27a)."""
    ko = simulate_coupled(luma, N, seed=0, follow_up_days=3650, options=PatientOptions(exosomes=False))
    assert _lower(base, ko, "lung") <= 0.05
    assert _lower(base, ko, "liver") <= 0.05


def test_edited_section_gives_a_different_course(luma):
    section = run_section(luma, 28, "meanfield")
    a = Patient(luma, seed=5, section=section).run(days=3650)
    edited = section.copy()
    edited["M2_macrophage"] *= 5.0  # five times the TAMs over the whole section
    b = Patient(luma, seed=5, section=edited).run(days=3650)
    ca, cb = (r.coupling.set_index("factor")["value"] for r in (a, b))
    assert cb["cathepsin_s"] > ca["cathepsin_s"]
    row = a.coupling.set_index("factor").loc["cathepsin_s"]
    assert row["quantity"] == "group:m2" and row["source"].startswith("review:145")
    ea, eb = (r.first_metastasis.set_index("organ")["expected_colonies"] for r in (a, b))
    assert eb["brain"] > 1.1 * ea["brain"]


def test_coupling_table_names_every_factor_and_its_source(luma):
    res = Patient(luma, seed=1, options=PatientOptions(section_engine="meanfield", section_days=14)).run(days=365)
    t = res.coupling
    assert {"factor", "value", "quantity", "section_value", "source"} <= set(t.columns)
    assert t["source"].str.len().gt(3).all()
    assert {"shedding_per_cell_day", "cluster_fraction", "ctc_share_hybrid", "cluster_partner_caf", "vegf",
            "exosome_release"} <= set(t["factor"])
    assert "coupling" in res.tables()


def test_metastases_shed_ctcs_into_the_blood(luma):
    """Metastases are tumors: after surgery the blood still holds cells, all from metastases,
    and they re-seed the organs (more colonies than the primary's alone)."""
    section = run_section(luma, 28, "meanfield")
    seed = next(s for s in range(1, 60) if Patient(luma, seed=s, section=section).run().metastatic_sites())
    on = Patient(luma, seed=seed, section=section).run()
    off = Patient(luma, seed=seed, section=section, options=PatientOptions(metastasis_shedding=False)).run()
    ctc_on, ctc_off = on.ctc, off.ctc
    late = ctc_on["days_from_diagnosis"] > 60
    assert ctc_on.loc[late, "from_metastases_per_7_5ml"].max() > 1.0
    assert np.allclose(ctc_on.loc[late, "ctc_per_7_5ml"], ctc_on.loc[late, "from_metastases_per_7_5ml"])
    assert ctc_off.loc[late, "ctc_per_7_5ml"].max() == 0.0
    assert on.burden["cells"].max() > 0
    tot = lambda r: r.first_metastasis["expected_colonies"].sum()  # noqa: E731
    assert tot(on) > tot(off)


def test_clusters_found_more_colonies_per_unit_than_single_ctcs(luma):
    """Aceto et al. Cell 2014 (clusters 23-50x the metastatic potential of single CTCs);
    Gkountela et al. Cell 2019 (cluster stemness). Read from the per-unit fate table."""
    df = simulate_coupled(luma, 3, seed=0, follow_up_days=3650)
    ratio = df["colonies_per_cluster"] / df["colonies_per_single"]
    assert (ratio > 10).all(), ratio.tolist()


def test_bone_dormancy_niche_keeps_late_relapse_accruing(luma):
    """EBCTCG (Pan et al. NEJM 2017): ER+ distant recurrence continues steadily from year 5 to
    20. Colonies founded in bone per year in years 10-20 stay a sizeable share of years 0-5;
    without the osteoblast dormancy niche the marrow pool is spent within years."""
    section = run_section(luma, 28, "meanfield")

    def late_share(model: tmesim.Model) -> float:
        res = Patient(model, seed=2, section=section).run(days=20 * 365.0)
        a = res.arrivals[res.arrivals["organ"] == "bone"]
        dd = a["time_days"] - res.diagnosis_day
        early = a.loc[(dd >= 0) & (dd < 5 * 365), "founding_per_day"].mean()
        late = a.loc[(dd >= 10 * 365), "founding_per_day"].mean()
        return float(late / early)

    d = luma.model_dump(mode="json")
    d["body"]["organs"]["bone"]["dormancy"]["signals"]["cells:osteoblast"]["value"] = 0.0
    no_niche = tmesim.model_from_dict(d)
    with_niche = late_share(luma)
    assert with_niche > 0.3
    assert late_share(no_niche) < 0.5 * with_niche


def test_knockout_names_are_checked(luma):
    with pytest.raises(tmesim.ModelError, match="deplete:unicorn"):
        knockout(luma, "deplete:unicorn")
    with pytest.raises(tmesim.ModelError, match="allowed"):
        knockout(luma, "remove_everything")
