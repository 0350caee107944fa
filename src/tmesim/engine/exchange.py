"""Exchange of places: how a lymphocyte squeezes into a packed tumor nest.

The lattice holds one cell per site, so a migrating cell whose neighbour sites are all
full cannot move by ``apply``'s free-site hops. In tissue, T cells and NK cells crawl
between tumor cells by deforming and pushing them aside (Boissonnas et al., J Exp Med
2007;204:345, doi:10.1084/jem.20061890: CTLs migrate through tumor-cell-rich regions;
Mrass et al., J Exp Med 2006;203:2749, doi:10.1084/jem.20060710: tumor-infiltrating T cells
crawl among tumor cells before stable contacts). On the lattice that is an exchange of
places between the crawling cell and one touching cell.

The rule (one step, after ``apply``):

* A live cell with a positive ``exchange rate`` r (behaviour, 1/min, rules apply, evaluated
  in this step) exchanges with probability ``p = 1 - exp(-r dt)``.
* The partner is a touching *live, non-vessel* cell that does not itself exchange this step
  (cells with ``swap == 0``), chosen with the same weights as a free-site hop,
  ``1 + 4 max(-1/4, b·d)`` (``b`` the chemotactic bias, ``d`` the unit vector to the site).
* Neither cell may stand on a site closed by a barrier (``model.barrier``, a basement
  membrane): an exchange never carries a cell into or across an intact membrane.
* At most one exchange per cell per step; a cell already moved by an exchange this step is
  not moved again as a partner.
* Cells are visited once, serially, from a per-step random offset, and every draw is a
  counter-based function of (seed, step, uid, purpose): the result does not depend on the
  number of threads, and a resumed run reproduces it.

Hand-written (numba) because it runs on the engine's struct-of-arrays state inside the step
loop; no library offers lattice place exchange.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import rng
from .actions import blocked
from .compiled import B_EXCHANGE
from .kernels import ALIVE, behaviour


@njit(cache=True)
def exchange_places(n, L, C, R, X, moved, can, seed, step, time, dt):
    """Carry out this step's exchanges; returns the number of exchanges made.

    ``moved`` is int8 scratch of length >= n; ``can`` flags the types with an exchange rate.
    The rate is evaluated here (rules applied), so the step stands on its own.
    """
    if n == 0:
        return 0
    nx, ny, nz = L.nx, L.ny, L.nz
    offs, dist = L.offs, L.dist
    occ, dead, ctype, swap = C.occ, C.dead, C.ctype, X.swap
    is_vessel = R.is_vessel
    b3, rt, meta, fields, var = R.b3, R.rt, R.meta, C.fields, C.var
    for i in range(n):
        moved[i] = 0
        swap[i] = 0.0
        t = ctype[i]
        if can[t] and dead[i] == ALIVE:
            r = behaviour(t, B_EXCHANGE, i, C.cx[i], C.cy[i], C.cz[i], time, b3, rt, meta, fields, offs, occ,
                          dead, ctype, var, is_vessel)
            if r > 0.0:
                swap[i] = 1.0 - np.exp(-r * dt)
    start = int(rng.uniform(seed, step, 1, rng.ORDER) * n)
    made = 0
    nb = offs.shape[0]
    for q in range(n):
        i = start + q  # (start + q) mod n without an integer division per cell (start <= n)
        if i >= n:
            i -= n
        p = swap[i]
        if p <= 0.0 or dead[i] != ALIVE or moved[i] != 0:
            continue
        uid = C.uid[i]
        if rng.uniform(seed, step, uid, rng.EXCHANGE) >= p:
            continue
        x, y, z = C.cx[i], C.cy[i], C.cz[i]
        if blocked((z * ny + y) * nx + x, L, fields):
            continue
        bx, by, bz = X.bias[i, 0], X.bias[i, 1], X.bias[i, 2]
        wsum = 0.0
        for k in range(nb):
            xx, yy, zz = x + offs[k, 0], y + offs[k, 1], z + offs[k, 2]
            if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                continue
            j = occ[(zz * ny + yy) * nx + xx]
            if j < 0 or dead[j] != ALIVE or is_vessel[ctype[j]] or swap[j] > 0.0 or moved[j] != 0 \
                    or blocked((zz * ny + yy) * nx + xx, L, fields):
                continue
            wsum += 1.0 + 4.0 * max(-0.25, bx * dist[k, 0] + by * dist[k, 1] + bz * dist[k, 2])
        if wsum <= 0.0:
            continue
        target = rng.uniform(seed, step, uid, rng.EXCHANGE_DIR) * wsum
        acc = 0.0
        for k in range(nb):
            xx, yy, zz = x + offs[k, 0], y + offs[k, 1], z + offs[k, 2]
            if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                continue
            s2 = (zz * ny + yy) * nx + xx
            j = occ[s2]
            if j < 0 or dead[j] != ALIVE or is_vessel[ctype[j]] or swap[j] > 0.0 or moved[j] != 0 \
                    or blocked(s2, L, fields):
                continue
            acc += 1.0 + 4.0 * max(-0.25, bx * dist[k, 0] + by * dist[k, 1] + bz * dist[k, 2])
            if target < acc:
                s1 = (z * ny + y) * nx + x
                C.cx[j], C.cy[j], C.cz[j] = x, y, z
                C.cx[i], C.cy[i], C.cz[i] = xx, yy, zz
                occ[s1] = j
                occ[s2] = i
                moved[i] = 1
                moved[j] = 1
                made += 1
                break
    return made


def exchange_types(base: np.ndarray, r_count: np.ndarray, column: int) -> np.ndarray:
    """Per type: can it exchange (a positive base or rules on the behaviour)."""
    return (base[:, column] > 0) | (r_count[:, column] > 0)
