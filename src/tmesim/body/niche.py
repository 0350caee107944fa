"""Organ niches: where disseminated cells arrive, simulated by the spatial engine.

Each organ names a niche model (``niche-bone``, ``niche-lung``, ``niche-liver``,
``niche-brain``): a small lattice of the organ's resident cells and signals with a few newly
arrived, mesenchymal cancer cells. Running it says whether and how fast a colony grows in that
soil once its cells have re-epithelialised (MET): the net specific growth rate of the cancer
cells over the run. The body model uses that rate for every colony founded in the organ.

Why spatially: colonisation is decided by a handful of cells and their contacts with resident
cells (hepatocyte contact inducing E-cadherin, astrocyte gap junctions, osteoclasts releasing
TGF-β from bone), which a well-mixed description cannot represent. The niche is run once per
(niche model, intervention, seed) and cached, because it does not depend on the patient's
dissemination history.

The outcome also records the niche's signals at the end of the run (mean substrate
concentrations and each resident cell type's share of cells): what keeps disseminated cells
dormant there or wakes them (:class:`tmesim.model.body.Dormancy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from tmesim.engine import Simulation
from tmesim.model import Model, ModelError, load_model, model_from_dict
from tmesim.model.roles import Role
from tmesim.presets import available, preset_path

INTERVENTIONS = ("tgfb_block", "met_block")


@dataclass(frozen=True)
class NicheOutcome:
    """What one niche run shows: cancer cells at start and end and the growth rate they imply."""

    organ: str
    niche: str
    initial: int
    middle: int
    final: int
    days: float
    epithelial_fraction: float
    engine: str = "spatial"
    signals: dict[str, float] = field(default_factory=dict)  # substrate:<name> mean, cells:<type> share

    @property
    def growth_rate(self) -> float:
        """Net specific growth rate of the cancer cells over the second half of the run (1/day):
        the outgrowth of cells that have gone through MET, which takes the first days. An
        extinct colony counts as half a cell."""
        return float(np.log(max(self.final, 0.5) / max(self.middle, 1)) / (0.5 * self.days))


def intervene(model: Model, interventions: tuple[str, ...]) -> Model:
    """The niche model with interventions applied (the model itself stays unchanged).

    ``tgfb_block``: TGF-β pathway blockade (review:121, 122) — no cell secretes or exports
    TGF-β and no rule responds to it. ``met_block``: cancer cells cannot re-epithelialise
    (no ``emt decrease``), the experiment showing MET is needed for outgrowth (review:88-91).
    """
    bad = [i for i in interventions if i not in INTERVENTIONS]
    if bad:
        raise ModelError("interventions", f"unknown intervention(s) {bad}; allowed: {', '.join(INTERVENTIONS)}")
    if not interventions:
        return model
    data = model.model_dump(mode="json")
    if "tgfb_block" in interventions and "tgfb" in model.substrate_names:
        for ct in data["cell_types"]:
            for key in list(ct["behaviours"]):
                if key in ("tgfb secretion", "tgfb export"):
                    ct["behaviours"][key] = 0.0
        data["rules"] = [r for r in data["rules"] if r["signal"] != "tgfb"
                         and r["behaviour"] not in ("tgfb secretion", "tgfb export")]
    if "met_block" in interventions:
        tumor = set(model.types_with_role(Role.CANCER))
        for ct in data["cell_types"]:
            if ct["name"] in tumor and "emt decrease" in ct["behaviours"]:
                ct["behaviours"]["emt decrease"] = 0.0
        data["rules"] = [r for r in data["rules"] if not (r["cell_type"] in tumor and r["behaviour"] == "emt decrease")]
    return model_from_dict(data)


def niche_model(name: str) -> Model:
    if name not in available():
        raise ModelError("body.organs.niche", f"unknown niche model {name!r}; shipped presets: {', '.join(available())}")
    return load_model(preset_path(name))


@lru_cache(maxsize=64)
def run_niche(organ: str, niche: str, days: float, seed: int = 0,
              interventions: tuple[str, ...] = ()) -> NicheOutcome:
    """Simulate one organ niche spatially and summarise the colony's fate."""
    model = intervene(niche_model(niche), tuple(sorted(interventions)))
    return _simulate_niche(model, organ, niche, days, seed)


def _simulate_niche(model: Model, organ: str, niche: str, days: float, seed: int) -> NicheOutcome:
    tumor = model.types_with_role(Role.CANCER)
    if not tumor:
        raise ModelError(f"presets/{niche}", "a niche model needs a cell type with role 'cancer' (the arriving cells)")
    sim = Simulation(model, seed=seed)

    def count() -> int:
        return sum(sim.count(t) for t in tumor)

    initial = count()
    sim.run(days=0.5 * days)
    middle = count()
    sim.run(days=days)  # runs until this simulated time
    cells = sim.cells()
    live = np.isin(cells["type"], [model.cell_type_names.index(t) for t in tumor]) & (cells["dead"] == 0)
    epi = float(np.mean(cells["emt"][live] < 1 / 3)) if live.any() and "emt" in cells else 0.0
    alive = cells["dead"] == 0
    n_alive = max(int(alive.sum()), 1)
    signals = {f"substrate:{s}": float(sim.fields[k].mean()) for k, s in enumerate(model.substrate_names)}
    signals |= {f"cells:{t}": float(np.count_nonzero(alive & (cells["type"] == k))) / n_alive
                for k, t in enumerate(model.cell_type_names)}
    return NicheOutcome(organ, niche, int(initial), int(middle), int(live.sum()), float(days), epi, signals=signals)


__all__ = ["INTERVENTIONS", "NicheOutcome", "intervene", "niche_model", "run_niche"]
