"""numba kernels over the struct-of-arrays cell state.

Long module: rule evaluation (signals, behaviours by Hill slots, the parallel decision pass
``evaluate``) shares the behaviour indices of ``compiled``, the neighbour helpers and the
per-thread value tables, and reads as one pass; the serial actions that follow it are in
:mod:`tmesim.engine.actions`.

Parallel kernels (``prange``) only write to entries of the cell or site they own, so their
result does not depend on the thread count. Kernels where cells compete for sites
(division, migration, killing, recruitment: :mod:`tmesim.engine.actions`) run serially in an
order drawn per step.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import get_thread_id, njit, prange

from tmesim.model.response import EMPTY, accumulate, combine, hill

from . import rng
from .compiled import (
    B_APOPTOSIS,
    B_ATTACK_DAMAGE,
    B_ATTACK_DURATION,
    B_BIAS,
    B_CLUSTER,
    B_CYCLE,
    B_DAMAGE,
    B_EAT_APOPTOTIC,
    B_EAT_NECROTIC,
    B_EXCHANGE,
    B_INTRAVASATE,
    B_NECROSIS,
    B_REPAIR,
    B_SPEED,
)
from .slots import (
    C_APOPTOTIC,
    C_DEAD,
    C_LIVE,
    C_NECROTIC,
    C_OCCUPIED,
    C_VESSEL,
    K_CONST,
    K_COUNT,
    K_DRUG,
    K_FIELD,
    K_NMEAN,
    K_VAR,
    N_COUNTS,
    P_ASYMMETRIC,
    P_ATTACK,
    P_CHEMOTAXIS,
    P_EAT_FUSE,
    P_EXCHANGE,
    P_TRANSFORM,
    fate_caps,
    fill_tables,
    happens,
    hill_slot,
    never,
)

# Death/presence codes in ``dead``. GONE left for the blood; EATEN was engulfed or fused into
# another cell; both have already left the lattice and are removed at the end of the step.
ALIVE, APOPTOTIC, NECROTIC, KILLED, GONE, EATEN = 0, 1, 2, 3, 4, 5
N_STATUS = 6
# What a cell does to the one cell it acts on in a step (Scratch.mode).
M_KILL, M_DAMAGE, M_EAT, M_FUSE, M_EAT_DEAD = range(5)
# Fate codes chosen by ``evaluate``.
F_NONE, F_DIVIDE, F_APOPTOSIS, F_NECROSIS, F_TRANSFORM, F_INTRAVASATE = range(6)
# Event codes written by the serial kernels.
E_DIVISION, E_APOPTOSIS, E_NECROSIS, E_KILLED, E_TRANSITION, E_RECRUITMENT, E_INTRAVASATION = range(1, 8)
E_PHAGOCYTOSIS, E_FUSION = 8, 9
EVENT_NAMES = {E_DIVISION: "division", E_APOPTOSIS: "apoptosis", E_NECROSIS: "necrosis",
               E_KILLED: "killed", E_TRANSITION: "transition", E_RECRUITMENT: "recruitment",
               E_INTRAVASATION: "intravasation", E_PHAGOCYTOSIS: "phagocytosis", E_FUSION: "fusion"}

# Rule tables, the lattice and the cell arrays, passed to kernels as named tuples.
Rules = namedtuple(
    "Rules",
    "base active r_start r_count r_sig r_up r_sat r_half r_hill r_dead n_sub n_types n_vars "
    "sig_pressure sig_dead sig_time sig_vessel sig_var0 sig_nvar0 is_vessel "
    "b_sec b_sect b_upt b_exp b_chemo b_trans b_attack b_immuno b_vinc b_vdec b_custom b_eat b_fuse b_asym "
    "act_ptr act_idx b3 rt meta "
    # Hill slots (tmesim.engine.slots) and their per-thread scratch
    "slot_ptr sl_int sl_num r_slot htab needs_counts hbuf cbuf plan "
    # bounds that let a cell skip what cannot change its outcome (slots.fate_caps)
    "fate_fixed caps",
)
# bsub/bthr: the barrier substrate (model.barrier; -1: none) and the value at which it holds
Lattice = namedtuple("Lattice", "nx ny nz offs dist bsub bthr")
Cells = namedtuple("Cells", "uid ctype cx cy cz dead dead_time var var_new occ fields")
# swap: probability of exchanging places with a neighbour this step (tmesim.engine.exchange)
Scratch = namedtuple("Scratch", "fate fate_arg nmove bias kill join mode hit swap")
Events = namedtuple("Events", "kind uid ctype arg x y z")


def neighbour_offsets(dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Moore neighbourhood (8 in 2D, 26 in 3D) and the unit vector to each neighbour."""
    rz = (-1, 0, 1) if dims == 3 else (0,)
    offs = np.array([(dx, dy, dz) for dz in rz for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if (dx, dy, dz) != (0, 0, 0)], np.int32)
    norm = np.sqrt((offs.astype(np.float64) ** 2).sum(1))[:, None]
    return offs, offs / norm


