"""Who touches whom: contact enrichment between cell types on the lattice.

The mean-field engine assumes random mixing: a cell of type a has each of its neighbour
sites filled by type b with probability N_b / (sites − 1). The spatial engine makes
structure (a tumor nest, a stromal rim, T cells kept at the margin), so contacts differ
from that by a factor, the *enrichment*::

    enrichment(a, b) = observed live b-neighbours of live a-cells
                       / Σ_a-cells m_i (N_b − [a = b]) / (sites − 1)

(m_i the in-domain neighbour sites of cell i; the denominator is the random-mixing
expectation on the same lattice with the same counts). A :class:`ContactTally` sums
numerator and denominator over snapshots; pairs with few expected contacts are shrunk
toward 1 by a pseudo-count (``prior`` expected contacts at enrichment 1), so that a pair
seen rarely does not get an extreme factor from a handful of cells.

>>> import tmesim
>>> from tmesim.engine.contacts import ContactTally
>>> sim = tmesim.Simulation(tmesim.load_model(tmesim.preset_path("tnbc-core")), seed=1)
>>> tally = ContactTally(sim.cm.type_names)
>>> tally.add(sim)
>>> table = tally.table()
>>> list(table.columns)
['cell_type', 'neighbour', 'enrichment', 'observed', 'expected']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .kernels import ALIVE

if TYPE_CHECKING:
    from .simulation import Simulation


def _type_grid(sim: Simulation) -> np.ndarray:
    """Site grid (z, y, x) holding the type index of the live cell there, −1 elsewhere."""
    nz, ny, nx = sim.cm.grid
    grid = np.full((nz, ny, nx), -1, np.int64)
    n = sim.n
    live = sim.dead[:n] == ALIVE
    grid[sim.cz[:n][live], sim.cy[:n][live], sim.cx[:n][live]] = sim.ctype[:n][live]
    return grid


def _shifted(grid: np.ndarray, off: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(cell, neighbour-at-offset) views of the overlapping part of the grid (no wrap)."""
    src, dst = [], []
    for d in off:
        n = None
        if d >= 0:
            src.append(slice(0, n if d == 0 else -d))
            dst.append(slice(d, None))
        else:
            src.append(slice(-d, None))
            dst.append(slice(0, d))
    return grid[tuple(src)], grid[tuple(dst)]


def neighbour_contacts(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """Observed contacts ``[T, T]`` (live b-neighbours summed over live a-cells) and the
    random-mixing expectation ``[T, T]`` for the current state of ``sim``."""
    T = len(sim.cm.type_names)
    grid = _type_grid(sim)
    dims = int(sim.model.domain.dims)
    offsets = [o for o in np.ndindex(*(3,) * 3) if (dims == 3 or o[0] == 1)]
    offsets = [tuple(int(v) - 1 for v in o) for o in offsets if any(v != 1 for v in o)]
    observed = np.zeros(T * T)
    in_domain = np.zeros(grid.shape, np.int64)  # in-domain neighbour sites per site
    for off in offsets:
        a, b = _shifted(grid, off)
        ones_a, _ = _shifted(in_domain, off)
        ones_a += 1
        both = (a >= 0) & (b >= 0)
        observed += np.bincount(a[both] * T + b[both], minlength=T * T)
    m_sum = np.bincount(grid[grid >= 0], weights=in_domain[grid >= 0], minlength=T).astype(float)
    counts = np.bincount(grid[grid >= 0], minlength=T).astype(float)
    others = max(grid.size - 1, 1)
    expected = m_sum[:, None] * (counts[None, :] - np.eye(T)).clip(min=0) / others
    return observed.reshape(T, T), expected


class ContactTally:
    """Observed and expected contacts summed over snapshots of one or more spatial runs."""

    def __init__(self, type_names: Sequence[str], prior: float = 5.0) -> None:
        self.type_names = list(type_names)
        T = len(self.type_names)
        self.observed = np.zeros((T, T))
        self.expected = np.zeros((T, T))
        self.prior = float(prior)
        self.snapshots = 0

    def add(self, sim: Simulation) -> None:
        """Add the current state of ``sim``."""
        o, e = neighbour_contacts(sim)
        self.observed += o
        self.expected += e
        self.snapshots += 1

    def table(self) -> pd.DataFrame:
        """Long table ``cell_type, neighbour, enrichment, observed, expected`` (pairs with an
        expectation > 0; enrichment = (observed + prior) / (expected + prior))."""
        rows = []
        for i, a in enumerate(self.type_names):
            for j, b in enumerate(self.type_names):
                e = self.expected[i, j]
                if e <= 0:
                    continue
                o = self.observed[i, j]
                rows.append((a, b, (o + self.prior) / (e + self.prior), o, e))
        return pd.DataFrame(rows, columns=["cell_type", "neighbour", "enrichment", "observed", "expected"])


def contact_enrichment(sim: Simulation, days: float, every_days: float = 1.0, skip_days: float = 1.0,
                       prior: float = 5.0) -> pd.DataFrame:
    """Run ``sim`` for ``days`` and tally contacts every ``every_days`` after ``skip_days``
    (the first day is dominated by the initial placement); returns :meth:`ContactTally.table`."""
    if days <= skip_days:
        raise ValueError(f"days must be > skip_days ({skip_days}), got {days}")
    tally = ContactTally(sim.cm.type_names, prior=prior)
    step_minutes = float(sim.cm.dt)
    every = max(int(round(every_days * 1440.0 / step_minutes)), 1)
    total = int(round(days * 1440.0 / step_minutes))
    skip = int(round(skip_days * 1440.0 / step_minutes))
    for k in range(1, total + 1):
        sim.step()
        sim.take_events()
        if k >= skip and (k - skip) % every == 0:
            tally.add(sim)
    return tally.table()


__all__ = ["ContactTally", "contact_enrichment", "neighbour_contacts"]
