"""Counter-based random numbers: a draw is a pure function of (seed, step, cell uid, purpose).

Because no generator state is carried, results do not depend on thread count or on the
order cells are visited, and a resumed run needs only the seed and the step number to
continue exactly where an uninterrupted run would have.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

# Purposes: independent streams for the different decisions of one cell in one step.
FATE, FATE_PICK, MOVE, MOVE_DIR, ATTACK, PLACE, RECRUIT, RECRUIT_PLACE, ORDER, INIT, CLUSTER = range(11)
# Added later, numbered after the first ones so existing streams are unchanged.
ASYMMETRIC, PHAGOCYTOSE, FUSE = range(11, 14)
EXCHANGE, EXCHANGE_DIR = range(14, 16)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always", cache=True)
def _mix(z: uint64) -> uint64:
    # splitmix64 finaliser: a bijective avalanche mix of 64 bits.
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always", cache=True)
def key(seed: int, step: int, uid: int, purpose: int) -> uint64:
    h = _mix(np.uint64(seed) + _GOLD)
    h = _mix(h ^ (np.uint64(step) * _GOLD))
    h = _mix(h ^ (np.uint64(uid) + _M1))
    return _mix(h ^ (np.uint64(purpose) * _M2))


@njit(inline="always", cache=True)
def uniform(seed: int, step: int, uid: int, purpose: int) -> float:
    """A float in [0, 1) from the top 53 bits of the key."""
    return float(key(seed, step, uid, purpose) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(inline="always", cache=True)
def uniform_k(seed: int, step: int, uid: int, purpose: int, k: int) -> float:
    """The k-th independent uniform of one (seed, step, uid, purpose) stream."""
    return uniform(seed, step, uid, purpose * 64 + k)
