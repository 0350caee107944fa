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


__all__ = ["drug_exposures", "exposure", "steady_state"]
