"""Therapies acting in the spatial engine: drug exposure as a signal, and the direction of
each tested effect on a small TNBC section (the compact ``tnbc-core`` model, SIZE×SIZE sites,
DAYS days), each arm run with the same seeds as its reference and compared with a one-sided
paired t-test, as in test_mechanisms.py.

Directions tested (the review's therapy section): anti-PD-L1 with nab-paclitaxel controls the
tumor better than nab-paclitaxel alone, more in PD-L1-high than PD-L1-negative tumors [74];
bevacizumab lowers vessel density [173, 174]; low-dose cyclophosphamide [183, 184] and
anti-CD25 [180] lower regulatory T cells.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from scipy.stats import ttest_rel

import tmesim
from conftest import build, small_dict
from tmesim.model.pk import drug_exposures
from tmesim.model.rules_csv import read_rules_csv
from tmesim.therapy import apply_therapies

SIZE = 40
DAYS = 2.0
SEEDS = (1, 2, 3, 4)
ALPHA = 0.05
_W = SIZE * 20
# A tumor nest with stroma, vessels and a T-cell-rich rim (µm; the domain is SIZE*20 µm wide).
LAYOUT: list[dict[str, Any]] = [
    {"cell_type": "endothelial", "region": "everywhere", "density": 60},
    {"cell_type": "cancer", "region": "disc", "radius": 0.3 * _W, "fraction": 0.6},
    {"cell_type": "fibroblast", "region": "everywhere", "fraction": 0.15},
    {"cell_type": "CAF", "region": "annulus", "radius": 0.42 * _W, "inner_radius": 0.3 * _W, "fraction": 0.08},
    {"cell_type": "M2_macrophage", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.2 * _W, "fraction": 0.04},
    {"cell_type": "M1_macrophage", "region": "everywhere", "fraction": 0.03},
    {"cell_type": "MDSC", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.2 * _W, "fraction": 0.02},
    {"cell_type": "CD8_T_cell", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.15 * _W, "fraction": 0.15},
    {"cell_type": "Treg", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.2 * _W, "fraction": 0.05},
]


def base() -> dict[str, Any]:
    d = small_dict(size=SIZE, days=DAYS)
    d["initial"] = copy.deepcopy(LAYOUT)
    return d


def pdl1(level: float, adaptive: bool) -> dict[str, Any]:
    """PD-L1-high (0.6, IFN-γ-inducible) or PD-L1-negative (0, not inducible) tumor cells."""
    d = base()
    for ct in d["cell_types"]:
        if ct["name"] == "cancer":
            ct["initial_state"]["pdl1"] = level
    if not adaptive:
        d["rules"] = [r for r in read_rules_csv(d["rules"]) if r["behaviour"] != "pdl1 increase"]
    return d


def treated(d: dict[str, Any], *names: str) -> dict[str, Any]:
    d = copy.deepcopy(d)
    d["therapies"] = [{"name": n} for n in names]
    return d


def with_partial_chemo(d: dict[str, Any]) -> dict[str, Any]:
    """nab-paclitaxel at 45 mg instead of 170: the catalog's taxane kills most tumor cells of this
    small nest within the 2 days at the full dose, which would leave no room to see the
    antibody's extra benefit (a partial kill, as the full dose gives in a protected tumor)."""
    for t in d["therapies"]:
        if "nab-paclitaxel" in t["name"]:
            t["overrides"] = {"nab-paclitaxel": {"dose": "45 mg"}}
    return d


ARMS = {
    "control": lambda: base(),
    "bevacizumab": lambda: treated(base(), "bevacizumab"),
    "cyclophosphamide": lambda: treated(base(), "low-dose-cyclophosphamide"),
    "anti_CD25": lambda: treated(base(), "anti-CD25"),
    "pdl1_high_chemo": lambda: with_partial_chemo(treated(pdl1(0.6, True), "nab-paclitaxel")),
    "pdl1_high_atezo": lambda: with_partial_chemo(treated(pdl1(0.6, True), "atezolizumab+nab-paclitaxel")),
    "pdl1_neg_chemo": lambda: with_partial_chemo(treated(pdl1(0.0, False), "nab-paclitaxel")),
    "pdl1_neg_atezo": lambda: with_partial_chemo(treated(pdl1(0.0, False), "atezolizumab+nab-paclitaxel")),
}
_CACHE: dict[str, dict[str, np.ndarray]] = {}


def arm(name: str) -> dict[str, np.ndarray]:
    if name not in _CACHE:
        model = build(ARMS[name]())
        rows = []
        for s in SEEDS:
            c = tmesim.engine.Simulation(model, seed=s).run(days=DAYS).counts()
            rows.append({"cancer": c["cancer"], "Treg": c["Treg"],
                         "vessel_density": c["endothelial"] / (_W / 1000.0) ** 2})  # per mm²
        _CACHE[name] = {k: np.array([r[k] for r in rows], float) for k in rows[0]}
    return _CACHE[name]


def paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided paired t-test that a < b (same seeds: the same initial tissue)."""
    d = a - b
    if np.allclose(d, d[0]):
        return 0.0 if d[0] < 0 else 1.0
    return float(ttest_rel(a, b, alternative="less").pvalue)


def lower(a: np.ndarray, b: np.ndarray, what: str) -> None:
    p = paired_p(a, b)
    assert p < ALPHA, f"{what}: {a.tolist()} not lower than {b.tolist()} (paired t p={p:.3f})"


# ------------------------------------------------------------------ direction tests
def test_anti_pdl1_benefit_is_larger_in_pdl1_high_tumors() -> None:
    """Atezolizumab + nab-paclitaxel vs nab-paclitaxel (IMpassion130, review:74): the benefit
    (fewer cancer cells than chemotherapy alone) is larger in PD-L1-high than PD-L1-negative tumors."""
    high = arm("pdl1_high_chemo")["cancer"] - arm("pdl1_high_atezo")["cancer"]
    neg = arm("pdl1_neg_chemo")["cancer"] - arm("pdl1_neg_atezo")["cancer"]
    lower(arm("pdl1_high_atezo")["cancer"], arm("pdl1_high_chemo")["cancer"], "cancer cells, PD-L1-high")
    lower(neg, high, "benefit (PD-L1-negative vs PD-L1-high)")
    assert np.all(neg == 0)  # nothing for the antibody to block: the runs are identical


def test_bevacizumab_lowers_vessel_density() -> None:
    lower(arm("bevacizumab")["vessel_density"], arm("control")["vessel_density"], "vessels per mm²")


def test_low_dose_cyclophosphamide_lowers_tregs() -> None:
    lower(arm("cyclophosphamide")["Treg"], arm("control")["Treg"], "Tregs")


def test_anti_cd25_lowers_tregs() -> None:
    lower(arm("anti_CD25")["Treg"], arm("control")["Treg"], "Tregs")


# --------------------------------------------------------------- engine mechanics
def test_simulation_feeds_the_pk_exposure_to_the_rules(small_model) -> None:
    m = apply_therapies(small_model, ["atezolizumab+nab-paclitaxel@hour=3"])
    sim = tmesim.engine.Simulation(m, seed=1)
    cm = sim.cm
    # atezolizumab on tumor cells; nab-paclitaxel on tumor cells (apoptosis, resistance) and on endothelium
    assert cm.drug_names == ["atezolizumab", "nab-paclitaxel"] and len(cm.drug_rows) == 4
    i = int(np.flatnonzero(sim.ctype[: sim.n] == cm.type_names.index("cancer"))[0])
    assert sim.behaviour_value(i, "pdl1 decrease") == pytest.approx(2e-4)  # before the first dose
    sim.run(days=4 / 24)
    assert sim.drug_exposures() == pytest.approx(dict(zip(cm.drug_names, drug_exposures(m, sim.time), strict=True)))
    c = drug_exposures(m, sim.time)[0]
    h = c / (1.0 + c)  # half-max 1 µg/mL, Hill power 1
    live = np.flatnonzero((sim.ctype[: sim.n] == cm.type_names.index("cancer")) & (sim.dead[: sim.n] == 0))
    assert sim.behaviour_value(int(live[0]), "pdl1 decrease") == pytest.approx(2e-4 + h * (0.01 - 2e-4))


def test_therapy_starting_later_leaves_earlier_steps_identical(small_model) -> None:
    m = apply_therapies(small_model, ["low-dose-cyclophosphamide@day=0.25"])
    a = tmesim.engine.Simulation(small_model, seed=2).run(days=0.25)
    b = tmesim.engine.Simulation(m, seed=2).run(days=0.25)
    assert all(np.array_equal(x, y) for x, y in zip(a.cells().values(), b.cells().values(), strict=True))
    a.run(days=0.5)
    b.run(days=0.5)
    assert a.count("Treg") >= b.count("Treg")


def test_checkpoint_resume_with_drugs_is_identical(small_model) -> None:
    m = apply_therapies(small_model, ["atezolizumab+nab-paclitaxel@hour=2"])
    straight = tmesim.engine.Simulation(m, seed=5).run(days=0.5)
    first = tmesim.engine.Simulation(m, seed=5).run(days=0.2)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in first.get_state().items()}
    resumed = tmesim.engine.Simulation(m, seed=5)
    resumed.set_state(state)
    resumed.run(days=0.5)
    sig = [np.asarray(v).tobytes() for v in straight.cells().values()] + [straight.fields.tobytes()]
    assert sig == [np.asarray(v).tobytes() for v in resumed.cells().values()] + [resumed.fields.tobytes()]
