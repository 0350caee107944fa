"""Who touches whom: contact enrichment between cell types on the lattice.

The mean-field engine assumes random mixing: a cell of type a has each of its neighbour
sites filled by type b with probability p_b = N_b / (sites − 1). The spatial engine makes
structure (a tumor nest, a stromal rim, T cells kept at the margin), so contacts differ
from that by a factor, the *enrichment*. What the rules need is whether a cell touches at
least one b-cell (an attack picks one touching target; contact rules saturate near one
neighbour; a division needs one free site), so the enrichment compares that::

    enrichment(a, b) = live a-cells with ≥ 1 live b-neighbour
                       / Σ_a-cells [1 − (1 − p_b)^m_i]

(m_i the in-domain neighbour sites of cell i; the denominator is the random-mixing
expectation on the same lattice with the same counts). Free sites (no live cell and no
corpse) are tallied the same way as the neighbour ``"(free site)"``: only the rim of a
packed tumor nest has free neighbour sites, so far fewer cancer cells can divide than
random mixing would allow. A :class:`ContactTally` sums
numerator and denominator over snapshots; pairs with few expected contacts are shrunk
toward 1 by a pseudo-count (``prior`` expected contacts at enrichment 1), so that a pair
seen rarely does not get an extreme factor from a handful of cells.

>>> import tmesim
>>> from tmesim.engine.contacts import ContactTally
>>> sim = tmesim.engine.Simulation(tmesim.load_model(tmesim.preset_path("tnbc-core")), seed=1)
>>> tally = ContactTally(sim.cm.type_names)
>>> tally.add(sim)
>>> table = tally.table()
>>> list(table.columns)
['cell_type', 'neighbour', 'enrichment', 'observed', 'expected']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tmesim.model.grammar import FREE_SITE
from tmesim.units import MINUTES_PER_DAY

from .kernels import ALIVE, neighbour_offsets

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
    src = tuple(slice(0, -d if d > 0 else None) if d >= 0 else slice(-d, None) for d in off)
    dst = tuple(slice(d, None) if d >= 0 else slice(0, d) for d in off)
    return grid[src], grid[dst]


def neighbour_contacts(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """For the current state of ``sim``: observed ``[T, T + 1]``, the number of live a-cells
    with at least one live b-neighbour (last column: with at least one free neighbour site,
    i.e. a site without a live cell or a corpse), and its random-mixing expectation
    Σ_a-cells 1 − (1 − p_b)^m_i, p_b = (N_b − [a = b]) / (sites − 1) (p_free likewise)."""
    T = len(sim.cm.type_names)
    if T + 1 > 62:
        raise ValueError(f"contact tally supports at most 61 cell types, the model has {T}")
    grid = _type_grid(sim)
    free_grid = (sim.occ == -1).reshape(grid.shape)
    offs, _ = neighbour_offsets(int(sim.model.domain.dims))
    offsets = [(int(dz), int(dy), int(dx)) for dx, dy, dz in offs]  # grid axes are (z, y, x)
    seen = np.zeros(grid.shape, np.int64)  # bit b: a live b-neighbour; bit T: a free neighbour
    in_domain = np.zeros(grid.shape, np.int64)  # in-domain neighbour sites per site
    code = np.where(grid >= 0, np.left_shift(1, grid.clip(min=0)), 0) | np.where(free_grid, 1 << T, 0)
    for off in offsets:
        mine, _ = _shifted(seen, off)
        _, theirs = _shifted(code, off)
        mine |= theirs
        ones, _ = _shifted(in_domain, off)
        ones += 1
    cells = grid >= 0
    ct, bits, m = grid[cells], seen[cells], in_domain[cells]
    observed = np.zeros((T, T + 1))
    for b in range(T + 1):
        has = (bits >> b) & 1 == 1
        observed[:, b] = np.bincount(ct[has], minlength=T)
    counts = np.bincount(ct, minlength=T).astype(float)
    others = max(grid.size - 1, 1)
    share = np.append(counts, float(free_grid.sum())) / others  # [T + 1]
    own = np.zeros((T, T + 1))
    own[:, :T] = np.eye(T) / others  # a cell is not its own neighbour
    p = (share[None, :] - own).clip(0.0, 1.0)
    expected = np.zeros((T, T + 1))
    for mv in np.unique(m):
        n_a = np.bincount(ct[m == mv], minlength=T).astype(float)  # a-cells with mv neighbour sites
        expected += n_a[:, None] * (1.0 - (1.0 - p) ** mv)
    return observed, expected


class ContactTally:
    """Observed and expected contacts summed over snapshots of one or more spatial runs."""

    def __init__(self, type_names: Sequence[str], prior: float = 5.0) -> None:
        self.type_names = list(type_names)
        T = len(self.type_names)
        self.observed = np.zeros((T, T + 1))  # last column: free neighbour sites
        self.expected = np.zeros((T, T + 1))
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
        expectation > 0; enrichment = (observed + prior) / (expected + prior)); the neighbour
        ``"(free site)"`` is the enrichment of free sites around the cell type."""
        i, j = np.nonzero(self.expected > 0)
        o, e = self.observed[i, j], self.expected[i, j]
        return pd.DataFrame({"cell_type": np.array(self.type_names, dtype=object)[i],
                             "neighbour": np.array([*self.type_names, FREE_SITE], dtype=object)[j],
                             "enrichment": (o + self.prior) / (e + self.prior), "observed": o, "expected": e})


def contact_enrichment(sim: Simulation, days: float, every_days: float = 1.0, skip_days: float = 0.0,
                       prior: float = 5.0, pooled: bool = False,
                       observe: Callable[[Simulation, float], None] | None = None) -> pd.DataFrame:
    """Run ``sim`` for ``days`` and tally contacts every ``every_days`` from ``skip_days``.

    Returns the enrichment as a time course (:meth:`ContactTally.table` of each snapshot with a
    ``time_days`` column; the structure changes as the tumor nest grows), or, with ``pooled``,
    one table over all snapshots. ``observe(sim, day)``, if given, is called at every snapshot,
    so other readouts of the same run need no second run.
    """
    if days <= skip_days:
        raise ValueError(f"days must be > skip_days ({skip_days}), got {days}")
    if every_days <= 0:
        raise ValueError(f"every_days must be > 0, got {every_days}")
    names = sim.cm.type_names
    pool = ContactTally(names, prior=prior)
    frames = []
    step_minutes = float(sim.cm.dt)
    every = max(sim.steps_for(every_days * MINUTES_PER_DAY), 1)
    total = sim.steps_for(days * MINUTES_PER_DAY)
    skip = sim.steps_for(skip_days * MINUTES_PER_DAY)
    for k in range(0, total + 1):
        if k > 0:
            sim.step()
            sim.take_events()
        if k >= skip and (k - skip) % every == 0:
            if observe is not None:
                observe(sim, k * step_minutes / MINUTES_PER_DAY)
            if pooled:
                pool.add(sim)
            else:
                snap = ContactTally(names, prior=prior)
                snap.add(sim)
                frames.append(snap.table().assign(time_days=k * step_minutes / MINUTES_PER_DAY))
    if pooled:
        return pool.table()
    out = pd.concat(frames, ignore_index=True)
    return out[["time_days", *[c for c in out.columns if c != "time_days"]]]


__all__ = ["ContactTally", "contact_enrichment", "neighbour_contacts"]
