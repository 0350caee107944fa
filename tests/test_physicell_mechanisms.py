"""PhysiCell behaviours the lattice engine gained, shown by in-silico experiments over seeds:
damage delivered by attacks drives apoptosis through a 'damage' rule (and repair blunts it),
phagocytes clear corpses, and 'contact with dead cell' reaches the cells that touch them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

import tmesim
from tmesim.api import import_physicell
from tmesim.engine.kernels import E_APOPTOSIS, E_PHAGOCYTOSIS

SETTINGS = Path(__file__).parent / "data" / "physicell_sample" / "config" / "PhysiCell_settings.xml"
SEEDS = range(6)
BASE = import_physicell(SETTINGS)[0].model_dump(mode="json")


def _model(edit) -> tmesim.Model:  # noqa: ANN001
    import copy

    d = copy.deepcopy(BASE)
    edit({c["name"]: c["behaviours"] for c in d["cell_types"]}, d)
    return tmesim.model_from_dict(d)


def _events(model: tmesim.Model, seed: int, steps: int) -> dict[int, int]:
    sim = tmesim.engine.Simulation(model, seed=seed)
    for _ in range(steps):
        sim.step()
    kinds, counts = np.unique(sim.take_events()["kind"], return_counts=True)
    return dict(zip(kinds.tolist(), counts.tolist(), strict=True)), sim


def test_damage_from_attacks_drives_apoptosis_and_repair_blunts_it():
    def fast_repair(b, d):  # noqa: ANN001
        b["tumor cell"]["damage repair rate"] = 1.0  # 1/min: damage is gone within minutes

    slow = [_events(_model(lambda b, d: None), s, 120)[0].get(E_APOPTOSIS, 0) for s in SEEDS]
    fast = [_events(_model(fast_repair), s, 120)[0].get(E_APOPTOSIS, 0) for s in SEEDS]
    assert np.mean(slow) > 1.3 * np.mean(fast)  # measured: 21.7 vs 12.3 apoptoses in 12 h (6 seeds)
    assert wilcoxon(slow, fast, alternative="greater").pvalue < 0.05


def test_phagocytes_clear_corpses():
    def dying(b, d):  # noqa: ANN001
        b["tumor cell"]["apoptosis"] = 0.004  # 1/min: corpses appear throughout

    def no_eating(b, d):  # noqa: ANN001
        dying(b, d)
        b["macrophage"].pop("phagocytose apoptotic cell")
        b["macrophage"].pop("phagocytose necrotic cell")

    def corpses(model, seed):  # noqa: ANN001, ANN202
        ev, sim = _events(model, seed, 120)
        return int((sim.dead[: sim.n] != 0).sum()), ev.get(E_PHAGOCYTOSIS, 0)

    eat = [corpses(_model(dying), s) for s in SEEDS]
    keep = [corpses(_model(no_eating), s) for s in SEEDS]
    assert all(n > 0 for _, n in eat) and all(n == 0 for _, n in keep)
    assert wilcoxon([c for c, _ in keep], [c for c, _ in eat], alternative="greater").pvalue < 0.05


def test_contact_with_dead_cell_signal():
    # custom:sample of tumour cells reads 'contact with dead cell' through one rule (Hill power 1,
    # half-max 1, saturation 9): one dead neighbour of eight gives s = 1/8 and a value of exactly 1.
    def probe(b, d):  # noqa: ANN001
        b["tumor cell"]["custom:sample"] = 0.0
        b["macrophage"].pop("phagocytose apoptotic cell")
        d["rules"] = [r for r in d["rules"] if r["behaviour"] != "custom:sample"] + [{
            "cell_type": "tumor cell", "signal": "contact with dead cell", "direction": "increases",
            "behaviour": "custom:sample", "saturation": 9.0, "half_max": 1.0, "hill_power": 1.0,
            "source": "assumption: probe of the signal in a test"}]

    model = _model(probe)
    sim = tmesim.engine.Simulation(model, seed=0)
    tumor = model.cell_type_names.index("tumor cell")
    n = sim.n
    xs, ys = sim.cx[:n].astype(int), sim.cy[:n].astype(int)
    for i in np.flatnonzero(sim.ctype[:n] == tumor):
        nb = np.flatnonzero((np.abs(xs - xs[i]) <= 1) & (np.abs(ys - ys[i]) <= 1) & (np.arange(n) != i))
        if len(nb) >= 2:
            break
    sim.dead[nb[0]] = 1  # one apoptotic neighbour; the others alive
    uid = int(sim.uid[i])
    sim.step()
    cells = sim.cells()
    k = int(np.flatnonzero(cells["uid"] == uid)[0])
    assert cells["custom:sample"][k] == np.float32(1.0)