@njit(inline="always", cache=True)
def site_of(x, y, z, L):
    return (z * L.ny + y) * L.nx + x


@njit(cache=True)
def site_steps(offs, nx, ny):
    """Site-index step to each neighbour (``offs`` order): neighbour m of a site away from the
    domain's edge is ``site + steps[m]``, one add instead of three coordinates and six bounds tests."""
    steps = np.empty(offs.shape[0], np.int64)
    for m in range(offs.shape[0]):
        steps[m] = (offs[m, 2] * ny + offs[m, 1]) * nx + offs[m, 0]
    return steps


@njit(inline="always", cache=True)
def inside_edge(x, y, z, nx, ny, nz):
    """Is every Moore neighbour of (x, y, z) in the domain (2D: z is 0 and so is every z offset)?"""
    return 0 < x < nx - 1 and 0 < y < ny - 1 and (nz == 1 or 0 < z < nz - 1)


@njit(inline="always", cache=True)
def neighbour_at(occ, site, steps, offs, m, inner, x, y, z, nx, ny, nz):
    """Occupant of neighbour ``m`` of ``site`` at (x, y, z): one precomputed step when the site is
    ``inner`` (:func:`inside_edge`), else its coordinates with bounds tests; -1 when empty or
    outside the domain."""
    if inner:
        return occ[site + steps[m]]
    xx, yy, zz = x + offs[m, 0], y + offs[m, 1], z + offs[m, 2]
    if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
        return -1
    return occ[(zz * ny + yy) * nx + xx]


@njit(inline="always", cache=True)
def neighbour_mean(col, site, occ, dead, var, steps, offs, inner, x, y, z, nx, ny, nz):
    """Mean of ``var[:, col]`` over the live Moore neighbours (0 with none): the numbers of
    :func:`neighbour_stat` (what=3), in the same order, with :func:`neighbour_at`'s reads."""
    hit = 0.0
    live = 0
    for m in range(offs.shape[0]):
        j = neighbour_at(occ, site, steps, offs, m, inner, x, y, z, nx, ny, nz)
        if j >= 0 and dead[j] == ALIVE:
            hit += var[j, col]
            live += 1
    return hit / live if live > 0 else 0.0


# Rule evaluation takes a handful of plain arrays rather than the named tuples: every array
# bound to an inlined function's argument costs a reference-count update, and with ~50
# arrays in the tuples that dominated the cost of a rule (measured 1.3 µs → ~0.1 µs).
# meta = [S, T, sig_pressure, sig_dead, sig_time, sig_vessel, sig_var0, sig_nvar0, nx, ny, nz,
# sig_drug0, damage column, volume column]. The signals after sig_vessel and before sig_var0
# are contact with live / dead / apoptotic / necrotic cells, then the cell's own apoptotic and
# necrotic flags; sig_var0..sig_nvar0 read the per-cell array (state, custom, damage, volume).
# b3[t, b] = (base, first rule, number of rules); rt[k] = (signal, up, saturation, half-max,
# Hill power, applies to dead, drug exposure, drug index). A drug signal (index >= sig_drug0) is global:
# the simulation writes its exposure C(t) into rt[k, 6] once per step, so the per-cell loop
# reads one number instead of evaluating a signal.


