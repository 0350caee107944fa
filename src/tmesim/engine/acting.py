"""Which cells act in a step: the serial action phase visits only these.

:func:`tmesim.engine.actions.apply` carries out kills, fates and moves one cell at a time, in
an order drawn per step, so that two cells wanting the same free site are settled by that
order. Few cells have anything to do in a step (in a 10^6-cell tnbc section 4.7 % move, 0.14 %
divide, die or change type, 0.002 % attack), so the cells that do are found first by a scan
that runs in parallel, and the serial loop walks them alone, in the same order: the same
result for every thread count, bit for bit, with the serial part a twentieth of the cells.

Hand-written: a stream compaction in numba, parallel over chunks (numpy's ``flatnonzero`` of
the same condition builds four cell-sized temporaries and runs on one thread).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNKS = 64


@njit(inline="always", cache=True)
def _acts(i, kill, fate, nmove):  # noqa: ANN001, ANN202 - numba scalars
    # A cell with no target, no fate (F_NONE = 0) and no hop has nothing to do in apply.
    return kill[i] >= 0 or fate[i] != 0 or nmove[i] > 0


@njit(parallel=True, cache=True)
def acting_cells(n, kill, fate, nmove, out):  # noqa: ANN001, ANN201 - numba arrays
    """Write the indices ``i < n`` of cells with a target, a fate or a hop, ascending, to
    ``out``; return their number. Dead cells may be listed (apply skips them)."""
    size = (n + CHUNKS - 1) // CHUNKS
    counts = np.zeros(CHUNKS + 1, np.int64)
    for c in prange(CHUNKS):
        k = 0
        for i in range(c * size, min(n, (c + 1) * size)):
            if _acts(i, kill, fate, nmove):
                k += 1
        counts[c + 1] = k
    for c in range(CHUNKS):
        counts[c + 1] += counts[c]
    for c in prange(CHUNKS):
        k = counts[c]
        for i in range(c * size, min(n, (c + 1) * size)):
            if _acts(i, kill, fate, nmove):
                out[k] = i
                k += 1
    return counts[CHUNKS]
