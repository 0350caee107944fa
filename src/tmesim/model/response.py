"""The rule-response law, as numba functions shared by every engine.

A rule's signal s gives a Hill response H = s^n / (h^n + s^n). Up-regulating rules combine
as U = 1 - prod(1 - H) toward the H-weighted mean of their saturation values; down-regulating
rules then pull the result toward theirs the same way (PhysiCell's
b = (1 - D)[(1 - U) b0 + U b_max] + D b_min for one rule of each kind). Drug rules (signal
``drug <name>``) join the same accumulators as every other rule, as in PhysiCell's grammar
where every rule acts on the same behaviour: a survival signal that lowers apoptosis (IL-6 via
STAT3, contact with CAFs, stemness, acquired resistance) therefore lowers drug-induced
apoptosis by the same fraction D, which is how the tumor microenvironment protects tumor
cells against chemotherapy (review:20, 32, 46, 47).

An accumulator is the tuple (prod(1-H) up, sum H*sat up, sum H up, the same three down).
"""

from __future__ import annotations

from numba import njit

EMPTY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@njit(inline="always", cache=True)
def hill(s, half, power):  # noqa: ANN001, ANN201 - numba scalars
    if s <= 0.0:
        return 0.0
    # A libm pow costs more than the rest of a rule; a power of 1 (a quarter of the tnbc
    # preset's rules) skips it. Same result bit for bit: pow(x, 1) is exactly x (glibc's pow
    # is within 1 ulp, and x itself is representable), inf and nan included.
    q = s / half if power == 1.0 else (s / half) ** power
    return q / (1.0 + q)


@njit(inline="always", cache=True)
def accumulate(acc, h, up, saturation):  # noqa: ANN001, ANN201
    """Add one rule's response ``h`` (toward ``saturation``) to an accumulator."""
    pu, wu, hu, pd, wd, hd = acc
    if up:
        return (pu * (1.0 - h), wu + h * saturation, hu + h, pd, wd, hd)
    return (pu, wu, hu, pd * (1.0 - h), wd + h * saturation, hd + h)


@njit(inline="always", cache=True)
def combine(v, acc):  # noqa: ANN001, ANN201
    """The value ``v`` raised by the accumulated up-rules, then lowered by the down-rules."""
    pu, wu, hu, pd, wd, hd = acc
    if hu > 0.0:
        v = v + (1.0 - pu) * (wu / hu - v)
    if hd > 0.0:
        v = v + (1.0 - pd) * (wd / hd - v)
    return v


__all__ = ["EMPTY", "accumulate", "combine", "hill"]
