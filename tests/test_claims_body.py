"""Body-level claims of the review (knowledge/data/review_claims.csv): each tumor factor that
opens a vessel barrier, attracts cells to an organ or primes a niche is knocked out (its
score set to 0 through ``PatientOptions.factors``) and the organ's expected arrest,
extravasation or priming must fall, over five patients (seeds) with the fixed shedding
profile of test_body.py, compared on the log scale with a one-sided paired t-test.

The niches are simulated once (niche seed 0) and reused, so each knockout costs well under a
second per patient.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

import tmesim
from coculture import paired_one_sided
from tmesim.body import Patient, PatientOptions, SheddingProfile

SHED = SheddingProfile(single=np.array([5e-6, 5e-6, 1e-5]), cluster=np.array([5e-7, 5e-7, 5e-7]),
                       cluster_size=3.0, tumor_cell_minutes=1e7, events=1000)
SEEDS = (3, 4, 5, 6, 7)
# About a minute in all (the niche runs of the first patient dominate): kept out of the default suite.
pytestmark = pytest.mark.slow

# name: (claims, factors set to 0, organ, arrivals column); BACKGROUND: factors set to 0 in both arms
CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, str]] = {
    "lung_mmp_vegf_open_the_barrier": (("C099",), ("mmp", "vegf"), "lung", "extravasated_cells_per_day"),
    "lung_cox2_epiregulin_open_the_barrier": (("C100",), ("cox2_epiregulin",), "lung", "extravasated_cells_per_day"),
    "bone_cxcl12_rankl_attract": (("C091",), ("cxcr4", "rankl_response"), "bone", "arrested_cells_per_day"),
    "liver_ccl2_cxcr4_attract": (("C113",), ("ccl2", "cxcr4"), "liver", "arrested_cells_per_day"),
    "liver_claudin2_attachment": (("C115",), ("claudin2",), "liver", "extravasated_cells_per_day"),
    "lung_annexin_a6_primes": (("C103",), ("annexin_a6",), "lung", "priming"),
    "brain_mir105_primes": (("C081",), ("mir105",), "brain", "priming"),
    "bone_mir20a_primes": (("C082",), ("mir20a",), "bone", "priming"),
    "brain_cemip_primes": (("C085",), ("cemip",), "brain", "priming"),
    "lung_mir105_opens_the_barrier": (("C081",), ("mir105",), "lung", "extravasated_cells_per_day"),
    "lung_treg_rankl_helps_crossing": (("C057",), ("rankl_response",), "lung", "extravasated_cells_per_day"),
    "liver_inflammatory_cytokines_attachment": (("C112",), ("cox2_epiregulin",), "liver", "arrested_cells_per_day"),
    "lung_platelets_open_the_barrier": (("C163",), ("platelets",), "lung", "extravasated_cells_per_day"),
}
# A TNBC tumor's CEMIP alone saturates brain priming (cargo is capped at 1), so miR-105 is
# shown in a tumor without CEMIP.
BACKGROUND: dict[str, dict[str, float]] = {"brain_mir105_primes": {"cemip": 0.0}}


@pytest.fixture(scope="module")
def model() -> tmesim.Model:
    return tmesim.load_model(tmesim.preset_path("tnbc"))


def _mean(model: tmesim.Model, seed: int, organ: str, column: str, factors: dict[str, float]) -> float:
    # cells from the primary only: metastases also shed, and their number depends on the knockout
    res = Patient(model, seed=seed, shedding=SHED, options=PatientOptions(factors=factors, metastasis_shedding=False)).run()
    return float(res.arrivals.query("organ == @organ")[column].mean())


@pytest.mark.parametrize("name", sorted(CASES))
def test_body_factor_knockout(name: str, model) -> None:
    claims, factors, organ, column = CASES[name]
    # patients differ by orders of magnitude in shedding, so compare on the log scale
    bg = BACKGROUND.get(name, {})
    intact = np.log(np.array([_mean(model, s, organ, column, bg) for s in SEEDS]))
    ko = np.log(np.array([_mean(model, s, organ, column, {**bg, **dict.fromkeys(factors, 0.0)}) for s in SEEDS]))
    p = paired_one_sided(ko, intact, "lower")
    assert p < 0.05, f"{','.join(claims)}: {organ} {column} without {factors}: {ko} not lower than {intact} (p={p:.3g})"


def test_bone_sinusoids_are_more_permissive_than_lung_capillaries(model) -> None:
    """review:113 (C090): fenestrated marrow sinusoids let a larger share of arrested CTCs out than lung capillaries."""
    share = {}
    for seed in SEEDS:
        res = Patient(model, seed=seed, shedding=SHED, options=PatientOptions(metastasis_shedding=False)).run()
        a = res.arrivals.groupby("organ")[["arrested_cells_per_day", "extravasated_cells_per_day"]].sum()
        share[seed] = (a["extravasated_cells_per_day"] / a["arrested_cells_per_day"]).to_dict()
    bone = np.array([share[s]["bone"] for s in SEEDS])
    lung = np.array([share[s]["lung"] for s in SEEDS])
    assert paired_one_sided(lung, bone, "lower") < 0.05, (bone, lung)


def _run(model: tmesim.Model, seed: int, factors: dict[str, float] | None = None):  # noqa: ANN202
    return Patient(model, seed=seed, shedding=SHED,
                   options=PatientOptions(factors=factors or {}, metastasis_shedding=False)).run()


def test_bone_is_the_most_common_site() -> None:
    """review:111 (C088): bone is the most common site of breast cancer metastasis: the expected
    number of bone metastases exceeds that of every other organ in each patient. Read on the
    luminal A model, the commonest subtype: in TNBC the visceral sites lead (Savci-Heijink et
    al., Breast Cancer Res Treat 2015;150:547: visceral 81% vs bone 55% of ER-/HER2- patients
    with distant metastases), and the TNBC model puts liver above bone as that cohort does."""
    lum = tmesim.load_model(tmesim.preset_path("luminal-a"))
    exp = {s: _run(lum, s).expected_metastases for s in SEEDS}
    bone = np.log(np.array([exp[s]["bone"] for s in SEEDS]))
    for organ in ("lung", "liver", "brain"):
        other = np.log(np.array([exp[s][organ] for s in SEEDS]))
        assert paired_one_sided(other, bone, "lower") < 0.05, (organ, other, bone)


def test_lung_capillaries_take_most_extravasating_cells(model) -> None:
    """review:126 (C098): the lung capillaries, first bed of the venous return with the largest
    surface, arrest and let out more disseminated cells than any other organ."""
    tot = {s: _run(model, s).arrivals.groupby("organ")["extravasated_cells_per_day"].sum() for s in SEEDS}
    lung = np.log(np.array([tot[s]["lung"] for s in SEEDS]))
    for organ in ("bone", "liver", "brain"):
        other = np.log(np.array([tot[s][organ] for s in SEEDS]))
        assert paired_one_sided(other, lung, "lower") < 0.05, (organ, other, lung)


def test_caf_cxcr4_selection_raises_bone_recurrence(model) -> None:
    """review:154, 155 (C129): CAF-rich tumors (CXCR4-responsive cells selected by CAF CXCL12,
    the coupling's ``cxcr4`` factor read from the CAF count) relapse more in bone: without that
    factor, fewer bone metastases are expected."""
    intact = np.log(np.array([_run(model, s).expected_metastases["bone"] for s in SEEDS]))
    ko = np.log(np.array([_run(model, s, {"cxcr4": 0.0}).expected_metastases["bone"] for s in SEEDS]))
    assert paired_one_sided(ko, intact, "lower") < 0.05, (ko, intact)


def test_ctcs_are_heterogeneous_in_emt(model) -> None:
    """review:80, 81 (C069): circulating tumor cells mix epithelial, hybrid and mesenchymal
    states, and a sizeable share (the mesenchymal, EpCAM-low cells) escapes the EpCAM-based count."""
    shares, missed = [], []
    for s in SEEDS:
        res = _run(model, s)
        cells = (res.units["intravasated_units"] * res.units["cells_per_unit"]).groupby(res.units["emt_class"]).sum()
        shares.append((cells / cells.sum()).to_numpy())
        ctc = res.ctc.query("ctc_per_7_5ml > 0")
        missed.append(float(np.mean(1.0 - ctc["detectable_per_7_5ml"] / ctc["ctc_per_7_5ml"])))
    shares = np.array(shares)
    assert (shares > 0.05).all(), shares  # every patient sheds each state
    assert 0.05 < np.mean(missed) < 0.95, missed


def test_ctc_count_tracks_metastatic_risk(model) -> None:
    """(C070) CTCs as a diagnostic marker: across twenty patients, the detectable CTC count per
    7.5 mL at diagnosis ranks patients by their expected number of metastases (Spearman)."""
    from tmesim.cohort.markers import ctc_at

    ctc, mets = [], []
    for s in range(20):
        res = _run(model, 100 + s)
        ctc.append(ctc_at(res.ctc, 0.0))
        mets.append(sum(res.expected_metastases.values()))
    rho, p = spearmanr(ctc, mets)
    assert rho > 0.5 and p < 0.01, (rho, p)


def test_exosomal_cemip_opens_the_blood_brain_barrier(model) -> None:
    """review:92, 104, 105 (C084): exosomal CEMIP loosens the brain vessel wall: without it a
    smaller share of the cells arrested in the brain cross into it (the share isolates the
    barrier from CEMIP's priming, which raises arrest)."""
    def share(seed: int, factors: dict[str, float]) -> float:
        a = _run(model, seed, factors).arrivals.query("organ == 'brain'")
        return float(a["extravasated_cells_per_day"].sum() / a["arrested_cells_per_day"].sum())

    intact = np.array([share(s, {}) for s in SEEDS])
    ko = np.array([share(s, {"cemip": 0.0}) for s in SEEDS])
    assert paired_one_sided(ko, intact, "lower") < 0.05, (ko, intact)


def test_m2_macrophages_help_cells_into_the_liver(model) -> None:
    """(C167) tumor-educated M2 macrophages promote extravasation into the liver stroma: without
    the tumor's M2 factor a smaller share of the cells arrested in the liver cross into it."""
    def share(seed: int, factors: dict[str, float]) -> float:
        a = _run(model, seed, factors).arrivals.query("organ == 'liver'")
        return float(a["extravasated_cells_per_day"].sum() / a["arrested_cells_per_day"].sum())

    intact = np.array([share(s, {}) for s in SEEDS])
    ko = np.array([share(s, {"cathepsin_s": 0.0}) for s in SEEDS])
    assert paired_one_sided(ko, intact, "lower") < 0.05, (ko, intact)
