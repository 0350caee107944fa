"""Drug exposure C(t): one-compartment pharmacokinetics of a dosing schedule (numpy, exact).

Every administration adds ``peak`` (dose / volume) to the drug's concentration, which then
decays exponentially with rate k = ln 2 / half-life. For administrations every ``interval``
from t0 the sum is geometric, so C(t) is evaluated in closed form for any array of times:

    C(t) = peak · exp(−k (t − t_last)) · (1 − r^m) / (1 − r),   r = exp(−k · interval),

with m the number of administrations given by time t (capped by ``cycles``) and t_last the
latest one; several offsets within a cycle add one such series each. Repeated dosing tends
to the steady-state peak ``peak / (1 − r)`` and trough ``peak · r / (1 − r)``.

Engines call :func:`drug_exposures` once per step; the result, in ``model.drugs`` order, is
the value of the signals ``drug <name>`` for every cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from .drugs import Drug
    from .schema import Model

LN2 = float(np.log(2.0))
_EPS = 1e-9  # an administration exactly at t counts (times are multiples of dt)


def exposure(drug: Drug, t: float | np.ndarray) -> np.ndarray:
    """C(t) of ``drug`` (in ``drug.unit``) at times ``t`` (minutes since the start of the run).

    >>> from tmesim.model.drugs import Drug
    >>> d = Drug(name="x", peak=10, interval="7 day", half_life="1 day", cycles=1)
    >>> [round(float(c), 3) for c in exposure(d, [-1.0, 0.0, 1440.0, 2880.0])]
    [0.0, 10.0, 5.0, 2.5]
    """
    t = np.asarray(t, dtype=np.float64)
    k = LN2 / drug.half_life.value
    tau = drug.interval.value
    r = np.exp(-k * tau)
    out = np.zeros(t.shape)
    for off in drug.offsets:
        since = t - (drug.start.value + off)
        m = np.floor(since / tau + _EPS) + 1.0  # administrations of this offset given by t
        if drug.cycles is not None:
            m = np.minimum(m, float(drug.cycles))
        given = m >= 1.0
        m = np.where(given, m, 1.0)
        last = (m - 1.0) * tau
        series = -np.expm1(m * np.log(r)) / -np.expm1(np.log(r))  # (1 - r^m) / (1 - r)
        out += np.where(given, drug.peak * np.exp(-k * np.maximum(since - last, 0.0)) * series, 0.0)
    return out


class Exposures:
    """C(t) of several drugs at one time in one pass: :func:`exposure`'s operations on arrays
    over every (drug, offset) pair instead of one numpy call chain per drug and offset.

    Each pair goes through the same floating-point operations in the same order, so every
    value equals :func:`exposure`'s bit for bit (tested); the mean-field solver evaluates it
    thousands of times per patient, where the per-call overhead dominated.

    >>> from tmesim.model.drugs import Drug
    >>> d = Drug(name="x", peak=10, interval="7 day", half_life="1 day", cycles=1)
    >>> Exposures([d, d])(1440.0).tolist()
    [5.0, 5.0]
    """

    def __init__(self, drugs: list[Drug]) -> None:
        pairs = [(i, d, off) for i, d in enumerate(drugs) for off in d.offsets]
        self.n = len(drugs)
        self._drug = np.array([i for i, _, _ in pairs], dtype=np.intp)
        self._t0 = np.array([d.start.value + off for _, d, off in pairs], float)
        self._k = np.array([LN2 / d.half_life.value for _, d, _ in pairs], float)
        self._tau = np.array([d.interval.value for _, d, _ in pairs], float)
        self._cycles = np.array([np.inf if d.cycles is None else float(d.cycles) for _, d, _ in pairs], float)
        self._peak = np.array([d.peak for _, d, _ in pairs], float)
        self._log_r = np.log(np.exp(-self._k * self._tau))
        self._denominator = -np.expm1(self._log_r)
        # offsets of one drug are added in their order, as exposure() adds them: the pairs that
        # are each drug's first offset, then each drug's second, ...
        rank = [sum(1 for j, _, _ in pairs[:p] if j == i) for p, (i, _, _) in enumerate(pairs)]
        self._one_each = rank == [0] * len(pairs) and [i for i, _, _ in pairs] == list(range(self.n))
        self._groups = [(self._drug[sel], sel) for r in range(max(rank, default=-1) + 1)
                        for sel in [np.flatnonzero(np.array(rank) == r)]]

    def __call__(self, t: float) -> np.ndarray:
        since = t - self._t0
        m = np.floor(since / self._tau + _EPS) + 1.0
        m = np.minimum(m, self._cycles)  # min(m, inf) is m: a drug without a cycle limit
        given = m >= 1.0
        m = np.where(given, m, 1.0)
        last = (m - 1.0) * self._tau
        series = -np.expm1(m * self._log_r) / self._denominator
        each = np.where(given, self._peak * np.exp(-self._k * np.maximum(since - last, 0.0)) * series, 0.0)
        if self._one_each:  # one administration series per drug: 0 + x is x
            return each
        out = np.zeros(self.n)
        for drug, sel in self._groups:
            out[drug] += each[sel]
        return out


    def fill(self, t: float, out: np.ndarray, where: np.ndarray) -> None:
        """``out[where] = self(t)`` in one compiled call, without numpy's per-call overhead
        (the mean-field solver's right-hand side asks ~1,500 times per patient). The same
        operations in the same order as ``__call__``; libm's exp/expm1 may differ from
        numpy's in the last bit (tested to 1e-13)."""
        _fill(float(t), *self.tables(), out, where)

    def tables(self) -> tuple[np.ndarray, ...]:
        """The arrays ``_fill`` reads after the time (compiled callers pass them on)."""
        return (self._t0, self._k, self._tau, self._cycles, self._peak, self._log_r, self._denominator, self._drug)


@njit(cache=True)
def _fill(t, t0, k, tau, cycles, peak, log_r, denominator, drug, out, where):  # noqa: ANN001, ANN202
    for i in range(where.shape[0]):
        out[where[i]] = 0.0
    for p in range(t0.shape[0]):  # pairs come drug by drug, offsets in order: exposure()'s sums
        since = t - t0[p]
        m = min(np.floor(since / tau[p] + _EPS) + 1.0, cycles[p])
        if m >= 1.0:
            series = -np.expm1(m * log_r[p]) / denominator[p]
            out[where[drug[p]]] += peak[p] * np.exp(-k[p] * max(since - (m - 1.0) * tau[p], 0.0)) * series


def steady_state(drug: Drug) -> tuple[float, float]:
    """(peak, trough) of C(t) under endless dosing with one administration per cycle."""
    r = float(np.exp(-LN2 / drug.half_life.value * drug.interval.value))
    return drug.peak / (1.0 - r), drug.peak * r / (1.0 - r)


def drug_exposures(model: Model, t: float) -> np.ndarray:
    """C(t) of every drug of ``model`` at time ``t`` (minutes), in ``model.drugs`` order.

    This is the one call an engine needs: the values are the signals ``drug <name>``.
    """
    drugs = getattr(model, "drugs", None) or []
    return np.array([float(exposure(d, t)) for d in drugs], dtype=np.float64)


__all__ = ["Exposures", "drug_exposures", "exposure", "steady_state"]
