"""Contact enrichment: measured on the lattice, and the mean-field correction it gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tmesim
from conftest import build, tnbc_dict
from tmesim.cohort.contacts import read_contacts, resolve_contacts
from tmesim.engine.contacts import ContactTally, contact_enrichment
from tmesim.meanfield import MeanField, contact_matrix
from tmesim.model import ModelError

DAYS = 2.0


def segregated_dict(separate: bool) -> dict:
    """tnbc-core on 40×40 sites; cancer cells and CD8 T cells either in two separate halves
    (``separate``) or both spread at random; nothing moves, nothing is recruited, so contacts
    stay what the layout makes them."""
    d = tnbc_dict()
    d["domain"] = {"dims": 2, "shape": [40, 40], "site_size": "20 um"}
    d["time"] = {"dt": "6 min", "days": DAYS, "output_interval": "0.5 day", "checkpoint_interval": "10 day"}
    for ct in d["cell_types"]:
        beh = ct.setdefault("behaviours", {})
        beh["migration speed"] = "0 um/min"
        beh.pop("recruitment", None)
        if ct["name"] == "CD8_T_cell":
            beh["attack cancer"] = "0.05 1/min"  # strong killers, so contact is what limits killing
        for key in [k for k in beh if k.startswith("chemotactic")]:
            del beh[key]
    if separate:
        d["initial"] = [
            {"cell_type": "endothelial", "region": "everywhere", "fraction": 0.04},
            {"cell_type": "cancer", "region": "box", "low": [0, 0], "high": [380, 800], "fraction": 0.5},
            {"cell_type": "CD8_T_cell", "region": "box", "low": [420, 0], "high": [800, 800], "fraction": 0.3},
        ]
    else:
        d["initial"] = [
            {"cell_type": "endothelial", "region": "everywhere", "fraction": 0.04},
            {"cell_type": "cancer", "region": "everywhere", "fraction": 0.25},
            {"cell_type": "CD8_T_cell", "region": "everywhere", "fraction": 0.15},
        ]
    d["rules"] = [r for r in pd.read_csv(d["rules"]).to_dict("records")]
    return d


def _pair(table: pd.DataFrame, a: str, b: str) -> float:
    row = table[(table["cell_type"] == a) & (table["neighbour"] == b)]
    return float(row["enrichment"].iloc[0])


def test_enrichment_reads_the_layout():
    apart = tmesim.engine.Simulation(build(segregated_dict(True)), seed=1)
    mixed = tmesim.engine.Simulation(build(segregated_dict(False)), seed=1)
    ta, tm = ContactTally(apart.cm.type_names), ContactTally(mixed.cm.type_names)
    ta.add(apart)
    tm.add(mixed)
    a, m = ta.table(), tm.table()
    assert _pair(a, "CD8_T_cell", "cancer") < 0.1  # two halves touch only across the gap, not at all
    assert _pair(a, "cancer", "cancer") > 1.1  # each type packed in its half
    assert 0.8 < _pair(m, "CD8_T_cell", "cancer") < 1.2  # random placement: random mixing
    # observed contacts are symmetric (each touching pair counted from both sides)
    # a packed tumor nest (the tnbc preset's disc at 90% cancer cells): only its rim has free
    # neighbour sites, while stromal fibroblasts around it mostly do
    nest = tmesim.engine.Simulation(tmesim.load_model(tmesim.preset_path("tnbc-core")), seed=1)
    tn = ContactTally(nest.cm.type_names)
    tn.add(nest)
    packed = tn.table()
    assert _pair(packed, "cancer", "(free site)") < 0.6
    assert _pair(packed, "fibroblast", "(free site)") > 0.8


def test_meanfield_with_measured_contacts_follows_the_spatial_engine():
    """Cancer cells and strong CD8 killers in separate halves: in the spatial engine the tumor
    half grows (killing only across the gap); the well-mixed mean-field lets every T cell touch
    cancer cells and clears them; with the measured enrichment it grows like the spatial one."""
    model = build(segregated_dict(True))
    spatial = []
    for seed in range(2):
        sim = tmesim.engine.Simulation(model, seed=seed)
        sim.run(days=DAYS)
        spatial.append(sim.counts()["cancer"])
    contacts = contact_enrichment(tmesim.engine.Simulation(model, seed=7), days=DAYS, every_days=0.5, skip_days=0.5)
    mixed = MeanField(model).run(days=DAYS, t_eval=[0, DAYS])["cancer"].iloc[-1]
    corrected = MeanField(model, contacts=contacts).run(days=DAYS, t_eval=[0, DAYS])["cancer"].iloc[-1]
    ref = float(np.mean(spatial))
    assert ref > 500  # the spatial tumor half grew from ~370 cells
    assert mixed < 0.01 * ref
    assert 0.5 * ref < corrected < 2.0 * ref


def test_contact_matrix_errors_name_the_entry():
    names = ["cancer", "CD8_T_cell"]
    matrix, free = contact_matrix(names, {("CD8_T_cell", "cancer"): 0.4, ("cancer", "(free site)"): 0.2})
    assert matrix[1, 0] == 0.4 and matrix[0, 1] == 1.0 and free.tolist() == [0.2, 1.0]
    with pytest.raises(ValueError, match="unknown cell type 'T cell'.*allowed: cancer, CD8_T_cell"):
        contact_matrix(names, {("T cell", "cancer"): 0.4})
    with pytest.raises(ValueError, match=r"enrichment of \(cancer, cancer\) must be a finite number >= 0"):
        contact_matrix(names, {("cancer", "cancer"): -1})
    with pytest.raises(ValueError, match="missing column"):
        contact_matrix(names, pd.DataFrame({"cell_type": ["cancer"], "enrichment": [1.0]}))


def test_resolve_contacts_modes(tmp_path):
    model = build(segregated_dict(True))
    assert resolve_contacts("well-mixed", model) is None
    first = resolve_contacts("measured", model, tmp_path, days=1.5, seed=3)
    assert (tmp_path / "contacts.csv").exists()
    again = resolve_contacts("measured", model, tmp_path, days=1.5, seed=3)  # read back, not re-measured
    pd.testing.assert_frame_equal(first.reset_index(drop=True), again.reset_index(drop=True), check_dtype=False)
    assert len(read_contacts(tmp_path / "contacts.csv", model)) == len(first)
    with pytest.raises(ModelError, match="contacts.*does not exist; allowed: well-mixed, measured"):
        resolve_contacts("no-such.csv", model)
    bad = tmp_path / "bad.csv"
    bad.write_text("cell_type,neighbour,enrichment\nosteoclast,cancer,1\n")
    with pytest.raises(ModelError, match="unknown cell type 'osteoclast'"):
        read_contacts(bad, model)


@pytest.mark.parametrize("preset", ["tnbc", "her2", "luminal-a", "luminal-b"])
def test_shipped_tables_are_current(preset):
    """Each shipped table is for its preset as it is now (else trials re-measure it:
    regenerate with ``python benchmarks/contacts.py --presets <preset>``)."""
    from tmesim.cohort.contacts import SHIPPED, contact_key

    model = tmesim.load_model(tmesim.preset_path(preset))
    shipped = pd.read_csv(SHIPPED / f"{preset}.csv.gz")
    assert str(shipped["model_key"].iloc[0]) == contact_key(model, 35.0, 0)
    assert shipped["time_days"].max() == 35.0


def test_shipped_tnbc_table_shows_exclusion_and_a_packed_nest():
    from tmesim.cohort.contacts import SHIPPED

    shipped = pd.read_csv(SHIPPED / "tnbc.csv.gz")
    # T-cell exclusion and a packed nest, as the spatial engine makes them
    late = shipped[shipped["time_days"] >= 14]
    cd8 = late[(late["cell_type"] == "CD8_T_cell") & (late["neighbour"] == "cancer")]["enrichment"]
    free = late[(late["cell_type"] == "cancer") & (late["neighbour"] == "(free site)")]["enrichment"]
    assert cd8.median() < 0.5 and free.median() < 0.2


@pytest.mark.slow
def test_meanfield_with_contacts_tracks_spatial_tnbc():
    """On the TNBC preset, the mean-field with the shipped contact table follows the spatial
    engine's tumor growth and T-cell infiltrate over two weeks far better than well-mixed."""
    from tmesim.cohort.contacts import SHIPPED

    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    table = pd.read_csv(SHIPPED / "tnbc.csv.gz")
    sim = tmesim.engine.Simulation(model, seed=0)
    spatial = {}
    for d in (7, 14):
        sim.run(days=float(d))
        spatial[d] = sim.counts()
    t = [0.0, 7.0, 14.0]
    fitted = MeanField(model, contacts=table).run(days=14, t_eval=t).set_index("time_days")
    mixed = MeanField(model).run(days=14, t_eval=t).set_index("time_days")
    for d in (7, 14):
        ref = spatial[d]["cancer"]
        assert abs(fitted.loc[float(d), "cancer"] - ref) < 0.35 * ref
        assert abs(fitted.loc[float(d), "CD8_T_cell"] / spatial[d]["CD8_T_cell"] - 1) < 0.5
    # well-mixed: far too few T cells survive the crowded section by day 14
    assert mixed.loc[14.0, "CD8_T_cell"] < 0.5 * spatial[14]["CD8_T_cell"]


