"""Vessel perfusion on the lattice, and how far drugs get from perfused vessels.

The lattice rule (one process step, run before behaviours are evaluated):

* **connected** — vessel cells touching each other (Moore neighbourhood) form a network; a
  network carries blood when it holds a *root*: a vessel cell present at the start of the run
  (host vessels, fed from outside the section: in 2D a capillary profile is a vessel crossing
  the plane) or one on the domain edge. Sprouts are perfused once they touch a perfused vessel;
  a sprout whose parent vessel regressed is cut off (no flow in blind-ended sprouts).
* **not compressed** — a vessel whose in-domain neighbour sites are at least
  ``collapse_occupancy`` filled by live non-vessel cells is squeezed shut by the solid stress
  of the cells packed around it and carries no flow (Padera et al., Nature 2004;427:695,
  doi:10.1038/427695a: proliferating cancer cells compress intratumoral vessels; relieving
  the stress re-opens them). A compressed vessel does not pass flow to the vessels beyond it.
  With ``stabilised_by`` (a state variable v of vessel cells, e.g. pericyte coverage) the
  threshold is c + (1 − c)·v: mature, pericyte-covered vessels resist compression, which is
  how vessel normalisation by moderate VEGF blockade opens flow (Jain, Science 2005;307:58,
  doi:10.1126/science.1104819).

``perfused_sites`` returns one value per lattice site (1 at a perfused vessel cell's site,
0 elsewhere) — the per-site perfusion array other steps read (oxygen release, drug delivery,
T-cell extravasation). ``drug_delivery`` turns it into each drug's tissue exposure factor
exp(−d/λ), d the distance to the nearest perfused vessel and λ the drug's ``penetration``
(Minchinton & Tannock, Nat Rev Cancer 2006;6:583, doi:10.1038/nrc1893: drug concentration
falls steeply with distance from functional vessels).

Hand-written: the network search is a breadth-first search over vessel sites in numba (one
pass, no per-cell Python object); the distance is scipy's exact Euclidean distance transform.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.ndimage import distance_transform_edt

from .kernels import ALIVE


def perfused_sites(n: int, uid: np.ndarray, ctype: np.ndarray, cx: np.ndarray, cy: np.ndarray, cz: np.ndarray,
                   dead: np.ndarray, occ: np.ndarray, is_vessel: np.ndarray, root_uid: int, nx: int, ny: int, nz: int,
                   offs: np.ndarray, collapse: float, var: np.ndarray, stab: int) -> np.ndarray:
    """Per-site perfusion (float32, 1 at perfused vessel sites): connected to a root, not compressed.

    ``root_uid``: vessel cells with a smaller uid were present at the start (roots); ``stab``:
    index of the state variable that stabilises a vessel against compression (-1: none).
    Plain Python around :func:`perfuse_into`, the one cached function that contains the threaded
    ``_open_vessels`` (see ``tmesim.engine.multigrid._solve_entry`` for why only one may)."""
    nsites = nx * ny * nz
    out = np.zeros(nsites, np.float32)
    perfuse_into(n, uid, ctype, cx, cy, cz, dead, occ, is_vessel, root_uid, nx, ny, nz, offs, collapse, var, stab,
                 out, np.zeros(nsites, np.bool_), np.empty(nsites, np.int64), np.empty(nsites, np.int64),
                 np.empty(max(n, 1), np.int8))
    return out


@njit(parallel=True)  # not cached on its own: only perfuse_into, which is, calls it
def _open_vessels(n, uid, ctype, cx, cy, cz, dead, occ, is_vessel, root_uid, nx, ny, nz, offs, collapse, var,
                  stab, open_, kind):
    """Per cell ``kind``: 0 no live vessel, 1 compressed shut, 2 open, 3 open root; ``open_`` at
    the open ones' sites. Each vessel's test reads only its neighbours: parallel over cells."""
    nb = offs.shape[0]
    for i in prange(n):
        kind[i] = 0
        if dead[i] != ALIVE or not is_vessel[ctype[i]]:
            continue
        x, y, z = cx[i], cy[i], cz[i]
        filled = 0
        inside = 0
        edge = False
        for k in range(nb):
            xx, yy, zz = x + offs[k, 0], y + offs[k, 1], z + offs[k, 2]
            if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                edge = True
                continue
            inside += 1
            j = occ[(zz * ny + yy) * nx + xx]
            if j >= 0 and dead[j] == ALIVE and not is_vessel[ctype[j]]:
                filled += 1
        thr = collapse
        if stab >= 0:
            thr = collapse + (1.0 - collapse) * min(max(var[i, stab], 0.0), 1.0)
        if inside > 0 and filled >= thr * inside - 1e-9:
            kind[i] = 1  # compressed shut
            continue
        open_[(z * ny + y) * nx + x] = True
        kind[i] = 3 if (uid[i] < root_uid or edge) else 2


@njit(cache=True)
def perfuse_into(n, uid, ctype, cx, cy, cz, dead, occ, is_vessel, root_uid, nx, ny, nz, offs, collapse,
                 var, stab, out, open_, stack, shut, kind):
    """:func:`perfused_sites` written into ``out`` (per site), with the per-site ``open_`` flags,
    the ``stack`` of the search and the per-cell ``kind`` as the caller's buffers (kept between
    steps: allocating and zeroing them per step cost more than the search); the sites of live
    vessel cells left without flow go to ``shut``, in cell order, and their number is returned."""
    out[:] = 0.0
    open_[:] = False
    _open_vessels(n, uid, ctype, cx, cy, cz, dead, occ, is_vessel, root_uid, nx, ny, nz, offs, collapse, var,
                  stab, open_, kind)
    top = 0
    nv = 0
    nb = offs.shape[0]
    for i in range(n):
        if kind[i] == 0:
            continue
        site = (cz[i] * ny + cy[i]) * nx + cx[i]
        shut[nv] = site
        nv += 1
        if kind[i] == 3:
            out[site] = 1.0
            stack[top] = site
            top += 1
    while top > 0:
        top -= 1
        site = stack[top]
        x = site % nx
        y = (site // nx) % ny
        z = site // (nx * ny)
        for k in range(nb):
            xx, yy, zz = x + offs[k, 0], y + offs[k, 1], z + offs[k, 2]
            if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                continue
            s2 = (zz * ny + yy) * nx + xx
            if open_[s2] and out[s2] == 0.0:
                out[s2] = 1.0
                stack[top] = s2
                top += 1
    ns = 0
    for q in range(nv):
        if out[shut[q]] == 0.0:
            shut[ns] = shut[q]
            ns += 1
    return ns


def drug_delivery(perfusion: np.ndarray, grid: tuple[int, int, int], dx: float,
                  penetration: np.ndarray) -> np.ndarray:
    """Tissue exposure factor per drug and site, [drugs, sites]: exp(−d/λ) with d (µm) the
    distance to the nearest perfused vessel site and λ = ``penetration`` (µm; 0 or inf: 1
    everywhere). Without any perfused vessel a drug with finite λ reaches no site."""
    nsites = perfusion.shape[0]
    out = np.ones((penetration.shape[0], nsites), np.float32)
    finite = (penetration > 0) & np.isfinite(penetration)
    if not finite.any():
        return out
    mask = perfusion.reshape(grid) > 0
    if not mask.any():
        out[finite] = 0.0
        return out
    d = distance_transform_edt(~mask).reshape(-1) * dx
    for k in np.flatnonzero(finite):
        out[k] = np.exp(-d / penetration[k])
    return out


@njit(cache=True)
def mark_live_vessels(n, ctype, cx, cy, cz, dead, is_vessel, nx, ny, out):
    """``out`` (per site) = 1 at every live vessel cell's site, 0 elsewhere: the perfusion of a
    model without ``model.perfusion``, written in place in one pass (the numpy expression it
    replaces built several cell-sized temporaries every step)."""
    out[:] = 0.0
    for i in range(n):
        if dead[i] == ALIVE and is_vessel[ctype[i]]:
            out[(cz[i] * ny + cy[i]) * nx + cx[i]] = 1.0


def perfused_fraction(perfusion: np.ndarray, vessel_sites: int) -> float:
    """Share of live vessel cells that are perfused."""
    return float(perfusion.sum()) / vessel_sites if vessel_sites else 0.0


__all__ = ["drug_delivery", "mark_live_vessels", "perfused_fraction", "perfused_sites"]