@njit(cache=True)
def neighbour_stat(i, x, y, z, what, arg, meta, offs, occ, dead, ctype, var, is_vessel):
    """Scan the Moore neighbourhood: what=0 fraction of live type `arg`, 1 fraction occupied,
    2 any live vessel, 3 mean of state variable `arg` over live neighbours; fraction of sites
    holding a 4 live, 5 dead, 6 apoptotic or killed, 7 necrotic cell."""
    nx, ny, nz = meta[8], meta[9], meta[10]
    nb = offs.shape[0]
    hit = 0.0
    live = 0
    for k in range(nb):
        xx = x + offs[k, 0]
        yy = y + offs[k, 1]
        zz = z + offs[k, 2]
        if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
            continue
        j = occ[(zz * ny + yy) * nx + xx]
        if j < 0:
            continue
        if what == 1:
            hit += 1.0
            continue
        if what >= 4:
            d = dead[j]
            if (what == 4 and d == ALIVE) or (what == 5 and d != ALIVE) \
                    or (what == 6 and (d == APOPTOTIC or d == KILLED)) or (what == 7 and d == NECROTIC):
                hit += 1.0
            continue
        if dead[j] != ALIVE:
            continue
        t = ctype[j]
        if what == 0:
            if t == arg:
                hit += 1.0
        elif what == 2:
            if is_vessel[t]:
                return 1.0
        else:
            hit += var[j, arg]
            live += 1
    if what == 3:
        return hit / live if live > 0 else 0.0
    if what == 2:
        return 0.0
    return hit / nb


@njit(inline="always", cache=True)
def signal(sig, i, x, y, z, time, meta, fields, offs, occ, dead, ctype, var, is_vessel):
    """Value of signal `sig` for cell i at (x, y, z); i = -1 evaluates a site without a cell."""
    S = meta[0]
    if sig < S:
        return fields[sig, (z * meta[9] + y) * meta[8] + x]
    if sig < S + meta[1]:
        return neighbour_stat(i, x, y, z, 0, sig - S, meta, offs, occ, dead, ctype, var, is_vessel)
    if sig == meta[2]:
        return neighbour_stat(i, x, y, z, 1, 0, meta, offs, occ, dead, ctype, var, is_vessel)
    if sig == meta[3]:
        return 1.0 if (i >= 0 and dead[i] != ALIVE) else 0.0
    if sig == meta[4]:
        return time
    if sig == meta[5]:
        return neighbour_stat(i, x, y, z, 2, 0, meta, offs, occ, dead, ctype, var, is_vessel)
    if sig < meta[6]:
        k = sig - meta[5]
        if k <= 4:
            return neighbour_stat(i, x, y, z, 3 + k, 0, meta, offs, occ, dead, ctype, var, is_vessel)
        if i < 0:
            return 0.0
        if k == 5:
            return 1.0 if (dead[i] == APOPTOTIC or dead[i] == KILLED) else 0.0
        return 1.0 if dead[i] == NECROTIC else 0.0
    if sig < meta[7]:
        return var[i, sig - meta[6]] if i >= 0 else 0.0
    return neighbour_stat(i, x, y, z, 3, sig - meta[7], meta, offs, occ, dead, ctype, var, is_vessel)


@njit(inline="always", cache=True)
def behaviour(t, b, i, x, y, z, time, b3, rt, meta, fields, offs, occ, dead, ctype, var, is_vessel):
    """Base value of behaviour b for type t, raised/lowered by its rules (Hill responses),
    combined by the law in :mod:`tmesim.model.response` (shared with the mean-field engine)."""
    v0 = b3[t, b, 0]
    n = int(b3[t, b, 2])
    if n == 0:
        return v0
    start = int(b3[t, b, 1])
    is_dead = i >= 0 and dead[i] != ALIVE
    # Every rule, drug rules included, joins one accumulator (PhysiCell's grammar): a survival
    # signal that lowers apoptosis lowers drug-induced apoptosis too (TME-mediated resistance).
    acc = EMPTY
    for k in range(start, start + n):
        if is_dead and rt[k, 5] == 0.0:
            continue
        sig = int(rt[k, 0])
        if sig >= meta[11]:
            # global exposure C(t) times the tissue delivery at this site (engine.perfusion),
            # kept as extra rows after the substrates in ``fields``
            s = rt[k, 6] * fields[meta[0] + int(rt[k, 7]), (z * meta[9] + y) * meta[8] + x]
        else:
            s = signal(sig, i, x, y, z, time, meta, fields, offs, occ, dead, ctype, var, is_vessel)
        acc = accumulate(acc, hill(s, rt[k, 3], rt[k, 4]), rt[k, 1] != 0.0, rt[k, 2])
    return combine(v0, acc)


