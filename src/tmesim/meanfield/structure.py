"""What the mean-field right-hand side loops over, and what each Jacobian column depends on, read
from the compiled rule tables (:class:`tmesim.meanfield.compile.MeanFieldTables`).

Plain Python run once per solver (or once per rule structure, for the Jacobian's dependencies):
its results are arrays the compiled :mod:`tmesim.meanfield.rhs` reads.
"""

from __future__ import annotations

import numpy as np


def rate_links(tb) -> np.ndarray:  # noqa: ANN001
    """What ``rhs`` loops over instead of every type, as CSR in one array (S + 2T lists, then
    their entries; pointers absolute): ``links[s]:links[s+1]`` the types that can secrete, take
    up or export substrate s; ``links[S+t]:links[S+t+1]`` the types type t can attack;
    ``links[S+T+t]:links[S+T+t+1]`` the types it can transform into (not itself), in type order.
    A type can when it has a base rate or a rule for the behaviour (``vals`` holds the base value
    where there is no rule); a non-finite secretion target keeps the type in (0 × inf is not 0)."""
    T = tb.n_types
    can = tb.base != 0.0
    can[tb.g_t, tb.g_b] = True
    sub = can[:, tb.b_sec] | can[:, tb.b_upt] | can[:, tb.b_exp] | ~np.isfinite(tb.base[:, tb.b_sect])  # [T, S]
    trans = can[:, tb.b_trans] & ~np.eye(T, dtype=bool)
    lists = [np.flatnonzero(c) for c in (*sub.T, *can[:, tb.b_attack], *trans)]
    out = np.zeros(len(lists) + 1 + sum(len(x) for x in lists), dtype=np.int64)
    pos = len(lists) + 1
    for i, x in enumerate(lists):
        out[i] = pos
        out[pos:pos + len(x)] = x
        pos += len(x)
    out[len(lists)] = pos
    return out


def binomial_slots(tb) -> np.ndarray:  # noqa: ANN001
    """For each rule, the slot of its neighbour-hit probability in ``rhs`` (-1: none), then the
    number of slots. A ``contact with <type>`` rule's probability depends on its cell type and
    the contact type (on the contact type alone for a group of free sites); ``pressure`` rules
    all see the occupancy."""
    from .compile import CONT, PRES

    out = np.full(tb.r_kind.shape[0] + 1, -1, dtype=np.int64)
    slots: dict[tuple[int, ...], int] = {}
    for g in range(tb.g_t.shape[0]):
        ct, site = int(tb.g_t[g]), int(tb.g_site[g]) == 1
        for r in range(int(tb.g_start[g]), int(tb.g_start[g] + tb.g_count[g])):
            kind, arg = int(tb.r_kind[r]), int(tb.r_arg[r])
            if kind == CONT:
                key = (CONT, -1 if site else ct, arg)
            elif kind == PRES:
                key = (PRES,)
            else:
                continue
            out[r] = slots.setdefault(key, len(slots))
    out[-1] = len(slots)
    return out


_DEPENDENCIES: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


def group_dependencies(tb, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """:func:`group_dependencies_uncached`, kept per process for the last few rule structures
    (the virtual patients of a cohort change rule values, not which rules read what). Callers
    must not write to the arrays returned."""
    parts = (tb.g_t, tb.g_start, tb.g_count, tb.r_kind, tb.r_arg, tb.is_vessel, tb.perf[:2] >= 0.0,
             tb.perf[1:2], tb.pen > 0.0, np.asarray(idx), np.array([tb.n_types, tb.n_sub, tb.n_vars]))
    key = b"|".join(f"{a.dtype}{a.shape}".encode() + np.ascontiguousarray(a).tobytes() for a in parts)
    hit = _DEPENDENCIES.get(key)
    if hit is None:
        if len(_DEPENDENCIES) >= 8:
            _DEPENDENCIES.pop(next(iter(_DEPENDENCIES)))
        hit = _DEPENDENCIES[key] = group_dependencies_uncached(tb, idx)
    return hit


def group_dependencies_uncached(tb, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """For each column ``j`` of the reduced state (``idx``), the behaviour groups whose value can
    depend on it, as CSR (``ptr[j]:ptr[j+1]`` into ``groups``), read from the rule tables.

    A group reads the live count of its own type (an absent type's behaviour is skipped) and,
    per rule: a substrate its concentration; ``contact with <type>`` that type's count;
    ``pressure`` every count and corpse (occupancy); ``contact with vessel`` the vessel counts;
    a state variable its type's sum and count; ``neighbour <variable>`` every count and that
    variable's sums; a drug with penetration every count (live cells compress vessels) and the
    vessels' stabilising variable (perfused vessels deliver it). A superset is safe (only
    slower); a missing entry would make the Jacobian wrong, which the tests compare entry by
    entry with the full evaluation."""
    from .compile import CONT, EXTRA, NVAR, PRES, SUB, VAR, VES

    T, S, V = tb.n_types, tb.n_sub, tb.n_vars
    oC, oM = 4 * T, 4 * T + S
    live = set(range(T))
    vessels = {k for k in range(T) if tb.is_vessel[k]}
    perf, pen = tb.perf, tb.pen
    deps: list[set[int]] = []
    for g in range(tb.g_t.shape[0]):
        ct = int(tb.g_t[g])
        d = {ct}
        for r in range(int(tb.g_start[g]), int(tb.g_start[g] + tb.g_count[g])):
            kind, arg = int(tb.r_kind[r]), int(tb.r_arg[r])
            if kind == SUB:
                d.add(oC + arg)
            elif kind == CONT:
                d.add(arg)
            elif kind == PRES:
                d |= set(range(4 * T))
            elif kind == VES:
                d |= vessels
            elif kind == VAR:
                d.add(oM + ct * V + arg)
            elif kind == NVAR:
                d |= live | {oM + k * V + arg for k in range(T)}
            elif kind == EXTRA and pen.shape[0] > arg and pen[arg] > 0.0 and perf[0] >= 0.0:
                d |= live
                if perf[1] >= 0.0:
                    d |= {oM + k * V + int(perf[1]) for k in vessels}
        deps.append(d)
    ptr = [0]
    groups: list[int] = []
    for full in np.asarray(idx):
        groups += [g for g, d in enumerate(deps) if int(full) in d]
        ptr.append(len(groups))
    return np.array(ptr, dtype=np.int64), np.array(groups, dtype=np.int64)
