"""Field-field reactions: the extracellular matrix remodelled by enzymes.

Each ``model.reactions`` row changes one substrate in every voxel from the local
concentration of an enzyme substrate, after diffusion (a separate process step):

* degradation (collagen cleaved by MMPs): ``c' = c / (1 + dt k)``;
* saturation (collagen cross-linked by LOX, a 0-1 fraction): ``x' = (x + dt k) / (1 + dt k)``;

with ``k = rate · H(enzyme) · (1 - inhibition · clip(inhibitor, 0, 1))`` and H the Hill
function. Backward Euler, so any rate is stable and values stay in range. Voxel-wise and
independent between voxels, hence parallel and thread-count independent.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def react(fields, rx_int, rx_num, dt):
    """Apply every reaction once over one step; ``fields`` is [substrates, voxels] (in place)."""
    nv = fields.shape[1]
    for r in range(rx_int.shape[0]):
        s, e, kind, inh = rx_int[r, 0], rx_int[r, 1], rx_int[r, 2], rx_int[r, 3]
        rate, half, power, inhibition = rx_num[r, 0], rx_num[r, 1], rx_num[r, 2], rx_num[r, 3]
        for v in prange(nv):
            c = fields[e, v]
            if c <= 0.0:
                continue
            q = (c / half) ** power
            k = rate * q / (1.0 + q)
            if inh >= 0:
                k *= 1.0 - inhibition * min(max(fields[inh, v], 0.0), 1.0)
            if kind == 0:
                fields[s, v] = fields[s, v] / (1.0 + dt * k)
            else:
                fields[s, v] = (fields[s, v] + dt * k) / (1.0 + dt * k)


def has_reactions(rx_int: np.ndarray) -> bool:
    return rx_int.shape[0] > 0
