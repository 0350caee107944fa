"""Zeroing a large array on all threads: the gain and loss every step starts from.

A large section's step zeroes each substrate's gain and loss before the cells write theirs
(2 × 23 substrates × 2.2·10^6 voxels of float32, ~400 MB, for the 10^6-cell tnbc section of
``benchmarks/scale.py``).  numpy's ``a[:] = 0`` takes 48–50 ms for both on a 2-core VM; this
numba kernel cuts the array into blocks, one per ``prange`` iteration, each filled by numba's
slice assignment: 34 ms on one thread, 18–19 ms on two (``NUMBA_NUM_THREADS``), the same zeros.
Hand-written because no library call fills a numpy array in place on several threads.  (The finiteness check after the
step, also one pass, gained 0–25 % from the same treatment, within the machine's noise: it
stays numpy's.)

The kernel is threaded, so (numba issues #8578 and #10128) it is cached only as an entry
point called from Python, never from other compiled code (``tests/test_numba_cache.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCKS = 64  # per call: enough for any thread count's load balance, few enough to be cheap


@njit(parallel=True, cache=True)
def _zero(flat):
    m = flat.shape[0]
    for b in prange(BLOCKS):
        flat[b * m // BLOCKS:(b + 1) * m // BLOCKS] = 0


def zero(a: np.ndarray) -> None:
    """``a[:] = 0`` for a C-contiguous numeric array, on all threads."""
    if not a.flags.c_contiguous:
        raise ValueError("zero: the array must be C-contiguous")
    if a.size:
        _zero(a.reshape(-1))

