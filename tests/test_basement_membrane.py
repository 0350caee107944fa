"""The basement membrane around a duct (preset ``dcis``, ``model.barrier``): tumor cells stay
in situ while it is intact and invade where MMPs degrade it; T cells stay in the periductal
stroma while it holds."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

import tmesim
from conftest import build, preset_dict
from tmesim.engine import kernels as K
from tmesim.model.rules_csv import read_rules_csv

SEEDS = range(4)
SHRINK = 100.0  # µm taken off every radius of the shipped layout: a 150 µm duct on 0.6 mm
DUCT, BAND = 250.0 - SHRINK, 290.0 - SHRINK  # the duct's radius and the membrane's outer radius


def dcis_dict(size: int = 30, days: float = 3.0) -> dict:
    """The ``dcis`` preset on size×size sites: every radius 100 µm smaller (the membrane band
    keeps its 40 µm width), the fat pad along the top edge, rules read so tests can edit them."""
    d = preset_dict("dcis")
    d["domain"] = {"dims": 2, "shape": [size, size], "site_size": "20 um"}
    d["time"] = {"dt": "6 min", "days": days, "output_interval": "1 day", "checkpoint_interval": "1 day"}
    for p in d["initial"] + [r for s in d["substrates"] for r in s.get("initial_regions", []) or []]:
        for key in ("radius", "inner_radius"):
            if key in p:
                p[key] = p[key] - SHRINK
        if p.get("region") == "box":
            p["low"], p["high"] = [0, size * 20 - 100], [size * 20, size * 20]
    d["rules"] = read_rules_csv(Path(d["rules"])) + sum((read_rules_csv(Path(p)) for p in d.pop("rules_add", [])), [])
    return d


def invasive(d: dict) -> dict:
    """The invasive switch on: the duct's tumor cells start mesenchymal (EMT 0.9), so they make MMPs."""
    d = copy.deepcopy(d)
    for p in d["initial"]:
        if p["cell_type"] == "cancer":
            p["state"] = {"emt": 0.9}
    return d


def mmp_blocked(d: dict) -> dict:
    """A broad-spectrum MMP inhibitor: no cell makes active MMP."""
    d = copy.deepcopy(d)
    for ct in d["cell_types"]:
        if "mmp secretion" in (ct.get("behaviours") or {}):
            ct["behaviours"]["mmp secretion"] = 0.0
    d["rules"] = [r for r in d["rules"] if r["behaviour"] != "mmp secretion"]
    return d


def no_membrane(d: dict) -> dict:
    d = copy.deepcopy(d)
    d["barrier"] = None
    return d


def radii(sim: tmesim.engine.Simulation, role_type: str) -> np.ndarray:
    cm, n = sim.cm, sim.n
    sel = (sim.ctype[:n] == cm.type_names.index(role_type)) & (sim.dead[:n] == K.ALIVE)
    c = cm.grid[2] * cm.dx / 2
    return np.hypot((sim.cx[:n][sel] + 0.5) * cm.dx - c, (sim.cy[:n][sel] + 0.5) * cm.dx - c)


def run(d: dict, seed: int, days: float | None = None) -> tmesim.engine.Simulation:
    return tmesim.engine.Simulation(build(d), seed=seed).run(days=days)


def test_barrier_is_validated() -> None:
    d = dcis_dict()
    d["barrier"] = {"substrate": "laminin", "threshold": 0.5}
    with pytest.raises(tmesim.errors.ModelError, match="barrier.substrate"):
        build(d)


def test_tumor_cells_invade_only_where_mmps_degrade_the_membrane() -> None:
    """Mesenchymal tumor cells breach the membrane with MMPs and not under an MMP inhibitor; T
    cells stay outside an intact membrane and enter the duct when there is none."""
    base = invasive(dcis_dict())
    escaped, held, t_intact, t_open = [], [], [], []
    for s in SEEDS:
        sim = run(base, s)
        escaped.append(int((radii(sim, "cancer") > BAND).sum()))
        blocked = run(mmp_blocked(base), s)
        held.append(int((radii(blocked, "cancer") > BAND).sum()))
        t_intact.append(int((radii(blocked, "CD8_T_cell") < DUCT).sum()))
        t_open.append(int((radii(run(no_membrane(mmp_blocked(base)), s, days=1.0), "CD8_T_cell") < DUCT).sum()))
    print(f"day 3, tumor cells outside the membrane: MMPs {escaped}, MMP inhibitor {held}; "
          f"CD8 T cells in the duct: intact membrane {t_intact} (day 3), no membrane {t_open} (day 1)")
    assert held == [0] * len(SEEDS)  # an intact membrane holds every tumor cell
    assert t_intact == [0] * len(SEEDS)
    assert mannwhitneyu(escaped, held, alternative="greater").pvalue < 0.05
    assert mannwhitneyu(t_open, t_intact, alternative="greater").pvalue < 0.05


@pytest.mark.slow
def test_shipped_dcis_stays_in_situ_then_invades_unless_mmps_are_blocked() -> None:
    """The shipped preset at its own geometry (1.2 mm, 250 µm duct), seeds 0-2: in situ at day
    4, invasive at day 7 (membrane opened by CAF and EMT-driven MMPs); none invade under an
    MMP inhibitor."""
    d = preset_dict("dcis")
    d["rules"] = read_rules_csv(Path(d["rules"])) + sum((read_rules_csv(Path(p)) for p in d.pop("rules_add", [])), [])
    band = 290.0
    day4, day7, held = [], [], []
    for s in range(3):
        sim = tmesim.engine.Simulation(build(d), seed=s)
        day4.append(int((radii(sim.run(days=4.0), "cancer") > band).sum()))
        day7.append(int((radii(sim.run(days=7.0), "cancer") > band).sum()))
        held.append(int((radii(run(mmp_blocked(d), s, days=7.0), "cancer") > band).sum()))
    print(f"tumor cells outside the membrane: day 4 {day4}, day 7 {day7}, day 7 with an MMP inhibitor {held}")
    assert day4 == [0, 0, 0]
    assert held == [0, 0, 0]
    assert min(day7) > 50
