"""Population summaries of a simulation state (counts per type and state, tissue metrics).

Pure functions of the engine state; the run directory writer stores what they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tmesim.units import MINUTES_PER_DAY

from . import kernels as K

if TYPE_CHECKING:
    from .simulation import Simulation

# EMT score bands (assumption: thirds of the 0-1 score; review:78, 79 describe the hybrid
# E/M state between fully epithelial and fully mesenchymal).
EMT_BANDS = ((0.0, "epithelial"), (1 / 3, "hybrid"), (2 / 3, "mesenchymal"))
HYPOXIA_MMHG = 10.0  # pO2 below which tissue counts as hypoxic (common 10 mmHg cut-off; assumption)
DEAD_NAMES = {K.ALIVE: "live", K.APOPTOTIC: "apoptotic", K.NECROTIC: "necrotic", K.KILLED: "killed"}


def emt_state(emt: np.ndarray) -> np.ndarray:
    out = np.full(emt.shape, "epithelial", dtype=object)
    out[emt >= EMT_BANDS[1][0]] = "hybrid"
    out[emt >= EMT_BANDS[2][0]] = "mesenchymal"
    return out


def cell_states(sim: Simulation, cells: dict[str, np.ndarray]) -> np.ndarray:
    """State label of each cell: live/dead status, and the EMT band for types with an EMT score."""
    cm = sim.cm
    labels = np.array([DEAD_NAMES.get(int(d), "gone") for d in range(K.N_STATUS)], dtype=object)[cells["dead"]]
    if "emt" in cm.var_names:
        emt_types = [t for t in range(cm.n_types) if cm.init_state[t, cm.var_names.index("emt")] > 0]
        has = np.isin(cells["type"], emt_types) & (cells["dead"] == K.ALIVE)
        labels[has] = emt_state(cells["emt"][has])
    return labels


def population_rows(sim: Simulation) -> list[dict]:
    """One row per (cell type, state) with its count and the mean of each state variable."""
    cells = sim.cells()
    cm = sim.cm
    states = cell_states(sim, cells)
    day = sim.time / MINUTES_PER_DAY
    rows = []
    for t, tname in enumerate(cm.type_names):
        sel_t = cells["type"] == t
        for state in np.unique(states[sel_t]) if sel_t.any() else ["live"]:
            sel = sel_t & (states == state)
            row = {"time_days": day, "cell_type": tname, "state": str(state), "count": int(sel.sum())}
            for v in cm.var_names:
                row[f"mean_{v}"] = float(cells[v][sel].mean()) if sel.any() else float("nan")
            rows.append(row)
    return rows


def tissue_metrics(sim: Simulation) -> dict[str, float]:
    """Domain-level readouts: substrate means, hypoxic fraction, vessel density, tumor size."""
    cm = sim.cm
    out: dict[str, float] = {"time_days": sim.time / MINUTES_PER_DAY}
    for s, name in enumerate(cm.substrate_names):
        out[f"mean_{name}"] = float(sim.fields[s].mean())
        out[f"max_{name}"] = float(sim.fields[s].max())
    area = sim.nsites * (cm.dx / 1000.0) ** (3 if cm.grid[0] > 1 else 2)
    n = sim.n
    live = sim.dead[:n] == K.ALIVE
    vessels = np.isin(sim.ctype[:n], np.flatnonzero(cm.is_vessel)) & live
    out["vessel_density_per_mm2" if cm.grid[0] == 1 else "vessel_density_per_mm3"] = float(vessels.sum() / area)
    if "oxygen" in cm.substrate_names:
        o2 = sim.fields[cm.substrate_names.index("oxygen")].reshape(-1)
        occupied = sim.occ >= 0
        out["hypoxic_fraction"] = float((o2[occupied] < HYPOXIA_MMHG).mean()) if occupied.any() else 0.0
    out["n_live"] = float(live.sum())
    out["n_dead"] = float((~live).sum())
    return out
