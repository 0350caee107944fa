"""The mean-field engine: agreement with the spatial engine in the well-mixed limit, sanity."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

import tmesim
from conftest import build, tnbc_dict
from tmesim.meanfield import MeanField, simulate

DAYS = 4.0
SEEDS = 4
MAIN = ["cancer", "fibroblast", "CAF", "endothelial", "CD8_T_cell"]
# Tolerance: at every half day from day 1, for each main type whose spatial mean is at
# least 10 cells, |mean-field − spatial mean| ≤ 15 % of the spatial mean + 2 standard errors
# of that mean over the seeds (the seed-to-seed spread of 4 runs on 400 sites).
REL_TOL = 0.15


def well_mixed_dict(size: int = 20) -> dict:
    """tnbc-core on size×size sites, diffusion ×100, every cell type moving 40 µm/min (12 sites
    per step) without chemotaxis (which gathers cells: a spatial effect), cells placed at random."""
    d = tnbc_dict()
    d["domain"] = {"dims": 2, "shape": [size, size], "site_size": "20 um"}
    d["time"] = {"dt": "6 min", "days": DAYS, "output_interval": "0.5 day", "checkpoint_interval": "10 day"}
    for s in d["substrates"]:
        s["diffusion"] = {"value": float(s["diffusion"]["value"]) * 100, "unit": "um^2/min"}
    for ct in d["cell_types"]:
        beh = ct.setdefault("behaviours", {})
        beh["migration speed"] = "40 um/min"
        for key in [k for k in beh if k.startswith("chemotactic")]:
            del beh[key]
    d["initial"] = [
        {"cell_type": "endothelial", "region": "everywhere", "fraction": 0.04},
        {"cell_type": "cancer", "region": "everywhere", "fraction": 0.25},
        {"cell_type": "fibroblast", "region": "everywhere", "fraction": 0.12},
        {"cell_type": "adipocyte", "region": "everywhere", "fraction": 0.05},
        {"cell_type": "M1_macrophage", "region": "everywhere", "fraction": 0.03},
        {"cell_type": "CD8_T_cell", "region": "everywhere", "fraction": 0.05},
        {"cell_type": "Treg", "region": "everywhere", "fraction": 0.02},
    ]
    return d


def spatial_curves(model: tmesim.Model, days: float, seeds: int) -> np.ndarray:
    """Live counts [seed, half-day, type] of the spatial engine."""
    out = []
    for seed in range(seeds):
        sim = tmesim.engine.Simulation(model, seed=seed)
        rows = [sim.counts()]
        for k in range(int(round(days / 0.5))):
            sim.run(days=0.5 * (k + 1))
            rows.append(sim.counts())
        out.append(pd.DataFrame(rows)[model.cell_type_names].to_numpy(float))
    return np.stack(out)


def worst_excess(mf: pd.DataFrame, spatial: np.ndarray, names: list[str]) -> tuple[float, str]:
    """Largest |mf − spatial mean| / (REL_TOL · mean + 2 SE) over main types and times ≥ day 1."""
    mean = spatial.mean(0)
    se = spatial.std(0, ddof=1) / np.sqrt(spatial.shape[0])
    worst, where = 0.0, ""
    for name in MAIN:
        i = names.index(name)
        for k, day in enumerate(mf["time_days"]):
            if day < 1.0 or mean[k, i] < 10:
                continue
            ratio = abs(mf[name].iloc[k] - mean[k, i]) / (REL_TOL * mean[k, i] + 2 * se[k, i])
            if ratio > worst:
                worst, where = ratio, f"{name} day {day}: mean-field {mf[name].iloc[k]:.1f}, spatial {mean[k, i]:.1f}"
    return worst, where


@pytest.fixture(scope="module")
def well_mixed() -> tuple[tmesim.Model, np.ndarray]:
    model = build(well_mixed_dict())
    return model, spatial_curves(model, DAYS, SEEDS)


def test_well_mixed_limit_agrees_with_spatial_engine(well_mixed) -> None:
    model, spatial = well_mixed
    t_eval = np.arange(0, DAYS + 1e-9, 0.5)
    mf = MeanField(model).run(days=DAYS, t_eval=t_eval)
    worst, where = worst_excess(mf, spatial, model.cell_type_names)
    assert worst <= 1.0, f"outside tolerance: {where}"
    # the curves are not flat: cancer grows ~3x, fibroblasts turn into CAFs
    assert mf["cancer"].iloc[-1] > 2 * mf["cancer"].iloc[0]
    assert mf["CAF"].iloc[-1] > 10


def test_well_mixed_check_can_fail(well_mixed) -> None:
    """The same check rejects a mean-field model whose tumor divides at 60 % of the rate."""
    model, spatial = well_mixed
    wrong_model = model.model_copy(deep=True)
    for r in wrong_model.rules:
        if r.cell_type == "cancer" and r.behaviour == "cycle entry" and r.direction == "increases":
            r.saturation = float(r.saturation) * 0.6
    wrong = MeanField(wrong_model).run(days=DAYS, t_eval=np.arange(0, DAYS + 1e-9, 0.5))
    worst, _ = worst_excess(wrong, spatial, model.cell_type_names)
    assert worst > 1.0


def _static_dict() -> dict:
    d = well_mixed_dict()
    d["rules"] = []
    for ct in d["cell_types"]:
        ct["behaviours"] = {k: v for k, v in ct["behaviours"].items()
                            if not k.startswith(("cycle", "apoptosis", "necrosis", "recruitment", "transform",
                                                 "attack", "intravasation"))}
    return d


def test_no_rules_no_division_counts_constant() -> None:
    model = build(_static_dict())
    df = MeanField(model).run(days=3)
    for name in model.cell_type_names:
        assert df[name].to_numpy() == pytest.approx(np.full(len(df), df[name].iloc[0]), abs=1e-9)
    # expected placement: 4 % vessels first, then 25 % of the sites left free
    assert df["cancer"].iloc[0] == pytest.approx(0.25 * (400 - 0.04 * 400), rel=1e-9)
    assert df["intravasated"].iloc[-1] == 0.0


def test_pure_decay_matches_exponential() -> None:
    d = _static_dict()
    d["initial"] = []
    d["substrates"] = [{"name": "x", "diffusion": "100 um^2/min", "decay": "0.001 1/min",
                        "boundary": "no_flux", "initial": 5.0}]
    d["cell_types"] = [{"name": "a", "vessel": True, "behaviours": {}}]
    d["state_variables"] = []
    model = build(d)
    days = np.linspace(0, 2, 9)
    df = MeanField(model, rtol=1e-8, atol=1e-10).run(days=2, t_eval=days)
    assert df["x"].to_numpy() == pytest.approx(5.0 * np.exp(-0.001 * days * 1440), rel=1e-6)


def test_far_field_relaxation() -> None:
    """A Dirichlet substrate with fast diffusion relaxes to its far-field value."""
    d = _static_dict()
    d["initial"] = []
    d["substrates"] = [{"name": "x", "diffusion": "1e6 um^2/min", "decay": "0 1/min",
                        "boundary": "dirichlet", "boundary_value": 3.0, "initial": 0.0}]
    d["cell_types"] = [{"name": "a", "vessel": True, "behaviours": {}}]
    d["state_variables"] = []
    df = MeanField(build(d)).run(days=1)
    assert df["x"].iloc[-1] == pytest.approx(3.0, rel=1e-3)


def test_default_model_plausible_and_summary_format() -> None:
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    mf = MeanField(model)
    df = mf.run()
    assert df["time_days"].iloc[-1] == pytest.approx(model.time.days)
    assert df["cancer"].iloc[-1] > df["cancer"].iloc[0]  # the tumor grows
    recruited = ["monocyte", "MDSC"]
    assert all(df[t].iloc[-1] > 1 for t in recruited)  # absent at day 0, recruited at vessels
    assert (df["intravasation_per_day"] >= 0).all() and df["intravasated"].iloc[-1] > 0
    long = mf.summary()
    assert list(long.columns[:4]) == ["time_days", "cell_type", "state", "count"]
    live = long[long.state == "live"].pivot(index="time_days", columns="cell_type", values="count")
    assert live["cancer"].to_numpy() == pytest.approx(df["cancer"].to_numpy())
    assert "mean_emt" in long.columns


def test_simulate_is_picklable_and_deterministic() -> None:
    model = build(well_mixed_dict())
    f = pickle.loads(pickle.dumps(simulate))
    a = f(model, days=1, seed=0)
    b = simulate(copy.deepcopy(model), days=1, seed=5)
    pd.testing.assert_frame_equal(a, b)


def test_extra_global_signal_drug() -> None:
    """Rules can read signals the grammar does not compute (e.g. a drug exposure C(t))."""
    from tmesim.meanfield.compile import EXTRA

    model = build(well_mixed_dict())
    rule = model.rules[0].model_copy(update={"signal": "drug X", "direction": "increases",
                                             "behaviour": "apoptosis", "saturation": 0.01,
                                             "half_max": 1.0, "hill_power": 1.0})
    model.rules.append(rule)  # bypasses validation: the grammar does not know drugs yet
    none = MeanField(model).run(days=1)
    dosed = MeanField(model, signals={"drug X": lambda t_days: 10.0 * (t_days > 0.25)}).run(days=1)
    assert MeanField(model).tables.r_kind[-1] == EXTRA or EXTRA in MeanField(model).tables.r_kind
    assert dosed["cancer"].iloc[-1] < 0.5 * none["cancer"].iloc[-1]
    with pytest.raises(ValueError, match="cannot compute"):
        bad = model.model_copy(deep=True)
        bad.rules[-1] = rule.model_copy(update={"signal": "mystery"})
        MeanField(bad)


def test_both_engines_compile_rules_through_one_compiler() -> None:
    """The spatial and mean-field tables hold the same behaviour values and rules, in the same
    (type, behaviour) groups, because both come from tmesim.model.rule_tables."""
    from tmesim.engine import compile_model
    from tmesim.meanfield import compile_meanfield
    from tmesim.model.rule_tables import compile_rules

    model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
    rt, cm, mf = compile_rules(model), compile_model(model), compile_meanfield(model)
    assert len(rt.rules) == len(model.rules) == int(cm.r_count.sum()) == len(mf.r_sat) > 0
    for name in ("base", "r_sat", "r_half", "r_hill"):
        assert np.array_equal(getattr(cm, name), getattr(rt, name)) and np.array_equal(getattr(mf, name), getattr(rt, name))
    assert np.array_equal(cm.r_up, rt.r_up) and np.array_equal(mf.r_up, rt.r_up.astype(int))
    assert np.array_equal(cm.r_start[mf.g_t, mf.g_b], mf.g_start) and np.array_equal(cm.r_count[mf.g_t, mf.g_b], mf.g_count)
    assert np.array_equal(cm.init_state[:, :len(model.state_variables)], rt.init_state.astype(np.float32))
