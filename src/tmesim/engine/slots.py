"""Per-type Hill slots: each distinct (signal, half-max, Hill power) of a cell type's rules,
evaluated once per cell, and a Hill response with an exact fast path for integer powers.

Why: ``kernels.evaluate`` used to evaluate every rule on its own: a signal read through a
chain of tests, then a libm ``pow``. Rules that share a signal and a response (the same
oxygen Hill curve raising division and lowering VEGF secretion) computed it twice, and a
neighbour-count signal (pressure, contact with a type) scanned the neighbourhood and called
``pow`` although it takes only ``nb + 1`` values. Here a type's rules point to *slots*; a
slot is read and its Hill response computed once per cell, a neighbour-count slot is a
table lookup (the table holds ``hill(k / nb)``, the same float the scan would give), and
rules then only accumulate. Every number is the one the rule-by-rule evaluation gives, bit
for bit (tested against :func:`tmesim.engine.kernels.behaviour`, which still evaluates one
behaviour rule by rule where a single value is needed).

Integer Hill powers (most rules of the shipped models: 1, 2, 4, 8): ``x ** n`` is computed
as an unevaluated sum ``h + l`` (error-free products with fused multiply-add, relative
error about ``n · 2**-104``) and ``h`` is used when it is certainly what libm ``pow``
returns: when the exact power lies within 0.45 of the gap from ``h`` to its neighbour.
glibc's ``pow`` is within 0.52 ULP of the exact power (its worst case, from a pre-rounding
error of a few hundredths of an ULP), so it cannot return any other double there. Elsewhere
(about one call in ten, and outside [1e-290, 1e290]) ``pow`` itself is called. Hand-written
because no library offers a numba Hill response bit-identical to ``pow`` without calling it.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# Slot kinds.
K_FIELD, K_COUNT, K_CONST, K_VAR, K_DRUG, K_OTHER = range(6)
K_NMEAN = 6  # mean of a per-cell column over the live neighbours ("neighbour <variable>")
# Neighbour counts a K_COUNT slot reads (after the per-type live counts 0..T-1).
C_OCCUPIED, C_LIVE, C_DEAD, C_APOPTOTIC, C_NECROTIC, C_VESSEL = range(6)
N_COUNTS = 6
# Categories of per-target behaviours in a type's plan (see build_slots).
P_TRANSFORM, P_ATTACK, P_EAT_FUSE, P_ASYMMETRIC, P_CHEMOTAXIS, P_EXCHANGE = range(6)
N_PLAN = 6
MAX_FAST_POWER = 16
# h is used when h + CHECK * l rounds to h, i.e. |l| <= 0.45 of the gap from h to its
# neighbour on the side of l (h + x rounds to h while |x| <= half that gap).
CHECK = 1.0 / (2.0 * 0.45)


@intrinsic
def fma(typingctx, a, b, c):  # noqa: ANN001, ANN201, ARG001 - numba intrinsic
    """a * b + c with one rounding (LLVM's ``llvm.fma``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202, ARG001
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def libm_pow(typingctx, x, y):  # noqa: ANN001, ANN201, ARG001 - numba intrinsic
    """libm ``pow`` called as a plain function, the one ``x ** y`` (LLVM's ``llvm.pow``) calls.

    Why not ``x ** y``: LLVM may execute the speculatable ``llvm.pow`` on both sides of a
    branch, which turns the fallback below into a ``pow`` for every call; a call to the
    library function (which may set errno) stays behind its branch."""
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202, ARG001
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType(), ir.DoubleType()])
        return builder.call(cgutils.get_or_insert_function(builder.module, fnty, "pow"), args)

    return sig, codegen


