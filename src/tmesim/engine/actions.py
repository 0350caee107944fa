"""The serial action kernels: what cells do after their behaviours were evaluated.

Kills, fates and moves (:func:`apply`), recruitment at perfused vessels (:func:`recruit`) and
the removal of cleared cells (:func:`clear_and_compact`), with the free-site search they share
and the event buffer they write. Cells here compete for sites, so each kernel runs serially in
an order drawn per step (:func:`apply` visits only the acting cells, :mod:`tmesim.engine.acting`),
and the result does not depend on the thread count. The decisions come from
:func:`tmesim.engine.kernels.evaluate`, in parallel over cells, before.

Hand-written: lattice bookkeeping in numba over the struct-of-arrays cell state (no library
does on-lattice agent updates with counter-based randomness).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import rng
from .compiled import B_RECRUIT
from .kernels import (
    ALIVE,
    APOPTOTIC,
    E_APOPTOSIS,
    E_DIVISION,
    E_FUSION,
    E_INTRAVASATION,
    E_KILLED,
    E_NECROSIS,
    E_PHAGOCYTOSIS,
    E_RECRUITMENT,
    E_TRANSITION,
    EATEN,
    F_APOPTOSIS,
    F_DIVIDE,
    F_INTRAVASATE,
    F_NECROSIS,
    F_NONE,
    F_TRANSFORM,
    GONE,
    KILLED,
    M_DAMAGE,
    M_EAT,
    M_EAT_DEAD,
    M_KILL,
    NECROTIC,
    behaviour,
    site_of,
)
from .slots import happens, never, value_cap


@njit(inline="always", cache=True)
def _record(E, ne, kind, uid, ctype, arg, x, y, z):
    E.kind[ne] = kind
    E.uid[ne] = uid
    E.ctype[ne] = ctype
    E.arg[ne] = arg
    E.x[ne] = x
    E.y[ne] = y
    E.z[ne] = z
    return ne + 1


@njit(inline="always", cache=True)
def blocked(s, L, fields):
    """Is site ``s`` closed by an intact barrier (a basement membrane: ``model.barrier``)?

    No cell enters such a site: free-site hops, daughters, recruits and exchanges of places all
    skip it, so a barrier band at least sqrt(2) sites wide separates the cells on its two sides
    (Moore neighbours are at most sqrt(2) sites apart). Enzymes that degrade the substrate below
    the threshold open the site.
    """
    return L.bsub >= 0 and fields[L.bsub, s] >= L.bthr


@njit(cache=True)
def _free_neighbour(x, y, z, L, C, u, bx, by, bz):
    """A free neighbour site index (or -1), chosen with weights 1 + 4 max(-1/4, b·d); sites
    closed by a barrier are not free."""
    nb = L.offs.shape[0]
    wsum = 0.0
    for k in range(nb):
        xx, yy, zz = x + L.offs[k, 0], y + L.offs[k, 1], z + L.offs[k, 2]
        if xx < 0 or yy < 0 or zz < 0 or xx >= L.nx or yy >= L.ny or zz >= L.nz:
            continue
        s = site_of(xx, yy, zz, L)
        if C.occ[s] < 0 and not blocked(s, L, C.fields):
            d = bx * L.dist[k, 0] + by * L.dist[k, 1] + bz * L.dist[k, 2]
            wsum += 1.0 + 4.0 * max(-0.25, d)
    if wsum <= 0.0:
        return -1
    target = u * wsum
    acc = 0.0
    last = -1
    for k in range(nb):
        xx, yy, zz = x + L.offs[k, 0], y + L.offs[k, 1], z + L.offs[k, 2]
        if xx < 0 or yy < 0 or zz < 0 or xx >= L.nx or yy >= L.ny or zz >= L.nz:
            continue
        s = site_of(xx, yy, zz, L)
        if C.occ[s] < 0 and not blocked(s, L, C.fields):
            d = bx * L.dist[k, 0] + by * L.dist[k, 1] + bz * L.dist[k, 2]
            w = 1.0 + 4.0 * max(-0.25, d)
            if w > 0.0:
                last = k
            acc += w
            if target < acc and w > 0.0:
                return k
    return last


@njit(cache=True)
def apply(n, next_uid, L, C, R, X, E, seed, step, time, init_state, acting, na):
    """Carry out kills, fates and moves, one cell at a time from a per-step random offset.

    ``acting[:na]``: the cells with anything to do, ascending (:mod:`tmesim.engine.acting`);
    they are visited in the order of cells from the offset on, wrapping round, which is the
    order a loop over every cell would visit them in. Returns (cell count, next uid, number of
    events written).
    """
    ne = 0
    m = n
    if n == 0:
        return m, next_uid, ne
    start = int(rng.uniform(seed, step, 0, rng.ORDER) * n)
    first = np.searchsorted(acting[:na], start)
    W = C.var.shape[1]
    cvol = R.meta[13]
    for q in range(na):
        r = first + q  # (first + q) mod na without an integer division per cell (first <= na)
        if r >= na:
            r -= na
        i = acting[r]
        if C.dead[i] != ALIVE:
            continue
        t = C.ctype[i]
        j = X.kill[i]
        md = X.mode[i]
        if j >= 0:
            dj = C.dead[j]
            if md == M_EAT_DEAD:
                if dj == APOPTOTIC or dj == KILLED or dj == NECROTIC:
                    C.dead[j] = EATEN
                    C.occ[site_of(C.cx[j], C.cy[j], C.cz[j], L)] = -1
                    ne = _record(E, ne, E_PHAGOCYTOSIS, C.uid[j], C.ctype[j], t, C.cx[j], C.cy[j], C.cz[j])
            elif dj == ALIVE:
                if md == M_KILL:
                    C.dead[j] = KILLED
                    C.dead_time[j] = time
                    ne = _record(E, ne, E_KILLED, C.uid[j], C.ctype[j], t, C.cx[j], C.cy[j], C.cz[j])
                elif md == M_DAMAGE:
                    C.var_new[j, R.meta[12]] += X.hit[i]
                else:
                    C.dead[j] = EATEN
                    C.dead_time[j] = time
                    C.occ[site_of(C.cx[j], C.cy[j], C.cz[j], L)] = -1
                    ne = _record(E, ne, E_PHAGOCYTOSIS if md == M_EAT else E_FUSION, C.uid[j], C.ctype[j], t,
                                 C.cx[j], C.cy[j], C.cz[j])
        x, y, z = C.cx[i], C.cy[i], C.cz[i]
        f = X.fate[i]
        if f == F_DIVIDE:
            k = _free_neighbour(x, y, z, L, C, rng.uniform(seed, step, C.uid[i], rng.PLACE), 0.0, 0.0, 0.0)
            if k >= 0:
                xx, yy, zz = x + L.offs[k, 0], y + L.offs[k, 1], z + L.offs[k, 2]
                C.uid[m] = next_uid
                next_uid += 1
                td = X.fate_arg[i]  # the daughter's type (asymmetric division) or the mother's
                C.ctype[m] = td
                C.cx[m], C.cy[m], C.cz[m] = xx, yy, zz
                C.dead[m] = ALIVE
                C.dead_time[m] = 0.0
                for v in range(W):
                    C.var[m, v] = C.var_new[i, v]
                    C.var_new[m, v] = C.var_new[i, v]
                if td != t:
                    C.var[m, cvol] = init_state[td, cvol]
                    C.var_new[m, cvol] = init_state[td, cvol]
                C.occ[site_of(xx, yy, zz, L)] = m
                X.nmove[m] = 0
                X.fate[m] = F_NONE
                X.kill[m] = -1
                ne = _record(E, ne, E_DIVISION, C.uid[i], t, C.uid[m], x, y, z)
                m += 1
        elif f == F_APOPTOSIS or f == F_NECROSIS:
            C.dead[i] = APOPTOTIC if f == F_APOPTOSIS else NECROTIC
            C.dead_time[i] = time
            ne = _record(E, ne, E_APOPTOSIS if f == F_APOPTOSIS else E_NECROSIS, C.uid[i], t, -1, x, y, z)
            continue
        elif f == F_TRANSFORM:
            C.ctype[i] = X.fate_arg[i]
            C.var_new[i, cvol] = init_state[X.fate_arg[i], cvol]
            ne = _record(E, ne, E_TRANSITION, C.uid[i], t, X.fate_arg[i], x, y, z)
        elif f == F_INTRAVASATE:
            # The event's arg is the cluster id (the leader's uid): touching cells of the same
            # type leave with it with their "cluster departure" probability (CTC clusters).
            C.dead[i] = GONE
            C.occ[site_of(x, y, z, L)] = -1
            ne = _record(E, ne, E_INTRAVASATION, C.uid[i], t, C.uid[i], x, y, z)
            for k in range(L.offs.shape[0]):
                xx, yy, zz = x + L.offs[k, 0], y + L.offs[k, 1], z + L.offs[k, 2]
                if xx < 0 or yy < 0 or zz < 0 or xx >= L.nx or yy >= L.ny or zz >= L.nz:
                    continue
                j = C.occ[site_of(xx, yy, zz, L)]
                if j < 0 or C.dead[j] != ALIVE or C.ctype[j] != t or X.join[j] <= 0.0:
                    continue
                if rng.uniform_k(seed, step, C.uid[j], rng.CLUSTER, 0) < X.join[j]:
                    C.dead[j] = GONE
                    C.occ[site_of(C.cx[j], C.cy[j], C.cz[j], L)] = -1
                    ne = _record(E, ne, E_INTRAVASATION, C.uid[j], t, C.uid[i], C.cx[j], C.cy[j], C.cz[j])
            continue
        for h in range(X.nmove[i]):
            u = rng.uniform_k(seed, step, C.uid[i], rng.MOVE_DIR, h)
            x, y, z = C.cx[i], C.cy[i], C.cz[i]
            k = _free_neighbour(x, y, z, L, C, u, X.bias[i, 0], X.bias[i, 1], X.bias[i, 2])
            if k < 0:
                break
            C.occ[site_of(x, y, z, L)] = -1
            C.cx[i], C.cy[i], C.cz[i] = x + L.offs[k, 0], y + L.offs[k, 1], z + L.offs[k, 2]
            C.occ[site_of(C.cx[i], C.cy[i], C.cz[i], L)] = i
    return m, next_uid, ne


@njit(cache=True)
def recruit(n, next_uid, L, C, R, E, ne, recruitable, seed, step, time, dt, init_state, perfusion):
    """New cells of recruitable types enter next to live, *perfused* vessel cells.

    Blood-borne cells (lymphocytes, monocytes, neutrophils) reach a vessel only if blood flows
    through it: a vessel compressed shut or cut off from the host network (``perfusion`` 0 at
    its site, :mod:`tmesim.engine.perfusion`) admits none (Jain, Science 2005;307:58,
    doi:10.1126/science.1104819: abnormal, poorly perfused tumor vessels limit immune-cell
    delivery). The per-vessel rate is the ``recruitment`` behaviour: adhesion on the endothelium
    and the rules that raise or lower it (TNF-α activation, CXCL9/10, VEGF anergy).

    A rate is a convex combination of its base value and its rules' saturation values
    (:mod:`tmesim.model.response`), so it never exceeds the largest of them: where the event's
    uniform number already fails that cap (:func:`slots.value_cap`, :func:`slots.never`), the rules
    are not evaluated. Recruitment per vessel and step is rare (cap·dt ~ 1e-3 in the presets),
    so nearly every evaluation is skipped, with the same events as evaluating every rate."""
    m = n
    W = C.var.shape[1]
    b3, rt, meta, fields, offs = R.b3, R.rt, R.meta, C.fields, L.offs
    occ, dead, ctype, var, is_vessel = C.occ, C.dead, C.ctype, C.var, R.is_vessel
    cap_dt = np.empty(recruitable.shape[0])
    for q in range(recruitable.shape[0]):
        cap_dt[q] = value_cap(b3, rt, recruitable[q], B_RECRUIT) * dt
    for i in range(n):
        if C.dead[i] != ALIVE or not R.is_vessel[C.ctype[i]]:
            continue
        x, y, z = C.cx[i], C.cy[i], C.cz[i]
        if perfusion[site_of(x, y, z, L)] <= 0.0:
            continue
        for q in range(recruitable.shape[0]):
            u = rng.uniform_k(seed, step, C.uid[i], rng.RECRUIT, q)
            if never(u, cap_dt[q]):
                continue
            k = recruitable[q]
            rate = behaviour(k, B_RECRUIT, -1, x, y, z, time, b3, rt, meta, fields, offs, occ, dead, ctype, var, is_vessel)
            if rate <= 0.0:
                continue
            if not happens(u, rate * dt):
                continue
            h = _free_neighbour(x, y, z, L, C, rng.uniform_k(seed, step, C.uid[i], rng.RECRUIT_PLACE, q), 0.0, 0.0, 0.0)
            if h < 0:
                break
            xx, yy, zz = x + L.offs[h, 0], y + L.offs[h, 1], z + L.offs[h, 2]
            C.uid[m] = next_uid
            next_uid += 1
            C.ctype[m] = k
            C.cx[m], C.cy[m], C.cz[m] = xx, yy, zz
            C.dead[m] = ALIVE
            C.dead_time[m] = 0.0
            for v in range(W):
                C.var[m, v] = init_state[k, v]
                C.var_new[m, v] = init_state[k, v]
            C.occ[site_of(xx, yy, zz, L)] = m
            ne = _record(E, ne, E_RECRUITMENT, C.uid[m], k, -1, xx, yy, zz)
            m += 1
    return m, next_uid, ne


@njit(cache=True)
def clear_and_compact(n, L, C, time, clear_apoptotic, clear_necrotic):
    """Remove cleared corpses and departed cells, keeping the survivors' order."""
    m = 0
    V = C.var.shape[1]
    for i in range(n):
        d = C.dead[i]
        remove = False
        if d == GONE or d == EATEN:
            remove = True
        elif d == APOPTOTIC or d == KILLED:
            remove = time - C.dead_time[i] >= clear_apoptotic[C.ctype[i]]
        elif d == NECROTIC:
            remove = time - C.dead_time[i] >= clear_necrotic[C.ctype[i]]
        if remove:
            if d != GONE and d != EATEN:
                C.occ[site_of(C.cx[i], C.cy[i], C.cz[i], L)] = -1
            continue
        if m != i:
            C.uid[m] = C.uid[i]
            C.ctype[m] = C.ctype[i]
            C.cx[m], C.cy[m], C.cz[m] = C.cx[i], C.cy[i], C.cz[i]
            C.dead[m] = d
            C.dead_time[m] = C.dead_time[i]
            for v in range(V):
                C.var[m, v] = C.var_new[i, v]
            C.occ[site_of(C.cx[m], C.cy[m], C.cz[m], L)] = m
        else:
            for v in range(V):
                C.var[m, v] = C.var_new[i, v]
        m += 1
    return m