def test_contact_course_read_once_gives_the_same_run():
    from tmesim.meanfield import ContactCourse

    model = build(segregated_dict(True))
    table = contact_enrichment(tmesim.engine.Simulation(model, seed=2), days=1.0, every_days=0.5)
    course = ContactCourse.from_table(model.cell_type_names, table)
    a = MeanField(model, contacts=table).run(days=1.0, t_eval=[0, 0.5, 1.0])
    b = MeanField(model, contacts=course).run(days=1.0, t_eval=[0, 0.5, 1.0])
    pd.testing.assert_frame_equal(a, b)
    other = ContactCourse.from_table(["cancer"], {("cancer", "cancer"): 2.0})
    with pytest.raises(ValueError, match="read for other cell types"):
        MeanField(model, contacts=other)


def test_course_is_held_at_its_last_week_mean():
    from tmesim.meanfield.solver import HOLD_DAYS, contact_course

    days = np.arange(10.0)
    vals = np.array([1.0, 0.9, 0.8, 0.2, 0.4, 0.3, 0.5, 0.2, 0.4, 0.05])  # a noisy last day
    table = pd.DataFrame({"time_days": days, "cell_type": "CD8_T_cell", "neighbour": "cancer", "enrichment": vals})
    times, contact, _ = contact_course(["cancer", "CD8_T_cell"], table)
    assert np.allclose(times / 1440, days)
    held = contact[-1, 1, 0]
    assert held == pytest.approx(vals[days > days[-1] - HOLD_DAYS].mean())
    assert np.allclose(contact[:-1, 1, 0], vals[:-1])  # earlier days as measured


def test_observed_counts_are_those_of_a_plain_run():
    """The contact run's snapshots see the same section as a plain run with the same seed, so the
    shipped comparison (benchmarks/contacts.py) needs one spatial run per preset, not two."""
    model = build(segregated_dict(True))
    seen: dict[float, dict[str, int]] = {}
    contact_enrichment(tmesim.engine.Simulation(model, seed=3), days=1.0, every_days=0.5,
                       observe=lambda s, day: seen.__setitem__(day, s.counts()))
    plain = tmesim.engine.Simulation(model, seed=3)
    plain.run(days=0.5)
    assert seen[0.5] == plain.counts()
    plain.run(days=1.0)
    assert seen[1.0] == plain.counts()
    assert sorted(seen) == [0.0, 0.5, 1.0]