@njit(inline="always", cache=True)
def ipow_dd(x, n):  # noqa: ANN001, ANN201 - numba scalars
    """x ** n (n >= 1) as (h, l), h + l within ~n 2^-104 relatively of the exact power."""
    if n == 2:  # the most common power: x * x rounded and its exact error
        p = x * x
        return p, fma(x, x, -p)
    top = 1
    while top * 2 <= n:
        top *= 2
    h = x
    lo = 0.0
    top //= 2
    while top > 0:
        p = h * h
        e = fma(h, h, -p) + 2.0 * h * lo
        s = p + e
        lo = e - (s - p)
        h = s
        if n & top:
            p = h * x
            e = fma(h, x, -p) + lo * x
            s = p + e
            lo = e - (s - p)
            h = s
        top //= 2
    return h, lo


@njit(inline="always", cache=True)
def hill_slot(s, half, power, n):  # noqa: ANN001, ANN201 - numba scalars
    """:func:`tmesim.model.response.hill` with the same result bit for bit; ``n`` is the power
    as an integer 2..MAX_FAST_POWER, or 0 (use ``pow``)."""
    if s <= 0.0:
        return 0.0
    x = s / half
    if power == 1.0:
        q = x
    elif n > 0:
        h, lo = ipow_dd(x, n)
        if 1e-290 < h < 1e290 and h + CHECK * lo == h:
            q = h
        else:
            q = libm_pow(x, power)
    else:
        q = x ** power
    return q / (1.0 + q)


