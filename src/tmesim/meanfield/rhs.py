"""The mean-field right-hand side as one numba function over the compiled tables.

Long module: one numba function and its helpers, which must be compiled together
so numba inlines them into a single right-hand side, and the compiled functions that call it (the
Jacobian, the packed entry points LSODA calls): numba's on-disk cache of a function is not
invalidated when a function it calls in another file changes, so a caller split into its own
module could run a stale right-hand side after an edit here.  The plain-Python tables it reads
(which types exchange or attack, the binomial slots, the Jacobian's dependencies) are built in
:mod:`tmesim.meanfield.structure`.

State vector ``y`` (T cell types, S substrates, V state variables), cells and minutes:

* ``N[T]`` live cells, ``A[T]`` apoptotic corpses, ``K[T]`` killed corpses, ``Q[T]`` necrotic
  corpses (corpses occupy sites until cleared, as in the spatial engine);
* ``C[S]`` well-mixed concentrations;
* ``M[T, V]`` summed state variables (``M / N`` is the type's mean, e.g. mean EMT score);
* ``I`` cumulative cells that intravasated.

See ``tmesim.meanfield`` for the equations and the approximations they make.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tmesim.model.pk import _fill
from tmesim.model.response import EMPTY, accumulate, combine, hill
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY

from .compile import CONT, EXTRA, NVAR, PRES, SUB, TIME, VAR, VES

DELIVERY_STEPS = 200  # trapezoid steps of the drug-delivery quadrature (out to 20 penetration lengths)
F_CYCLE, F_APOPTOSIS, F_NECROSIS, F_SPEED, F_RECRUIT, F_INTRAVASATE = range(6)


def layout(T: int, S: int, V: int) -> dict[str, slice]:
    o = 0
    out = {}
    for name, n in (("N", T), ("A", T), ("K", T), ("Q", T), ("C", S), ("M", T * V), ("I", 1)):
        out[name] = slice(o, o + n)
        o += n
    return out


@njit(cache=True)
def _p_any(p, m_vals, m_w):
    """P(at least one of a site's in-domain neighbours is a hit), hits independent with prob. p."""
    out = 0.0
    for i in range(m_vals.shape[0]):
        out += m_w[i] * (1.0 - (1.0 - p) ** m_vals[i])
    return out


@njit(cache=True)
def _p_eff(p, enr, m_vals, m_w, mbar):
    """The neighbour share that, under random mixing, gives ``enr`` × the probability of at
    least one such neighbour at share ``p`` (enrichment as measured by
    ``tmesim.engine.contacts``); inverted at ``mbar``, the lattice's mean in-domain
    neighbour count."""
    if enr == 1.0 or p <= 0.0:
        return p
    target = min(enr * _p_any(p, m_vals, m_w), 1.0 - 1e-12)
    return 1.0 - (1.0 - target) ** (1.0 / mbar)


@njit(cache=True)
def _contacts_at(t, times, course, course_free, contact, free):
    """Contact and free-site enrichment at ``t`` (minutes): linear between measured times,
    held before the first and after the last."""
    K = times.shape[0]
    k = np.searchsorted(times, t, side="right") - 1
    if k < 0 or k >= K - 1:
        k = 0 if k < 0 else K - 1
        contact[:, :] = course[k]
        free[:] = course_free[k]
        return
    w = (t - times[k]) / (times[k + 1] - times[k])
    contact[:, :] = (1.0 - w) * course[k] + w * course[k + 1]
    free[:] = (1.0 - w) * course_free[k] + w * course_free[k + 1]


@njit(cache=True)
def _ves_share(c, N, is_vessel, contact, others, m_vals, m_w, mbar):
    """The vessel-neighbour share a type-c cell sees: the effective share of each vessel type
    (its contact enrichment with c), summed."""
    out = 0.0
    for k in range(N.shape[0]):
        if is_vessel[k]:
            pk = min(max((N[k] - (1.0 if c == k else 0.0)) / others, 0.0), 1.0)
            out += _p_eff(pk, contact[c, k], m_vals, m_w, mbar)
    return out


@njit(cache=True)
def _binom_expect(p, hj, m_vals, m_w, binom):
    """E[hj[j]], j ~ Binomial(m, p), m over the lattice's in-domain neighbour counts."""
    out = 0.0
    q = 1.0 - p
    for i in range(m_vals.shape[0]):
        m = m_vals[i]
        acc = 0.0
        if q <= 0.0:
            acc = hj[m]
        else:
            ratio = p / q
            pmf = q**m  # P(j = 0), then P(j+1) = P(j) (m-j)/(j+1) p/q
            for j in range(m + 1):
                acc += pmf * hj[j]
                pmf *= (m - j) / (j + 1.0) * ratio
        out += m_w[i] * acc
    return out


@njit(cache=True)
def _binom_pmf(p, m_vals, pmf):
    """The probabilities :func:`_binom_expect` forms for ``p`` (``pmf[i, j]`` = P(j | m_vals[i]),
    computed in the same order), to weigh several rules' ``hj`` that see the same ``p``; returns
    2 when q = 1 − p ≤ 0 (all neighbours hits: nothing stored), else 1."""
    q = 1.0 - p
    if q <= 0.0:
        return 2
    ratio = p / q
    for i in range(m_vals.shape[0]):
        m = m_vals[i]
        x = q**m
        for j in range(m + 1):
            pmf[i, j] = x
            x *= (m - j) / (j + 1.0) * ratio
    return 1


@njit(cache=True)
def _binom_weigh(state, pmf, hj, m_vals, m_w):
    """:func:`_binom_expect` from the probabilities :func:`_binom_pmf` stored: the same sums."""
    out = 0.0
    for i in range(m_vals.shape[0]):
        m = m_vals[i]
        acc = 0.0
        if state == 2:
            acc = hj[m]
        else:
            for j in range(m + 1):
                acc += pmf[i, j] * hj[j]
        out += m_w[i] * acc
    return out


@njit(cache=True)
def _boundary_rate(D, lam, half_widths):
    """Well-mixed exchange rate (1/min) with a Dirichlet far field around the domain.

    For each axis, a slab of half-width a with diffusion D and loss rate lam has the mean
    steady concentration c̄ = q/λ + (c_b − q/λ) φ, φ = tanh(a/ℓ)/(a/ℓ), ℓ = sqrt(D/λ), i.e.
    an exchange rate k = λ φ/(1 − φ) = (D/a²) g(a/ℓ) with g → 3 as ℓ ≫ a (well mixed) and
    k → sqrt(Dλ)/a (a boundary layer) as ℓ ≪ a. Axes add.
    """
    k = 0.0
    for i in range(half_widths.shape[0]):
        a = half_widths[i]
        x = a * np.sqrt(lam / D) if D > 0.0 else 1e30
        if x < 1e-3:
            g = 3.0
        elif x > 1e6:
            g = x  # k = sqrt(D lam)/a
        else:
            th = np.tanh(x)
            g = x * x * th / (x - th)
        k += D / (a * a) * g
    return k


@njit(cache=True)
def _compressed(p, thr, m_vals, m_w, binom):
    """P(a vessel site's in-domain neighbours are at least a share ``thr`` filled), each filled
    with probability p (the spatial engine's compression rule, engine.perfusion)."""
    out = 0.0
    for i in range(m_vals.shape[0]):
        m = m_vals[i]
        x = thr * m
        lo = int(np.floor(x + 1e-9))
        w = max(x - lo, 0.0)  # a mean threshold between whole neighbour counts: interpolate
        acc = 0.0
        for j in range(lo, m + 1):
            pj = binom[m, j] * p**j * (1.0 - p) ** (m - j)
            acc += pj if j > lo else (1.0 - w) * pj
        out += m_w[i] * acc
    return out


@njit(cache=True)
def _delivery(rho, lam, site, dims, tab):
    """E[exp(-d/λ)] over sites, d the distance (µm) to the nearest perfused vessel, vessels
    scattered at ``rho`` per site (Poisson: P(d > r) = exp(-ρ π r²) in 2D, exp(-ρ 4π r³/3) in 3D,
    r in sites). ``tab[2 (DELIVERY_STEPS + 1)]`` keeps what depends on ``lam`` and ``site`` alone
    (the quadrature weight × exp(-r/λ), and r in sites), filled on first use (NaN: not yet)."""
    if rho <= 0.0:
        return 0.0
    steps = DELIVERY_STEPS
    rmax = 20.0 * lam
    h = rmax / steps
    acc = 0.0
    for k in range(steps + 1):
        if tab[k] != tab[k]:
            r = k * h
            w = 0.5 if (k == 0 or k == steps) else 1.0
            tab[k] = w * np.exp(-r / lam)
            tab[steps + 1 + k] = r / site
        rs = tab[steps + 1 + k]
        surv = np.exp(-rho * np.pi * rs * rs) if dims < 3 else np.exp(-rho * 4.0 / 3.0 * np.pi * rs * rs * rs)
        acc += tab[k] * surv
    return max(1.0 - acc * h / lam, 0.0)


@njit(cache=True)
def rhs(t, y, dydt, aux, extra, sel, T, S, V, n_sites, dt, base, fixed, b_sec, b_sect, b_upt, b_exp,
        b_trans, b_attack, b_immuno, b_vinc, b_vdec, g_t, g_b, g_start, g_count, g_site, r_kind,
        r_arg, r_up, r_sat, r_half, r_hill, r_hj, is_vessel, clear_apo, clear_nec, init_state,
        decay, diffusion, dirichlet, boundary_value, half_widths, m_vals, m_w, binom, contact, free, ct_times, ct_contact,
        ct_free, vals, perf, blood, pen, memo, r_slot, links):
    """dy/dt at time t (minutes). ``aux[2T+1]`` receives the intravasation flux per type, then the
    flux of cells killed by attacks per (target) type (cells/min), then the perfused share of
    vessel cells. ``sel``: the behaviour groups to evaluate (``ALL``: every one); the others keep
    their values in ``vals`` (the Jacobian re-evaluates only the groups a column reaches).

    ``memo`` (:func:`memo_size`, NaN-filled to start) keeps the inputs and results of the costly
    pieces that often see the same inputs again (a Jacobian column leaves most of them as they
    were): the contact interpolation (by t), drug delivery (by the perfused-vessel density),
    vessel compression and the far-field exchange rates. A piece is recomputed unless its inputs
    are equal to the stored ones, so the numbers are those of computing it afresh.

    ``r_slot`` (:func:`tmesim.meanfield.structure.binomial_slots`): rules that see the same neighbour-hit probability (the
    same contact pair, or pressure) share one slot, whose binomial probabilities are formed once
    per call.

    ``links`` (:func:`tmesim.meanfield.structure.rate_links`): per substrate, the types that can exchange it; per type, the
    types it can attack and transform into (in type order). The others' rates are zero whatever
    the state (no base rate, no rule), and a zero term leaves a sum that starts at +0 as it was,
    so they are skipped."""
    oN, oA, oK, oQ, oC, oM = 0, T, 2 * T, 3 * T, 4 * T, 4 * T + S
    E = extra.shape[0]
    mD, mC, mB = 2, 2 + E, 5 + E  # memo: [t, rho, dlv[E], pfill, thr, compressed, lam[S], kb[S], tabs[E]]
    mT, nT = 5 + E + 2 * S, 2 * (DELIVERY_STEPS + 1)
    if ct_times.shape[0] > 1 and t != memo[0]:
        _contacts_at(t, ct_times, ct_contact, ct_free, contact, free)
        memo[0] = t
    oI = oM + T * V
    for i in range(y.shape[0]):
        dydt[i] = 0.0
    N = np.empty(T)
    occ = 0.0
    live = 0.0
    ves = 0.0
    for k in range(T):
        N[k] = max(y[oN + k], 0.0)
        live += N[k]
        occ += N[k] + max(y[oA + k], 0.0) + max(y[oK + k], 0.0) + max(y[oQ + k], 0.0)
        if is_vessel[k]:
            ves += N[k]
    C = np.empty(S)
    for s in range(S):
        C[s] = max(y[oC + s], 0.0)
    mean = np.empty((T, V))
    nmean = np.zeros(V)
    for k in range(T):
        for v in range(V):
            if N[k] > 1e-9:
                mean[k, v] = min(max(y[oM + k * V + v] / N[k], 0.0), 1.0)
            else:
                mean[k, v] = init_state[k, v]
            nmean[v] += N[k] * mean[k, v]
    for v in range(V):
        nmean[v] = nmean[v] / live if live > 0.0 else 0.0
    others = max(n_sites - 1.0, 1.0)  # sites around a cell, i.e. excluding its own
    phi = min(max((n_sites - occ) / others, 0.0), 1.0)  # free share of the other sites
    mbar = 0.0  # mean in-domain neighbour count (for contact enrichment)
    for i in range(m_vals.shape[0]):
        mbar += m_w[i] * m_vals[i]
    # free-site enrichment around vessel cells (where recruits enter)
    free_at_ves = 0.0
    for k in range(T):
        if is_vessel[k]:
            free_at_ves += N[k] * free[k]
    free_at_ves = free_at_ves / ves if ves > 0.0 else 1.0
    # perfusion: the share of vessel cells not compressed shut (engine.perfusion, well mixed;
    # the network's connectivity is not resolved) and, from their density, drug delivery
    f_perf = 1.0
    if perf[0] >= 0.0 and ves > 0.0:
        stab = 0.0
        if perf[1] >= 0.0:
            sv = int(perf[1])
            for k in range(T):
                if is_vessel[k]:
                    stab += N[k] * mean[k, sv]
            stab /= ves
        thr = perf[0] + (1.0 - perf[0]) * stab
        pfill = min(max((live - ves) / others, 0.0), 1.0)
        if pfill != memo[mC] or thr != memo[mC + 1]:
            memo[mC + 2] = _compressed(pfill, thr, m_vals, m_w, binom)
            memo[mC], memo[mC + 1] = pfill, thr
        f_perf = 1.0 - memo[mC + 2]
    aux[2 * T] = f_perf
    rho = f_perf * ves / n_sites
    # drug delivery depends only on the drug and the perfused-vessel density: once per drug,
    # not once per rule that reads it (the quadrature is most of a call otherwise)
    dlv = np.ones(E)
    if perf[0] >= 0.0:
        if rho != memo[1]:
            for a in range(E):
                if pen[a] > 0.0:
                    memo[mD + a] = _delivery(rho, pen[a], perf[2], perf[3], memo[mT + a * nT:mT + (a + 1) * nT])
            memo[1] = rho
        for a in range(E):
            if pen[a] > 0.0:
                dlv[a] = memo[mD + a]

    # ---- behaviours: ``vals`` holds the base values except where rules act; those are
    # re-evaluated here on every call (the selected ones)
    n_slots = r_slot[r_slot.shape[0] - 1]
    slot_state = np.zeros(n_slots, np.int64)  # 0: not formed in this call; else _binom_pmf's answer
    mmax = 0
    for i in range(m_vals.shape[0]):
        mmax = max(mmax, m_vals[i])
    slot_pmf = np.empty((n_slots, m_vals.shape[0], mmax + 1))
    every = sel.shape[0] == 1 and sel[0] < 0
    for gi in range(g_t.shape[0] if every else sel.shape[0]):
        g = gi if every else sel[gi]
        ct = g_t[g]
        site = g_site[g] == 1
        if N[ct] <= 0.0 and not site:
            continue  # a behaviour of an absent type acts on nothing
        own = EMPTY  # every rule, drug rules included, in one accumulator (model.response)
        for r in range(g_start[g], g_start[g] + g_count[g]):
            kind = r_kind[r]
            arg = r_arg[r]
            h = 0.0
            if kind == SUB:
                h = hill(C[arg], r_half[r], r_hill[r])
            elif kind == CONT or kind == PRES:
                sl = r_slot[r]
                if slot_state[sl] == 0:
                    if kind == CONT:
                        n = N[arg] - (1.0 if (arg == ct and not site) else 0.0)
                        p = min(max(n / others, 0.0), 1.0)
                        if not site:
                            p = _p_eff(p, contact[ct, arg], m_vals, m_w, mbar)
                    else:
                        p = 1.0 - phi  # well-mixed occupancy: see the package notes on pressure
                    slot_state[sl] = _binom_pmf(p, m_vals, slot_pmf[sl])
                h = _binom_weigh(slot_state[sl], slot_pmf[sl], r_hj[r], m_vals, m_w)
            elif kind == VES:
                if site:
                    p = min(max((ves - 1.0) / others, 0.0), 1.0)
                else:
                    p = min(_ves_share(ct, N, is_vessel, contact, others, m_vals, m_w, mbar), 1.0)
                h = _p_any(p, m_vals, m_w) * hill(1.0, r_half[r], r_hill[r])
            elif kind == VAR:
                h = hill(mean[ct, arg], r_half[r], r_hill[r])
            elif kind == NVAR:
                p = min(max((live - 1.0) / others, 0.0), 1.0)
                h = _p_any(p, m_vals, m_w) * hill(nmean[arg], r_half[r], r_hill[r])
            elif kind == TIME:
                h = hill(t, r_half[r], r_hill[r])
            elif kind == EXTRA:
                h = hill(extra[arg] * dlv[arg], r_half[r], r_hill[r])
            own = accumulate(own, h, r_up[r] == 1, r_sat[r])
        b = g_b[g]
        val = combine(base[ct, b], own)
        vals[ct, b] = val

    # ---- space: a division or a recruited cell needs a free in-domain neighbour site
    p_phi = _p_any(phi, m_vals, m_w)
    p_free_ves = min(free_at_ves * p_phi, 1.0)
    kcyc, kapo, knec, kint, krec = fixed[F_CYCLE], fixed[F_APOPTOSIS], fixed[F_NECROSIS], fixed[F_INTRAVASATE], fixed[F_RECRUIT]

    total_intra = 0.0
    aux[T:2 * T] = 0.0  # kill fluxes: summed over attackers below
    for ct in range(T):
        aux[ct] = 0.0
        n = N[ct]
        if n <= 0.0:
            continue
        rc = vals[ct, kcyc]
        ra = vals[ct, kapo]
        rn = vals[ct, knec]
        ri = vals[ct, kint]
        if ri > 0.0:
            ri *= _p_any(min(_ves_share(ct, N, is_vessel, contact, others, m_vals, m_w, mbar), 1.0), m_vals, m_w)
        tr0, tr1 = links[S + T + ct], links[S + T + ct + 1]
        rtr = 0.0
        for kk in range(tr0, tr1):
            rtr += vals[ct, b_trans[links[kk]]]
        lam = rc + ra + rn + ri + rtr
        # competing fate clocks over one spatial step: P(any) = 1 - exp(-lam dt)
        f = (1.0 - np.exp(-lam * dt)) / (lam * dt) if lam * dt > 1e-10 else 1.0
        births = n * rc * f * min(free[ct] * p_phi, 1.0)
        out = n * (ra + rn + ri + rtr) * f
        dydt[oN + ct] += births - out
        dydt[oA + ct] += n * ra * f
        dydt[oQ + ct] += n * rn * f
        aux[ct] = n * ri * f
        total_intra += aux[ct]
        for v in range(V):
            inc = vals[ct, b_vinc[v]]
            dec = vals[ct, b_vdec[v]]
            m = mean[ct, v]
            dydt[oM + ct * V + v] += n * (inc - (inc + dec) * m) + (births - out) * m
        if rtr > 0.0:
            for kk in range(tr0, tr1):
                k = links[kk]
                flow = n * vals[ct, b_trans[k]] * f
                if flow > 0.0:
                    dydt[oN + k] += flow
                    for v in range(V):
                        dydt[oM + k * V + v] += flow * mean[ct, v]
        # attacks: at most one kill per attacker and step, target types in order
        surv = 1.0
        for kk in range(links[S + ct], links[S + ct + 1]):
            k = links[kk]
            rate = vals[ct, b_attack[k]]
            if rate <= 0.0 or N[k] <= 0.0:
                continue
            nk = N[k] - (1.0 if k == ct else 0.0)
            pc = min(contact[ct, k] * _p_any(min(max(nk / others, 0.0), 1.0), m_vals, m_w), 1.0)
            imm = vals[k, b_immuno[ct]]
            q = pc * (1.0 - np.exp(-rate * imm * dt))
            kills = n * surv * q / dt
            surv *= 1.0 - q
            dydt[oN + k] -= kills
            dydt[oK + k] += kills
            aux[T + k] += kills
            for v in range(V):
                dydt[oM + k * V + v] -= kills * mean[k, v]
    for ct in range(T):
        dydt[oA + ct] -= max(y[oA + ct], 0.0) * clear_apo[ct]
        dydt[oK + ct] -= max(y[oK + ct], 0.0) * clear_apo[ct]
        dydt[oQ + ct] -= max(y[oQ + ct], 0.0) * clear_nec[ct]
        # recruitment: each live vessel cell draws each recruitable type once per step
        if ves > 0.0:
            rate = vals[ct, krec]
            if rate > 0.0:
                flux = ves * (1.0 - np.exp(-rate * dt)) / dt * p_free_ves
                dydt[oN + ct] += flux
                for v in range(V):
                    dydt[oM + ct * V + v] += flux * init_state[ct, v]
    dydt[oI] = total_intra

    # ---- substrates: cell exchange in the cells' voxels, decay, far-field exchange
    for s in range(S):
        gain = 0.0
        loss = 0.0
        for cc in range(links[s], links[s + 1]):
            ct = links[cc]
            n = N[ct]
            if n > 0.0:
                r = vals[ct, b_sec[s]]
                if blood[s] == 1 and is_vessel[ct]:
                    r *= f_perf  # only perfused vessels release what they take from blood
                gain += n * (r * vals[ct, b_sect[s]] + vals[ct, b_exp[s]])
                loss += n * (r + vals[ct, b_upt[s]])
        gain /= n_sites
        loss /= n_sites
        d = gain - (loss + decay[s]) * C[s]
        if dirichlet[s] == 1:
            lam_s = decay[s] + loss
            if lam_s != memo[mB + s]:
                memo[mB + S + s] = _boundary_rate(diffusion[s], lam_s, half_widths)
                memo[mB + s] = lam_s
            d += memo[mB + S + s] * (boundary_value[s] - C[s])
        dydt[oC + s] = d


@njit(cache=True)
def rhs_reduced(t, yr, dr, idx, y, dydt, aux, extra, sel, T, S, V, n_sites, dt, *arrays):
    """``rhs`` on the reduced state ``yr = y[idx]`` (components that can be non-zero)."""
    for k in range(idx.shape[0]):
        y[idx[k]] = yr[k]
    rhs(t, y, dydt, aux, extra, sel, T, S, V, n_sites, dt, *arrays)
    for k in range(idx.shape[0]):
        dr[k] = dydt[idx[k]]


def memo_size(n_extra: int, n_sub: int) -> int:
    """Length of ``rhs``'s ``memo`` array (fill it with NaN: nothing stored yet)."""
    return 5 + n_extra + 2 * n_sub + 2 * (DELIVERY_STEPS + 1) * n_extra


ALL = np.array([-1], dtype=np.int64)  # ``sel`` of ``rhs``: every behaviour group


@njit(cache=True)
def jacobian(t, yr, J, idx, y, dydt, aux, extra, dep_ptr, dep_grp, T, S, V, n_sites, dt, *arrays):
    """Finite-difference Jacobian of ``rhs_reduced`` in one call, using the structure of ``rhs``
    (``J`` comes in zeroed: columns nothing depends on are left as they are).

    Every column is differenced except the corpse columns: corpses enter ``rhs`` only through
    the occupancy (a column shared by all of them) plus their own linear clearance (the
    diagonal), so one difference gives all of them. A column re-evaluates only the behaviour
    groups that depend on it (``dep_ptr``/``dep_grp``, :func:`tmesim.meanfield.structure.group_dependencies`); the others
    keep their values at ``yr``, which are what a full evaluation would give them (the same
    numbers: tested).
    """
    n = yr.shape[0]
    f0 = np.empty(n)
    fp = np.empty(n)
    rhs_reduced(t, yr, f0, idx, y, dydt, aux, extra, ALL, T, S, V, n_sites, dt, *arrays)
    g_t, g_b, vals = arrays[11], arrays[12], arrays[40]
    clear_apo, clear_nec = arrays[24], arrays[25]
    saved = np.empty(g_t.shape[0])
    yp = yr.copy()
    first = -1
    cumulative = 4 * T + S + T * V  # the cumulative intravasation: no rate reads it (J column 0)
    for j in range(n):
        full = idx[j]
        corpse = full >= T and full < 4 * T
        if (corpse and first >= 0) or full == cumulative:
            continue
        h = 1e-7 * max(abs(yr[j]), 1.0)
        yp[j] = yr[j] + h
        sel = dep_grp[dep_ptr[j]:dep_ptr[j + 1]]
        for i in range(sel.shape[0]):
            saved[i] = vals[g_t[sel[i]], g_b[sel[i]]]
        rhs_reduced(t, yp, fp, idx, y, dydt, aux, extra, sel, T, S, V, n_sites, dt, *arrays)
        for i in range(sel.shape[0]):
            vals[g_t[sel[i]], g_b[sel[i]]] = saved[i]
        yp[j] = yr[j]
        for i in range(n):
            J[i, j] = (fp[i] - f0[i]) / h
        if corpse:
            first = j
    if first >= 0:
        k = idx[first] % T
        J[first, first] += clear_nec[k] if idx[first] >= 3 * T else clear_apo[k]
        for j in range(n):
            full = idx[j]
            if full >= T and full < 4 * T:
                if j != first:
                    for i in range(n):
                        J[i, j] = J[i, first]
                k = full % T
                J[j, j] -= clear_nec[k] if full >= 3 * T else clear_apo[k]
    # restore the full vector at yr (rhs_reduced left the last perturbation in it)
    for k in range(n):
        y[idx[k]] = yr[k]


@njit(cache=True)
def _exposures(t, p):  # noqa: ANN001, ANN202
    """The drug exposures at ``t`` minutes into ``p.extra``, as ``MeanField._extra_at`` fills them
    (the time goes to days and back, as there)."""
    if p.pk_on and t != p.ext_t[0]:
        t0, k, tau, cycles, peak, log_r, denominator, drug, where = p.pk
        _fill((t / MIN_PER_DAY) * MIN_PER_DAY, t0, k, tau, cycles, peak, log_r, denominator, drug, p.extra, where)
        p.ext_t[0] = t


@njit(cache=True)
def packed_fun(t, yr, p):  # noqa: ANN001, ANN201
    """dy/dt of the reduced state (``MeanField._fun``) from a :class:`tmesim.meanfield.packed.Pack`:
    ``odeint`` calls it directly."""
    _exposures(t, p)
    dr = np.empty_like(yr)
    T, S, V = p.dims
    n_sites, dt = p.scal
    rhs_reduced(t, yr, dr, p.idx, p.y, p.dydt, p.aux, p.extra, ALL, T, S, V, n_sites, dt, *p.arrays)
    return dr


@njit(cache=True)
def packed_jac(t, yr, p):  # noqa: ANN001, ANN201
    """The finite-difference Jacobian of :func:`packed_fun` (``MeanField._jac``)."""
    _exposures(t, p)
    n = yr.shape[0]
    J = np.zeros((n, n))
    T, S, V = p.dims
    n_sites, dt = p.scal
    jacobian(t, np.ascontiguousarray(yr), J, p.idx, p.y, p.dydt, p.aux, p.extra, p.dep_ptr, p.dep_grp, T, S, V,
             n_sites, dt, *p.arrays)
    return J


@njit(cache=True)
def packed_rates(ts, Y, p, aux_out, vals_out):  # noqa: ANN001, ANN201
    """``rhs`` at each output time ``ts[i]`` (minutes) and state ``Y[:, i]``, as
    ``MeanField.derivative`` evaluates it for the readout columns: ``aux`` into ``aux_out[i]``,
    the behaviour values into ``vals_out[i]``."""
    T, S, V = p.dims
    n_sites, dt = p.scal
    y = np.empty(Y.shape[0])
    dydt = np.empty(Y.shape[0])
    vals = p.arrays[40]
    for i in range(ts.shape[0]):
        _exposures(ts[i], p)
        for k in range(Y.shape[0]):
            y[k] = Y[k, i]
        rhs(ts[i], y, dydt, p.aux, p.extra, ALL, T, S, V, n_sites, dt, *p.arrays)
        aux_out[i, :] = p.aux
        vals_out[i] = vals
