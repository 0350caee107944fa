"""Immune infiltration and the matrix: exchange of places, CXCL9/10 chemotaxis and adhesion,
LOX cross-linking, and the three immune archetypes (Keren et al. 2018)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, ttest_rel

import tmesim
from conftest import build, catalog_small, preset_dict
from tmesim.engine import kernels as K
from tmesim.model.rules_csv import read_rules_csv
from tmesim.readouts.architecture import architecture
from tmesim.readouts.tissue import simulated_section

SEEDS = range(5)


def immune_dict(size: int = 60, days: float = 1.0, preset: str = "tnbc-immune") -> dict:
    """A preset on a small lattice: layout scaled, field regions keep their width (a capsule
    thinner than a few sites would not be one), rules read so that tests can edit them."""
    d = catalog_small(size, days, preset)
    scale = size * 20 / 3200
    for sub in d.get("substrates", []):
        for r in sub.get("initial_regions", []) or []:
            width = r["radius"] - r["inner_radius"]
            r["inner_radius"] *= scale
            r["radius"] = r["inner_radius"] + width
    d["rules"] = read_rules_csv(Path(d["rules"])) + sum((read_rules_csv(Path(p)) for p in d.pop("rules_add", [])), [])
    return d


def set_behaviour(d: dict, cell_type: str, name: str, value: float) -> None:
    for ct in d["cell_types"]:
        if ct["name"] == cell_type:
            ct.setdefault("behaviours", {})[name] = value
            return
    raise KeyError(cell_type)


def drop_rules(d: dict, keep) -> None:  # noqa: ANN001 - keep: rule dict -> bool
    d["rules"] = [r for r in d["rules"] if keep(r)]


def no_initial(d: dict, cell_type: str) -> None:
    d["initial"] = [p for p in d["initial"] if p["cell_type"] != cell_type]


def t_cells_in_stroma_ring(d: dict, size: int = 60) -> None:
    """CD8 T cells start in a ring of stroma just outside the (scaled) nest, none inside it."""
    nest = 450 * size * 20 / 3200
    no_initial(d, "CD8_T_cell")
    d["initial"].append({"cell_type": "CD8_T_cell", "region": "annulus", "radius": nest + 140,
                         "inner_radius": nest + 30, "fraction": 0.1, "source": "assumption: test layout"})


def cd8_in_nest(sim: tmesim.engine.Simulation) -> int:
    """CD8 T cells inside the (scaled) starting nest: closer to the centre than 80 % of its radius."""
    cm = sim.cm
    nest = 450 * cm.grid[2] * 20 / 3200
    n = sim.n
    sel = (sim.ctype[:n] == cm.type_names.index("CD8_T_cell")) & (sim.dead[:n] == K.ALIVE)
    c = cm.grid[2] * cm.dx / 2
    r = np.hypot((sim.cx[:n][sel] + 0.5) * cm.dx - c, (sim.cy[:n][sel] + 0.5) * cm.dx - c)
    return int((r < 0.8 * nest).sum())


def run_arm(d: dict, seed: int, days: float | None = None) -> tmesim.engine.Simulation:
    return tmesim.engine.Simulation(build(d), seed=seed).run(days=days)


def test_exchange_keeps_one_cell_per_site_and_is_reproducible() -> None:
    d = immune_dict(size=32, days=0.5)
    a, b = run_arm(d, 3), run_arm(d, 3)
    assert a.n_exchanges > 0
    n = a.n
    sites = (a.cy[:n].astype(np.int64) * a.cm.grid[2] + a.cx[:n])[a.dead[:n] != K.GONE]
    assert len(np.unique(sites)) == len(sites)
    assert np.all(a.occ[sites] >= 0)
    assert a.n_exchanges == b.n_exchanges
    for k in ("uid", "type", "x", "y"):
        assert np.array_equal(a.cells()[k], b.cells()[k])


def _anti_cxcl9(d: dict) -> dict:
    blocked = copy.deepcopy(d)  # anti-CXCL9/10: no CXCR3 ligand is made
    for ct in ("cancer", "M1_macrophage"):
        set_behaviour(blocked, ct, "cxcl9 secretion", 0.0)
    drop_rules(blocked, lambda r: r["behaviour"] != "cxcl9 secretion")
    return blocked


def test_t_cells_infiltrate_nests_with_chemokines_not_when_cxcl9_is_blocked() -> None:
    """T cells start in the stroma around the nest; CXCL9/10 (with CCL5) draws them in."""
    base = immune_dict()
    t_cells_in_stroma_ring(base)
    no_chemokines = _anti_cxcl9(base)
    set_behaviour(no_chemokines, "cancer", "ccl5 secretion", 0.0)
    full = [cd8_in_nest(run_arm(base, s)) for s in SEEDS]
    anti = [cd8_in_nest(run_arm(_anti_cxcl9(base), s)) for s in SEEDS]
    none = [cd8_in_nest(run_arm(no_chemokines, s)) for s in SEEDS]
    print(f"CD8 T cells in the nest, day 1: chemokines {full}, anti-CXCL9/10 {anti}, anti-CXCL9/10 and CCL5 {none}")
    # same seeds, paired: the arms differ only in the chemokines
    assert ttest_rel(full, anti, alternative="greater").pvalue < 0.05
    assert mannwhitneyu(full, none, alternative="greater").pvalue < 0.05
    assert np.mean(none) < 0.5 * np.mean(full)


def _entered(d: dict, seed: int) -> int:
    sim = run_arm(d, seed)
    ev = sim.take_events()
    return int(((ev["kind"] == K.E_RECRUITMENT) & (ev["ctype"] == sim.cm.type_names.index("CD8_T_cell"))).sum())


def _no_adhesion(d: dict) -> dict:
    blocked = copy.deepcopy(d)  # anti-integrin/ICAM: no lymphocyte arrest on the endothelium
    set_behaviour(blocked, "CD8_T_cell", "recruitment", 0.0)
    drop_rules(blocked, lambda r: not (r["cell_type"] == "CD8_T_cell" and r["behaviour"] == "recruitment"))
    return blocked


def test_blood_borne_t_cells_infiltrate_with_chemokines_not_without_adhesion_or_cxcl9() -> None:
    """No T cell in the section at the start: every one in the nest at day 1 came through a
    vessel. CXCL9/10 (inflamed level of tnbc-mixed) raises entry and draws them in; blocking
    it lowers infiltration, blocking adhesion abolishes it (40×40 sites, seeds 0-5, paired)."""
    base = immune_dict(size=40)
    no_initial(base, "CD8_T_cell")
    set_behaviour(base, "cancer", "cxcl9 secretion", 0.01)
    full = [cd8_in_nest(run_arm(base, s)) for s in range(6)]
    anti = [cd8_in_nest(run_arm(_anti_cxcl9(base), s)) for s in range(6)]
    none = [cd8_in_nest(run_arm(_no_adhesion(base), s)) for s in range(3)]
    print(f"CD8 T cells in the nest at day 1, all from vessels: chemokines {full}, anti-CXCL9/10 {anti}, "
          f"no adhesion {none}")
    assert ttest_rel(full, anti, alternative="greater").pvalue < 0.05
    assert none == [0, 0, 0] and min(full) > 0


def test_lymphocytes_enter_only_through_perfused_vessels() -> None:
    """Each recruited cell sits next to a vessel that carried blood in the step it entered;
    vessels squeezed shut (a low collapse threshold shuts any vessel touching a cell) admit none."""
    d = immune_dict(size=32)
    d["perfusion"] = dict(d["perfusion"], collapse_occupancy=0.01)
    set_behaviour(d, "CD8_T_cell", "recruitment", 5.0e-3)  # test: many entries per vessel
    sim = tmesim.engine.Simulation(build(d), seed=1)
    nx = sim.cm.grid[2]
    offs = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    entered, shut_steps = 0, 0
    for _ in range(sim.steps_for(1440)):
        sim.step()
        perf = sim.perfusion
        n = sim.n
        vessel = (sim.dead[:n] == K.ALIVE) & sim.cm.is_vessel[sim.ctype[:n]]
        shut_steps += int((perf[sim.cy[:n][vessel] * nx + sim.cx[:n][vessel]] == 0).any())
        ev = sim.take_events()
        for x, y in zip(ev["x"][ev["kind"] == K.E_RECRUITMENT], ev["y"][ev["kind"] == K.E_RECRUITMENT], strict=True):
            entered += 1
            near = [perf[(y + dy) * nx + x + dx] for dx, dy in offs
                    if 0 <= x + dx < nx and 0 <= y + dy < sim.cm.grid[1]]
            assert max(near) == 1.0
    print(f"entered {entered}; steps with a shut vessel {shut_steps}")
    assert entered > 20 and shut_steps > 0


@pytest.mark.slow
def test_extravasation_needs_adhesion_and_is_raised_by_cxcl9() -> None:
    """CD8 T cells entering through vessels in a day: none without adhesion, fewer without CXCL9/10."""
    base = immune_dict()
    t_cells_in_stroma_ring(base)  # their IFN-gamma induces CXCL9/10
    set_behaviour(base, "CD8_T_cell", "recruitment", 2.0e-5)
    no_adhesion = _no_adhesion(base)
    full = [_entered(base, s) for s in SEEDS]
    anti = [_entered(_anti_cxcl9(base), s) for s in SEEDS]
    none = [_entered(no_adhesion, s) for s in SEEDS]
    print(f"CD8 T cells entering in a day: {full}; anti-CXCL9/10 {anti}; no adhesion {none}")
    assert all(v == 0 for v in none) and min(full) > 0
    assert ttest_rel(full, anti, alternative="greater").pvalue < 0.05


@pytest.mark.slow
def test_collagen_cross_linking_lowers_infiltration() -> None:
    """LOX cross-linked matrix around the nest (with its cross-linking) vs LOX blocked (BAPN)."""
    base = immune_dict()
    t_cells_in_stroma_ring(base)
    for sub in base["substrates"]:
        if sub["name"] == "crosslink":
            sub["initial"] = 0.8
    bapn = copy.deepcopy(base)
    for sub in bapn["substrates"]:
        if sub["name"] == "crosslink":
            sub["initial"] = 0.0
    for ct in ("cancer", "CAF_S100A4", "CAF_PDPN"):
        set_behaviour(bapn, ct, "lox secretion", 0.0)
    drop_rules(bapn, lambda r: r["behaviour"] != "lox secretion")
    lox = [cd8_in_nest(run_arm(base, s)) for s in SEEDS]
    no_lox = [cd8_in_nest(run_arm(bapn, s)) for s in SEEDS]
    print(f"CD8 T cells in the nest, day 1: cross-linked {lox}, LOX blocked {no_lox}")
    assert ttest_rel(no_lox, lox, alternative="greater").pvalue < 0.05


def cropped_dict(preset: str, size: int = 90, days: float = 2.0) -> dict:
    """A preset at its own geometry (nest, rims and bands keep their µm) on a smaller, centred
    domain: scaling the layout would put the T-cell band inside the capsule and the CAF rim."""
    d = preset_dict(preset)
    d["domain"] = {"dims": 2, "shape": [size, size], "site_size": "20 um"}
    d["time"] = {"dt": "6 min", "days": days, "output_interval": "0.5 day", "checkpoint_interval": "0.5 day"}
    shift = (3200 - size * 20) / 2
    keep = []
    for p in d["initial"]:
        if p.get("region") == "box":
            p["low"] = [max(0.0, v - shift) for v in p["low"]]
            p["high"] = [min(size * 20.0, v - shift) for v in p["high"]]
            if any(h <= lo for lo, h in zip(p["low"], p["high"], strict=True)):
                continue
        keep.append(p)
    d["initial"] = keep
    d["rules"] = read_rules_csv(Path(d["rules"])) + sum((read_rules_csv(Path(p)) for p in d.pop("rules_add", [])), [])
    return d


def section_architecture(sim: tmesim.engine.Simulation) -> pd.Series:
    c = sim.cells()
    names = np.array(sim.cm.type_names)
    cells = pd.DataFrame({"cell_type": names[c["type"]], "status": np.where(c["dead"] == 0, "live", "dead"),
                          "x_um": (c["x"] + 0.5) * sim.cm.dx, "y_um": (c["y"] + 0.5) * sim.cm.dx})
    vessels = {ct.name for ct in sim.model.cell_types if ct.vessel}
    return architecture(simulated_section(cells, {ct.name: ct.role for ct in sim.model.cell_types}, vessels))


@pytest.mark.slow
def test_archetype_presets_read_as_their_archetype() -> None:
    """Each archetype preset reads as its own archetype at day 2 in every seed (1.8 mm domain,
    the presets' own geometry, seeds 0-2; ~2 min)."""
    res = {p: [section_architecture(run_arm(cropped_dict(f"tnbc-{p}"), s)) for s in range(3)]
           for p in ("cold", "mixed", "compartmentalized")}
    for p, rows in res.items():
        print(p, [(r["archetype"], round(float(r["mixing_score"]), 2), round(float(r["immune_share_window"]), 3),
                   round(float(r["t_to_tumor_median_um"]), 1)) for r in rows])
    for p, rows in res.items():
        assert [r["archetype"] for r in rows] == [p] * 3
    for m, c in zip(res["mixed"], res["compartmentalized"], strict=True):
        assert float(c["mixing_score"]) < float(m["mixing_score"])
        assert float(c["t_to_tumor_median_um"]) > float(m["t_to_tumor_median_um"])