def build_slots(cm, rt: np.ndarray, nb: int, skip: np.ndarray | None = None,  # noqa: ANN001
                deferred: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Slots of every type from the compiled model (a ``CompiledModel``); ``rt`` the kernel rule
    table (kernels), and each type's plan of per-target behaviours.

    ``skip`` (bool per behaviour): behaviours the per-cell evaluation never reads for the cell
    itself (a target's immunogenicity and a vessel's recruitment are evaluated where they are
    used, rule by rule); their rules get no slot and they are left out of ``act_ptr``/``act_idx``,
    the behaviours with rules that ``kernels.rule_values`` computes per type.

    ``deferred`` (bool per behaviour): behaviours read only when a cell's fate clock may fire
    (cycle entry, death, transformation...); ``kernels.evaluate`` computes them, and the slots
    only they read, in a second phase that most cells never reach. Each type therefore has
    two phases, ``p = 2 t`` (every other behaviour) and ``2 t + 1`` (the deferred ones):
    ``slot_ptr``/``act_ptr`` have ``2 T + 1`` entries, phase ``p`` owning slots
    ``slot_ptr[p]:slot_ptr[p + 1]`` and behaviours ``act_idx[act_ptr[p]:act_ptr[p + 1]]``, and
    ``needs_counts[p]`` says which neighbour counts phase ``p`` must take (none in the second
    phase when the first already took them). A slot read by both phases is in the first."""
    S, T = cm.n_sub, cm.n_types
    evaluated = cm.r_count > 0
    if skip is not None:
        evaluated = evaluated & ~skip[None, :]
    late = np.zeros(cm.n_beh, bool) if deferred is None else deferred
    n_rules = len(cm.r_sig)
    r_slot = np.zeros(max(n_rules, 1), np.int64)
    sl_int: list[tuple[int, int, int]] = []  # kind, argument, integer power (0: none)
    sl_num: list[tuple[float, float]] = []  # half-max, power
    slot_ptr = np.zeros(2 * T + 1, np.int64)
    act: list[int] = []
    act_ptr = np.zeros(2 * T + 1, np.int32)
    contact = {cm.sig_pressure: T + C_OCCUPIED, cm.sig_vessel: T + C_VESSEL, cm.sig_vessel + 1: T + C_LIVE,
               cm.sig_vessel + 2: T + C_DEAD, cm.sig_vessel + 3: T + C_APOPTOTIC, cm.sig_vessel + 4: T + C_NECROTIC}
    # a live cell's own "dead", "apoptotic" and "necrotic" signals are 0
    constant = {cm.sig_dead, cm.sig_vessel + 5, cm.sig_vessel + 6}
    for t in range(T):
        seen: dict[tuple[int, float, float], int] = {}
        for phase in range(2):
            behaviours = np.flatnonzero(evaluated[t] & (late if phase else ~late))
            act.extend(int(b) for b in behaviours)
            for b in behaviours:
                for k in range(cm.r_start[t, b], cm.r_start[t, b] + cm.r_count[t, b]):
                    sig, half, power = int(cm.r_sig[k]), float(cm.r_half[k]), float(cm.r_hill[k])
                    key = (sig, half, power)
                    if key not in seen:
                        seen[key] = len(sl_int)
                        if sig >= cm.sig_drug0:
                            kind, arg = K_DRUG, k
                        elif sig < S:
                            kind, arg = K_FIELD, sig
                        elif sig < S + T:
                            kind, arg = K_COUNT, sig - S
                        elif sig in contact:
                            kind, arg = K_COUNT, contact[sig]
                        elif sig == cm.sig_time or sig in constant:
                            kind, arg = K_CONST, sig
                        elif cm.sig_var0 <= sig < cm.sig_nvar0:
                            kind, arg = K_VAR, sig - cm.sig_var0
                        elif sig >= cm.sig_nvar0:
                            kind, arg = K_NMEAN, sig - cm.sig_nvar0
                        else:
                            kind, arg = K_OTHER, sig
                        ip = int(power) if power == int(power) and 2 <= power <= MAX_FAST_POWER else 0
                        sl_int.append((kind, arg, ip))
                        sl_num.append((half, power))
                    r_slot[k] = seen[key]
            slot_ptr[2 * t + phase + 1] = len(sl_int)
            act_ptr[2 * t + phase + 1] = len(act)
    G = len(sl_int)
    si = np.array(sl_int, np.int64).reshape(G, 3)
    # plan[t, c] = count, then the targets (types; substrates for chemotaxis and exchange) whose
    # behaviour of category c the type has at all: the kernel loops over these only. Every
    # skipped value is the behaviour's default, 0, which adds nothing and passes no test of
    # those loops; a substrate the type does not exchange was never written.
    per_target = (cm.b_trans, cm.b_attack, cm.b_eat, cm.b_asym, cm.b_chemo, cm.b_sec)
    plan = np.zeros((T, N_PLAN, max(T, S) + 1), np.int64)
    for t in range(T):
        for c, cols in enumerate(per_target):
            on = cm.active[t, cols]
            if c == P_EAT_FUSE:
                on = on | cm.active[t, cm.b_fuse]
            if c == P_EXCHANGE:  # substrates the type secretes, takes up or exports
                on = cm.active[t, cm.b_sec] | cm.active[t, cm.b_upt] | cm.active[t, cm.b_exp]
            ks = np.flatnonzero(on)
            plan[t, c, 0] = len(ks)
            plan[t, c, 1:len(ks) + 1] = ks
    # per phase: 0 no neighbour counts, 1 occupied sites only (pressure), 2 every count; the
    # second phase takes them only if the first took fewer
    needs_counts = np.zeros(2 * T, np.int64)
    for p in range(2 * T):
        own = si[slot_ptr[p]:slot_ptr[p + 1]]
        counted = own[own[:, 0] == K_COUNT, 1]
        if len(counted):
            needs_counts[p] = 1 if (counted == T + C_OCCUPIED).all() else 2
    needs_counts[1::2] = np.where(needs_counts[1::2] > needs_counts[0::2], needs_counts[1::2], 0)
    return {
        "slot_ptr": slot_ptr, "sl_int": si if G else np.zeros((1, 3), np.int64),
        "sl_num": np.array(sl_num, np.float64).reshape(G, 2) if G else np.ones((1, 2)),
        "r_slot": r_slot, "htab": np.zeros((max(G, 1), nb + 1)), "needs_counts": needs_counts, "plan": plan,
        "act_ptr": act_ptr, "act_idx": np.array(act, np.int32),
    }


@njit(cache=True)
def fill_tables(sl_int, sl_num, htab, time, sig_time, nb):  # noqa: ANN001, ANN201
    """Hill responses of the slots whose signal takes few values: ``htab[g, k]`` = the
    response to ``k / nb`` (the scan's fraction; "contact with vessel", 0 or 1, reads
    k = 0 or nb); constants (time, a live cell's own death flags) in ``htab[g, 0]``."""
    for g in range(sl_int.shape[0]):
        kind = sl_int[g, 0]
        half, power, n = sl_num[g, 0], sl_num[g, 1], sl_int[g, 2]
        if kind == K_COUNT:
            for k in range(nb + 1):
                htab[g, k] = hill_slot(k / nb, half, power, n)
        elif kind == K_CONST:
            htab[g, 0] = hill_slot(time if sl_int[g, 1] == sig_time else 0.0, half, power, n)


@njit(inline="always", cache=True)
def happens(u, x):  # noqa: ANN001, ANN201 - numba scalars
    """``u < 1 - exp(-x)``, the kernels' event test, without ``exp`` where it is certainly
    false: 1 - exp(-x) <= x, and its rounded value exceeds x by less than 4e-16 (``exp``
    within 1 ULP, the subtraction exact or rounded once), so u >= x + 1e-15 decides it."""
    if u >= x + 1e-15:
        return False
    return u < 1.0 - np.exp(-x)


@njit(inline="always", cache=True)
def value_cap(b3, rt, t, b):  # noqa: ANN001, ANN201 - numba arrays and scalars
    """A bound above behaviour ``b`` of type ``t`` whatever its signals: ``combine`` moves the
    base toward a mean of its rules' saturations weighted by responses in [0, 1], so the value
    is at most the largest of them, plus rounding (a few ULPs of the largest magnitude per rule;
    1e-9 of it covers up to ~10^6 rules). Infinite when a number is not finite."""
    v0 = b3[t, b, 0]
    top = v0
    mag = abs(v0)
    r0 = int(b3[t, b, 1])
    for r in range(r0, r0 + int(b3[t, b, 2])):
        s = rt[r, 2]
        top = max(top, s)
        mag = max(mag, abs(s))
    if not np.isfinite(mag):
        return np.inf
    return top + 1e-9 * mag


@njit(inline="always", cache=True)
def never(u, x):  # noqa: ANN001, ANN201 - numba scalars
    """Certainly not ``happens(u, y)`` for any y the kernels compute as at most ``x`` (a bound
    from :func:`value_cap`, products of such bounds and rates included): ``happens`` is false
    when u >= y + 1e-15, and 1e-9 |x| covers the rounding of the product or sum that gave y."""
    return u >= x + 1e-9 * abs(x) + 1e-15


@njit(cache=True)
def fate_caps(b3, rt, fixed, b_trans, b_immuno, dt, caps):  # noqa: ANN001, ANN201
    """Bounds for :func:`never`, per type t: ``caps[t, T]`` above the total fate rate x dt of a
    live cell of type t (the behaviours ``fixed``: cycle entry, apoptosis, necrosis,
    intravasation; and the transformations to other types), so a cell whose fate uniform
    passes :func:`never` keeps its fate without evaluating those behaviours; ``caps[t, k]``
    above the immunogenicity of type k to t (an attack on k succeeds with rate x it x dt)."""
    T = b3.shape[0]
    for t in range(T):
        top = 0.0
        for q in range(fixed.shape[0]):
            top += value_cap(b3, rt, t, fixed[q])
        for k in range(T):
            if k != t:
                top += value_cap(b3, rt, t, b_trans[k])
            caps[t, k] = value_cap(b3, rt, k, b_immuno[t])
        # the sum of n values exceeds the sum of their bounds by rounding within n ULPs of the
        # largest, which the 1e-9 of each bound's magnitude already covers
        caps[t, T] = top * dt if np.isfinite(top) else np.inf
