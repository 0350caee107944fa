"""The whole-body model: each step of the metastatic cascade does what the review says.

The primary tumor's shedding is given as a fixed profile here (the spatial section is tested
elsewhere and in ``test_body_cli``); the organ niches are simulated by the spatial engine.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import tmesim
from tmesim.body import Patient, PatientOptions, SheddingProfile, fates
from tmesim.body.circulation import half_life_minutes
from tmesim.model.body import EMT_CLASSES

# Per tumor cell and minute: singles of each EMT class and clusters (by class) of ~3 cells,
# about 0.03 cells per cell and day in all (the order of Butler & Gullino's 3-4e6/g/day).
SHED = SheddingProfile(single=np.array([5e-6, 5e-6, 1e-5]), cluster=np.array([5e-7, 5e-7, 5e-7]),
                       cluster_size=3.0, tumor_cell_minutes=1e7, events=1000)


@pytest.fixture(scope="module")
def model() -> tmesim.Model:
    return tmesim.load_model(tmesim.preset_path("tnbc"))


# The mechanism tests below read the first generation of colonies (seeded by the primary):
# metastasis-derived shedding is tested on its own in test_cascade.py.
FIRST = {"metastasis_shedding": False}


@pytest.fixture(scope="module")
def base(model):
    return Patient(model, seed=3, shedding=SHED, options=PatientOptions(**FIRST)).run()


def colonies(res, organ: str) -> float:
    fm = res.first_metastasis.set_index("organ")
    return float(fm.loc[organ, "expected_colonies"])


def test_patient_tables(base):
    assert {"ctc", "arrivals", "seeding", "burden", "first_metastasis", "primary", "seeding_per_cell"} <= set(base.tables())
    ctc = base.ctc
    at_dx = ctc.iloc[(ctc["days_from_diagnosis"]).abs().argmin()]
    # CellSearch-detectable CTCs at diagnosis: clinically 0 to a few hundred per 7.5 mL.
    assert 0.1 < at_dx["detectable_per_7_5ml"] < 1e4
    # After surgery the primary sends no more cells: what is in the blood comes from metastases.
    late = ctc["days_from_diagnosis"] > 60
    assert np.allclose(ctc["ctc_per_7_5ml"][late], ctc["from_metastases_per_7_5ml"][late])
    assert set(base.first_metastasis["organ"]) == {"bone", "lung", "liver", "brain"}
    assert (base.arrivals["extravasated_cells_per_day"] <= base.arrivals["arrested_cells_per_day"] + 1e-9).all()


def test_same_seed_same_patient(model, base):
    again = Patient(model, seed=3, shedding=SHED, options=PatientOptions(**FIRST)).run()
    for name, df in base.tables().items():
        pd.testing.assert_frame_equal(df, again.tables()[name], obj=name)
    other = Patient(model, seed=4, shedding=SHED, options=PatientOptions(**FIRST)).run()
    assert not base.ctc["assay_count"].equals(other.ctc["assay_count"])


def test_ctc_half_life_and_clusters(model):
    """review:83 (Aceto 2014): single CTCs have a blood half-life of 25-30 min, clusters of
    6-10 min (trapped in capillaries)."""
    f = fates(model.body, {})
    hl = half_life_minutes(f)
    hybrid = EMT_CLASSES.index("hybrid")
    assert 20 <= hl[0, hybrid] <= 35
    assert 5 <= hl[1, hybrid] <= 12
    # clusters die less and arrest more than single cells
    assert f.death[1, hybrid] < f.death[0, hybrid]
    # the lung, first capillary bed of venous return, takes the largest share of arrests
    assert f.arrest["lung"][0, hybrid] > max(f.arrest[o][0, hybrid] for o in ("bone", "liver", "brain"))


def test_clusters_seed_more_per_cell_than_single_cells(base):
    """review:82, 83, 85-87: clusters have a higher metastatic potential than single CTCs."""
    s = base.seeding_per_cell.set_index(["unit", "emt_class"])["colonies_per_cell"]
    for c in EMT_CLASSES:
        assert s[("cluster", c)] > 2 * s[("single", c)], c


def test_hybrid_cells_seed_more_than_epithelial_or_mesenchymal(base):
    """review:78, 79: hybrid E/M cells have the highest metastatic potential."""
    s = base.seeding_per_cell.set_index(["unit", "emt_class"])["colonies_per_cell"]
    assert s[("single", "hybrid")] > 2 * s[("single", "mesenchymal")]
    assert s[("single", "hybrid")] > 2 * s[("single", "epithelial")]


def test_no_brain_metastasis_without_cathepsin_s_mmps_and_vegf(model, base):
    """review:142-145: the blood-brain barrier is crossed only with VEGF, MMPs and cathepsin S
    (and exosomal CEMIP, review:92, which loosens the brain vessel wall too)."""
    assert colonies(base, "brain") > 0
    closed = Patient(model, seed=3, shedding=SHED,
                     options=PatientOptions(factors={"cathepsin_s": 0.0, "mmp": 0.0, "vegf": 0.0, "cemip": 0.0}, **FIRST)).run()
    assert colonies(closed, "brain") == 0.0
    assert (closed.seeding["organ"] != "brain").all()
    assert closed.arrivals.query("organ == 'brain'")["extravasated_cells_per_day"].max() == 0.0
    # each factor alone still opens the barrier partly
    only_cats = Patient(model, seed=3, shedding=SHED,
                        options=PatientOptions(factors={"mmp": 0.0, "vegf": 0.0, "cemip": 0.0}, **FIRST)).run()
    assert 0 < colonies(only_cats, "brain") < colonies(base, "brain")


def test_tgfb_blockade_reduces_bone_metastasis(model, base):
    """review:121, 122: TGF-β pathway inhibition reduces bone metastasis (vicious cycle)."""
    blocked = Patient(model, seed=3, shedding=SHED, options=PatientOptions(tgfb_block=True, **FIRST)).run()
    assert blocked.niches["bone"].growth_rate < base.niches["bone"].growth_rate
    fm0 = base.first_metastasis.set_index("organ")
    fm1 = blocked.first_metastasis.set_index("organ")
    assert fm1.loc["bone", "expected_metastases"] < fm0.loc["bone", "expected_metastases"]


def test_exosome_priming_raises_lung_and_liver_seeding(model, base):
    """review:93: α6β4 exosomes prime the lung and αvβ5 exosomes the liver."""
    unprimed = Patient(model, seed=3, shedding=SHED, options=PatientOptions(exosomes=False, **FIRST)).run()
    assert base.arrivals.query("organ == 'lung'")["priming"].max() > 0.2
    assert (unprimed.arrivals["priming"] == 0).all()
    for organ in ("lung", "liver"):
        assert colonies(unprimed, organ) < 0.8 * colonies(base, organ), organ


def test_met_is_needed_for_outgrowth(model, base):
    """review:88-91: disseminated cells must re-epithelialise (MET) to colonise."""
    blocked = Patient(model, seed=3, shedding=SHED, options=PatientOptions(met_block=True, **FIRST)).run()
    assert sum(base.expected_metastases.values()) > 0
    assert sum(blocked.expected_metastases.values()) == 0.0
    assert blocked.seeding.empty
    assert all(blocked.niches[o].growth_rate <= 0.05 for o in blocked.niches)


def _with_doubling_time(model: tmesim.Model, days: float) -> tmesim.Model:
    from tmesim.model import model_from_dict

    data = model.model_dump(mode="json")
    data["body"]["primary"]["doubling_time"] = {"value": days, "unit": "day", "source": "assumption: the ER+ presets' doubling time"}
    return model_from_dict(data)


def test_colonies_grow_out_at_the_subtypes_doubling_time(model, base):
    """A colony grows out with its primary's Gompertz kinetics (the subtype's volume doubling
    time, Ryu et al. Eur Radiol 2014): founding to detection takes years, longer for the slower
    ER+ tumors, so their first metastases are detected later after diagnosis (EBCTCG, Pan et al.
    NEJM 2017: ER+ disease relapses late; Dent et al. 2007: triple-negative early)."""
    fm = base.first_metastasis.set_index("organ")
    delay = fm["detection_delay_days"] / 365.25
    assert ((delay > 2.0) & (delay < 4.0)).all(), delay  # TNBC's 99-day doubling: ~2.7 years, not months
    # the burden table follows the same law: a colony founded in week k has the detection size t_det later
    s = base.seeding.dropna(subset=["detected_days_from_diagnosis"])
    assert np.allclose(s["detected_days_from_diagnosis"] - s["days_from_diagnosis"],
                       fm.loc[s["organ"], "detection_delay_days"].to_numpy())
    from scipy.stats import mannwhitneyu

    slow = _with_doubling_time(model, 280.0)  # the ER+ presets' doubling time
    years = 20 * 365.25
    first = {}
    for name, m in (("tnbc", model), ("er", slow)):
        days = []
        for seed in range(8):
            res = Patient(m, seed=seed, shedding=SHED, options=PatientOptions(**FIRST)).run(days=years)
            days.append(res.first_metastasis["days_from_diagnosis"].min())
        first[name] = np.array(days)[np.isfinite(days)]  # among the patients who relapse (Dent's measure)
    f = Patient(slow, seed=3, shedding=SHED, options=PatientOptions(**FIRST)).run(days=years).first_metastasis
    ratio = f.set_index("organ")["detection_delay_days"] / fm["detection_delay_days"]
    assert ((ratio > 2.5) & (ratio < 3.0)).all(), ratio  # ~280 / 99
    assert min(len(first["er"]), len(first["tnbc"])) >= 5, first
    assert mannwhitneyu(first["er"], first["tnbc"], alternative="greater").pvalue < 0.01, first


@pytest.mark.parametrize("edit, field", [
    (lambda b: b["organs"].pop("brain"), "organs"),
    (lambda b: b["organs"]["lung"].__setitem__("blood_flow", 0.5), "blood_flow"),
    (lambda b: b["organs"]["bone"]["barrier_opening"].__setitem__("heparanase", 1), "heparanase"),
    (lambda b: b["organs"]["bone"].__setitem__("arrest_single", 1.5), "arrest_single"),
    (lambda b: b["organs"].__setitem__("spleen", b["organs"]["bone"]), "spleen"),
    (lambda b: b["circulation"].__setitem__("blood_volume", "5 min"), "blood_volume"),
    (lambda b: b["organs"]["brain"].__setitem__("lethal_cells", {"value": 1e7, "unit": "", "source": "x y z"}),
     "lethal_cells"),
    (lambda b: b.__setitem__("presentation_cells", {"value": 1e13, "unit": "", "source": "x y z"}), "presentation_cells"),
])
def test_bad_body_input_names_the_field(model, edit, field):
    data = model.model_dump(mode="json")
    body = copy.deepcopy(data["body"])
    edit(body)
    data["body"] = body
    with pytest.raises(tmesim.ModelError) as err:
        tmesim.model_from_dict(data)
    assert field in str(err.value)


def test_patient_needs_a_body_section(small_model):
    model = small_model
    with pytest.raises(tmesim.ModelError, match="no body"):
        Patient(model)
    with pytest.raises(tmesim.ModelError, match="unknown tumor factor"):
        Patient(tmesim.load_model(tmesim.preset_path("tnbc")), options=PatientOptions(factors={"egfr": 1.0}))


def _intravasation_events(cluster_probability: float) -> pd.DataFrame:
    from conftest import small_dict

    d = small_dict(size=30, days=0.5)
    cancer = next(c for c in d["cell_types"] if c["name"] == "cancer")
    cancer["behaviours"]["intravasation"] = 0.01
    cancer["behaviours"]["cluster departure"] = cluster_probability
    d["initial"] = [{"cell_type": "endothelial", "region": "everywhere", "density": 400},
                    {"cell_type": "cancer", "region": "everywhere", "fraction": 0.6, "state": {"emt": 0.5}}]
    sim = tmesim.engine.Simulation(tmesim.model_from_dict(d), seed=2)
    rows = []
    for _ in range(20):
        sim.step()
        ev = sim.take_events()
        keep = ev["kind"] == 7
        rows.append(pd.DataFrame({"uid": ev["uid"][keep], "cluster": ev["arg"][keep], "emt": ev["state"][keep, 0]}))
    return pd.concat(rows)


def test_engine_releases_clusters_of_touching_cells():
    """review:82-84: neighbouring cells that keep their junctions leave together as clusters."""
    singles = _intravasation_events(0.0)
    clusters = _intravasation_events(0.5)
    assert len(singles) > 20 and (singles["cluster"] == singles["uid"]).all()
    sizes = clusters.groupby("cluster").size()
    assert sizes.max() >= 3 and (sizes > 1).mean() > 0.3
    assert clusters["emt"].between(0.3, 0.7).all()  # the state carried into the blood


def test_site_shares_figure_marks_published_figures():
    from tmesim.viz.figures import site_shares_figure

    table = pd.DataFrame([
        {"subtype": s, "organ": o, "simulated_percent": 10.0 + k, "review_low_percent": lo, "review_high_percent": hi}
        for s in ("tnbc", "her2") for k, (o, lo, hi) in enumerate(
            (("bone", 60.0, 85.0), ("lung", np.nan, np.nan), ("liver", np.nan, np.nan), ("brain", 50.0, 50.0)))])
    fig = site_shares_figure(table)
    ax = fig.axes[0]
    assert len(ax.patches) == 8  # one bar per subtype and organ
    assert [t.get_text() for t in ax.get_xticklabels()] == ["tnbc", "her2"]
    assert "published (review:112)" in [t.get_text() for t in ax.get_legend().get_texts()]