@njit(inline="always", cache=True)
def rule_values(p, i, x, y, z, site, tid, time, vals, hbuf, cbuf, slot_ptr, sl_int, sl_num, r_slot, htab,
                needs_counts, act_ptr, act_idx, b3, rt, meta, fields, offs, occ, dead, ctype, var, is_vessel,
                steps):
    """``vals[tid, t, b]`` = the value of every behaviour with rules of phase ``p`` of live cell
    i (type t = p // 2; phase 2 t: the behaviours every cell needs, 2 t + 1: those only a firing
    fate clock reads, after phase 2 t; :func:`tmesim.engine.slots.build_slots`): each distinct
    Hill response of the phase's rules once, then each behaviour accumulates its rules'
    responses in rule order. The same numbers as :func:`behaviour`, rule by rule (tested). Away
    from the domain's edge, neighbour m is at ``site + steps[m]`` (:func:`site_steps`), read
    without bounds tests. (At most 30 arguments: CPython passes more as ``*args``, which numba
    cannot inline.)"""
    t = p >> 1
    S, T = meta[0], meta[1]
    nb = offs.shape[0]
    nx, ny, nz = meta[8], meta[9], meta[10]
    inner = inside_edge(x, y, z, nx, ny, nz)
    if needs_counts[p] > 0:
        full = needs_counts[p] == 2  # else the type reads only pressure (occupied sites)
        if full:
            for q in range(T + N_COUNTS):
                cbuf[tid, q] = 0
        filled = 0
        for m in range(nb):
            j = neighbour_at(occ, site, steps, offs, m, inner, x, y, z, nx, ny, nz)
            if j < 0:
                continue
            filled += 1
            if not full:
                continue
            d = dead[j]
            if d == ALIVE:
                cbuf[tid, T + C_LIVE] += 1
                tj = ctype[j]
                cbuf[tid, tj] += 1
                if is_vessel[tj]:
                    cbuf[tid, T + C_VESSEL] = nb
            else:
                cbuf[tid, T + C_DEAD] += 1
                if d == APOPTOTIC or d == KILLED:
                    cbuf[tid, T + C_APOPTOTIC] += 1
                elif d == NECROTIC:
                    cbuf[tid, T + C_NECROTIC] += 1
        cbuf[tid, T + C_OCCUPIED] = filled
    for g in range(slot_ptr[p], slot_ptr[p + 1]):
        kind = sl_int[g, 0]
        a = sl_int[g, 1]
        if kind == K_COUNT:
            hbuf[tid, g] = htab[g, cbuf[tid, a]]
        elif kind == K_CONST:
            hbuf[tid, g] = htab[g, 0]
        else:
            if kind == K_FIELD:
                sv = float(fields[a, site])
            elif kind == K_VAR:
                sv = float(var[i, a])
            elif kind == K_DRUG:
                sv = rt[a, 6] * fields[S + int(rt[a, 7]), site]
            elif kind == K_NMEAN:
                sv = neighbour_mean(a, site, occ, dead, var, steps, offs, inner, x, y, z, nx, ny, nz)
            else:
                sv = signal(a, i, x, y, z, time, meta, fields, offs, occ, dead, ctype, var, is_vessel)
            hbuf[tid, g] = hill_slot(sv, sl_num[g, 0], sl_num[g, 1], sl_int[g, 2])
    for k in range(act_ptr[p], act_ptr[p + 1]):
        b = act_idx[k]
        r0 = int(b3[t, b, 1])
        acc = EMPTY
        for r in range(r0, r0 + int(b3[t, b, 2])):
            acc = accumulate(acc, hbuf[tid, r_slot[r]], rt[r, 1] != 0.0, rt[r, 2])
        vals[tid, t, b] = combine(b3[t, b, 0], acc)


@njit(inline="always", cache=True)
def _v(vals, tid, b3, t, b):
    """A behaviour value of the current cell: ``vals[tid, t]`` holds the type's base values
    (:func:`evaluate` fills them) and ``rule_values`` overwrites those with rules, so one
    load replaces a test of the rule count and a second table."""
    return vals[tid, t, b]


@njit(parallel=True, cache=True)
def evaluate(n, L, C, R, X, vals, gain, loss, seed, step, time, dt, dx):
    """Every live cell's behaviours, evaluated once per step, and what follows from them.

    Writes, for cell i only: the secretion/uptake source ``gain[s, site]`` = r c* + e and loss
    rate ``loss[s, site]`` = r + u of its own voxel (applied implicitly by the field solver);
    its new state variables (relaxing toward 1 at the increase rate, toward 0 at the decrease
    rate); its fate (competing exponential clocks over one step); its hops and chemotactic
    bias; and at most one attack target. ``vals`` is per-thread scratch [threads, types, behaviours].
    Behaviours are evaluated through a single call site so numba inlines the rule machinery
    once.
    """
    V = R.n_vars
    nb = L.offs.shape[0]
    # Writes go through local names, one plain assignment each: numba's parfor lowering does
    # not reliably keep stores made through named-tuple attributes inside prange, nor (measured:
    # every store to join and swap was lost) through names bound by unpacking a tuple of them.
    fate = X.fate
    fate_arg = X.fate_arg
    nmove = X.nmove
    bias = X.bias
    kill = X.kill
    var_new = C.var_new
    join = X.join
    mode = X.mode
    hit = X.hit
    W = var_new.shape[1]
    NC = R.b_custom.shape[0]
    b_custom, b_eat, b_fuse, b_asym = R.b_custom, R.b_eat, R.b_fuse, R.b_asym
    cdmg, cvol = R.meta[12], R.meta[13]
    b3, rt, meta, fields, offs = R.b3, R.rt, R.meta, C.fields, L.offs
    occ, dead, ctype, var, is_vessel = C.occ, C.dead, C.ctype, C.var, R.is_vessel
    # Every array the loop touches is bound to a local once, outside the loop: reading it
    # through a named tuple inside the loop costs reference counting per access.
    act_ptr, act_idx, cuid, cx, cy, cz = R.act_ptr, R.act_idx, C.uid, C.cx, C.cy, C.cz
    b_sec, b_sect, b_upt, b_exp, b_chemo = R.b_sec, R.b_sect, R.b_upt, R.b_exp, R.b_chemo
    b_trans, b_attack, b_immuno, b_vinc, b_vdec = R.b_trans, R.b_attack, R.b_immuno, R.b_vinc, R.b_vdec
    nx, ny, nz = L.nx, L.ny, L.nz
    slot_ptr, sl_int, sl_num, r_slot, htab = R.slot_ptr, R.sl_int, R.sl_num, R.r_slot, R.htab
    needs_counts, hbuf, cbuf, plan = R.needs_counts, R.hbuf, R.cbuf, R.plan
    fill_tables(sl_int, sl_num, htab, time, meta[4], nb)
    T = R.n_types
    caps = R.caps
    fate_caps(b3, rt, R.fate_fixed, b_trans, b_immuno, dt, caps)
    steps = site_steps(offs, nx, ny)
    for th in range(vals.shape[0]):
        for ty in range(vals.shape[1]):
            for bb in range(vals.shape[2]):
                vals[th, ty, bb] = b3[ty, bb, 0]
    for i in prange(n):
        fate[i] = F_NONE
        nmove[i] = 0
        kill[i] = -1
        if dead[i] != ALIVE:
            join[i] = 0.0
            for v in range(W):
                var_new[i, v] = var[i, v]
            continue
        tid = get_thread_id()
        t = ctype[i]
        uid = cuid[i]
        x, y, z = cx[i], cy[i], cz[i]
        site = (z * ny + y) * nx + x
        # The fate clock's uniform first: where it certainly exceeds the fate's probability
        # whatever the rules give (slots.never), the behaviours only a fate reads (the second
        # phase of the type's rules) are not evaluated.
        u_fate = rng.uniform(seed, step, uid, rng.FATE)
        late = not never(u_fate, caps[t, T])
        for phase in range(2 if late else 1):
            rule_values(2 * t + phase, i, x, y, z, site, tid, time, vals, hbuf, cbuf, slot_ptr, sl_int, sl_num,
                        r_slot, htab, needs_counts, act_ptr, act_idx, b3, rt, meta, fields, offs, occ, dead, ctype,
                        var, is_vessel, steps)
        # Exchange with the cell's own voxel.
        for q in range(plan[t, P_EXCHANGE, 0]):
            s = plan[t, P_EXCHANGE, 1 + q]
            bs, bu, be = b_sec[s], b_upt[s], b_exp[s]
            r = _v(vals, tid, b3, t, bs)
            gain[s, site] = r * _v(vals, tid, b3, t, b_sect[s]) + _v(vals, tid, b3, t, be)
            loss[s, site] = r + _v(vals, tid, b3, t, bu)
        for v in range(V):
            inc = _v(vals, tid, b3, t, b_vinc[v])
            dec = _v(vals, tid, b3, t, b_vdec[v])
            if inc == 0.0 and dec == 0.0:
                var_new[i, v] = var[i, v] + dt * inc  # the line below, whose divisor is then exactly 1
            else:
                var_new[i, v] = (var[i, v] + dt * inc) / (1.0 + dt * (inc + dec))
        # Custom variables take their behaviour's value where rules act on them (as PhysiCell
        # sets custom data from rules); damage grows at the damage rate and is repaired in
        # proportion to itself (implicit, so it stays >= 0).
        for c in range(NC):
            bc = b_custom[c]
            var_new[i, V + c] = vals[tid, t, bc] if b3[t, bc, 2] > 0 else var[i, V + c]
        dmg_rate = _v(vals, tid, b3, t, B_DAMAGE)
        repair = _v(vals, tid, b3, t, B_REPAIR)
        if repair == 0.0:
            var_new[i, cdmg] = var[i, cdmg] + dt * dmg_rate  # the divisor below is then exactly 1
        else:
            var_new[i, cdmg] = (var[i, cdmg] + dt * dmg_rate) / (1.0 + dt * repair)
        var_new[i, cvol] = var[i, cvol]
        join[i] = _v(vals, tid, b3, t, B_CLUSTER)
        rc = ra = rn = ri = rtr = 0.0
        if late:  # else the fate clock certainly does not fire and these stay unevaluated
            rc = _v(vals, tid, b3, t, B_CYCLE)
            ra = _v(vals, tid, b3, t, B_APOPTOSIS)
            rn = _v(vals, tid, b3, t, B_NECROSIS)
            ri = _v(vals, tid, b3, t, B_INTRAVASATE)
            if ri > 0.0 and neighbour_stat(i, x, y, z, 2, 0, meta, offs, occ, dead, ctype, var, is_vessel) == 0.0:
                ri = 0.0  # intravasation needs a vessel next to the cell
            for q in range(plan[t, P_TRANSFORM, 0]):
                k = plan[t, P_TRANSFORM, 1 + q]
                if k != t:
                    rtr += _v(vals, tid, b3, t, b_trans[k])
        total = rc + ra + rn + ri + rtr
        if total > 0.0:
            u = u_fate
            if happens(u, total * dt):
                pick = rng.uniform(seed, step, uid, rng.FATE_PICK) * total
                if pick < rc:
                    fate[i] = F_DIVIDE
                    # Asymmetric division: the daughter's type, drawn from the probabilities.
                    fate_arg[i] = t
                    ua = rng.uniform(seed, step, uid, rng.ASYMMETRIC)
                    acc_a = 0.0
                    for q in range(plan[t, P_ASYMMETRIC, 0]):
                        k = plan[t, P_ASYMMETRIC, 1 + q]
                        pa = _v(vals, tid, b3, t, b_asym[k])
                        if pa > 0.0 and k != t:
                            acc_a += pa
                            if ua < acc_a:
                                fate_arg[i] = k
                                break
                elif pick < rc + ra:
                    fate[i] = F_APOPTOSIS
                elif pick < rc + ra + rn:
                    fate[i] = F_NECROSIS
                elif pick < rc + ra + rn + ri:
                    fate[i] = F_INTRAVASATE
                else:
                    acc = rc + ra + rn + ri
                    fate[i] = F_TRANSFORM
                    fate_arg[i] = t
                    for q in range(plan[t, P_TRANSFORM, 0]):
                        k = plan[t, P_TRANSFORM, 1 + q]
                        if k != t:
                            acc += _v(vals, tid, b3, t, b_trans[k])
                            if pick < acc:
                                fate_arg[i] = k
                                break
        speed = _v(vals, tid, b3, t, B_SPEED)
        rx = _v(vals, tid, b3, t, B_EXCHANGE)
        if speed > 0.0 or rx > 0.0:
            if speed > 0.0:
                hops = speed * dt / dx
                whole = int(hops)
                if rng.uniform(seed, step, uid, rng.MOVE) < hops - whole:
                    whole += 1
                nmove[i] = min(whole, 32)
            bx = 0.0
            by = 0.0
            bz = 0.0
            # the bias is read only by this step's hops and by an exchange of places (whose rate
            # exchange_places evaluates again, rules applied): a cell with neither skips the gradients
            used = nmove[i] > 0 or rx > 0.0 or b3[t, B_EXCHANGE, 2] > 0
            for q in range(plan[t, P_CHEMOTAXIS, 0] if used else 0):
                s = plan[t, P_CHEMOTAXIS, 1 + q]
                chi = _v(vals, tid, b3, t, b_chemo[s])
                if chi != 0.0:
                    # sites by hand: binding the lattice tuple to site_of costs reference counting
                    gx = fields[s, site - x + min(x + 1, nx - 1)] - fields[s, site - x + max(x - 1, 0)]
                    gy = fields[s, site + (min(y + 1, ny - 1) - y) * nx] - fields[s, site + (max(y - 1, 0) - y) * nx]
                    gz = 0.0
                    if nz > 1:
                        gz = fields[s, site + (min(z + 1, nz - 1) - z) * nx * ny] \
                            - fields[s, site + (max(z - 1, 0) - z) * nx * ny]
                    norm = np.sqrt(gx * gx + gy * gy + gz * gz)
                    if norm > 1e-12:
                        bx += chi * gx / norm
                        by += chi * gy / norm
                        bz += chi * gz / norm
            norm = np.sqrt(bx * bx + by * by + bz * bz)
            if norm > 1.0:
                bx /= norm
                by /= norm
                bz /= norm
            mb = min(max(_v(vals, tid, b3, t, B_BIAS), 0.0), 1.0)
            bx *= mb
            by *= mb
            bz *= mb
            bias[i, 0] = bx
            bias[i, 1] = by
            bias[i, 2] = bz
        # Engulfing a touching corpse (phagocytosis of dead cells) comes first.
        mode[i] = M_KILL
        for kind in range(2):
            rate = _v(vals, tid, b3, t, B_EAT_APOPTOTIC if kind == 0 else B_EAT_NECROTIC)
            if rate <= 0.0 or kill[i] >= 0:
                continue
            if never(rng.uniform_k(seed, step, uid, rng.PHAGOCYTOSE, 50 + kind), rate * dt):
                continue  # fails whichever corpse it touches: no need to look for one
            j = _touching(x, y, z, 6 + kind, 0, rng.uniform_k(seed, step, uid, rng.PHAGOCYTOSE, 40 + kind),
                          nx, ny, nz, offs, occ, dead, ctype)
            if j >= 0 and happens(rng.uniform_k(seed, step, uid, rng.PHAGOCYTOSE, 50 + kind), rate * dt):
                kill[i] = j
                mode[i] = M_EAT_DEAD
        inner = inside_edge(x, y, z, nx, ny, nz)
        # Attack: one touching live target per attacked type, killed with probability
        # 1 - exp(-rate * immunogenicity * dt); the first success wins. The target's
        # immunogenicity has no rules in most models; when it does, it is evaluated here.
        # With an attack damage rate, a successful attack damages instead of killing
        # (damage = attack damage rate x attack duration); rules on "damage" then decide.
        for q in range(plan[t, P_ATTACK, 0]):
            k = plan[t, P_ATTACK, 1 + q]
            rate = _v(vals, tid, b3, t, b_attack[k])
            if rate <= 0.0 or kill[i] >= 0:
                continue
            if never(rng.uniform_k(seed, step, uid, rng.ATTACK, 32 + k), rate * caps[t, k] * dt):
                continue  # fails on any target of type k, whatever its immunogenicity
            count = 0
            for m in range(nb):
                j = neighbour_at(occ, site, steps, offs, m, inner, x, y, z, nx, ny, nz)
                if j >= 0 and dead[j] == ALIVE and ctype[j] == k:
                    count += 1
            if count == 0:
                continue
            pick = int(rng.uniform_k(seed, step, uid, rng.ATTACK, k) * count)
            for m in range(nb):
                xx, yy, zz = x + offs[m, 0], y + offs[m, 1], z + offs[m, 2]
                if inner:
                    j = occ[site + steps[m]]
                else:
                    if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                        continue
                    j = occ[(zz * ny + yy) * nx + xx]
                if j >= 0 and dead[j] == ALIVE and ctype[j] == k:
                    if pick == 0:
                        bi = b_immuno[t]
                        imm = b3[k, bi, 0]
                        if b3[k, bi, 2] > 0:
                            imm = behaviour(k, bi, j, xx, yy, zz, time, b3, rt, meta, fields, offs, occ, dead,
                                            ctype, var, is_vessel)
                        if happens(rng.uniform_k(seed, step, uid, rng.ATTACK, 32 + k), rate * imm * dt):
                            kill[i] = j
                            adr = _v(vals, tid, b3, t, B_ATTACK_DAMAGE)
                            if adr > 0.0:
                                mode[i] = M_DAMAGE
                                hit[i] = adr * _v(vals, tid, b3, t, B_ATTACK_DURATION)
                        break
                    pick -= 1
        # Engulfing (phagocytosis of) or fusing with a touching live cell of a given type.
        for q in range(plan[t, P_EAT_FUSE, 0]):
            k = plan[t, P_EAT_FUSE, 1 + q]
            if kill[i] >= 0:
                break
            for act in range(2):
                rate = _v(vals, tid, b3, t, b_eat[k] if act == 0 else b_fuse[k])
                if rate <= 0.0 or kill[i] >= 0:
                    continue
                purpose = rng.PHAGOCYTOSE if act == 0 else rng.FUSE
                if never(rng.uniform_k(seed, step, uid, purpose, 64 + k), rate * dt):
                    continue
                j = _touching(x, y, z, 4, k, rng.uniform_k(seed, step, uid, purpose, k), nx, ny, nz, offs, occ, dead, ctype)
                if j >= 0 and j != i and happens(rng.uniform_k(seed, step, uid, purpose, 64 + k), rate * dt):
                    kill[i] = j
                    mode[i] = M_EAT if act == 0 else M_FUSE


@njit(cache=True)
def _touching(x, y, z, what, k, u, nx, ny, nz, offs, occ, dead, ctype):
    """One touching cell chosen uniformly with ``u``: what=4 live of type k, 6 apoptotic or
    killed, 7 necrotic; -1 if none."""
    nb = offs.shape[0]
    count = 0
    for rep in range(2):
        pick = int(u * count)
        for m in range(nb):
            xx, yy, zz = x + offs[m, 0], y + offs[m, 1], z + offs[m, 2]
            if xx < 0 or yy < 0 or zz < 0 or xx >= nx or yy >= ny or zz >= nz:
                continue
            j = occ[(zz * ny + yy) * nx + xx]
            if j < 0:
                continue
            d = dead[j]
            ok = (what == 4 and d == ALIVE and ctype[j] == k) or (what == 6 and (d == APOPTOTIC or d == KILLED)) \
                or (what == 7 and d == NECROTIC)
            if not ok:
                continue
            if rep == 0:
                count += 1
            elif pick == 0:
                return j
            else:
                pick -= 1
        if count == 0:
            return -1
    return -1
