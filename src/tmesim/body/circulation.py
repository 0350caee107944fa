"""Circulation: what becomes of a tumor cell (or cluster) once it is in the blood.

Blood is treated as loops of one circulation time each. Venous return from the breast goes
to the right heart and first through the lung capillaries (review:126); what passes the lung
reaches the systemic beds in proportion to their share of cardiac output. In each loop a
circulating unit (a single CTC or a cluster) may die (shear, anoikis, NK cells; platelets
and neighbouring cells protect it, review:85-87), arrest in the lung, or arrest in one of the
systemic organs. Because a unit lives for many loops and every loop is alike, the fates are
absorption probabilities of a Markov chain and have a closed form:

    c     = s (1 - a_lung) (1 - sum_o A_o)          (probability of another full loop)
    P_lung = s a_lung / (1 - c),  P_o = s (1 - a_lung) A_o / (1 - c),  P_death = 1 - the rest
    mean time in blood = circulation_time / (1 - c)

A share ``first_pass_trap`` of entering units never circulates: they stop by size in the lung
capillaries on their first pass (Fidler 1970; Chambers et al. 2002).

with s = exp(-death hazard x circulation time) and A_o = blood share x arrest probability x
homing x priming of organ o. Everything is vectorised over EMT classes, unit kinds and time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmesim.model.body import EMT_CLASSES, ORGANS, Body

UNITS = ("single", "cluster")
SYSTEMIC = tuple(o for o in ORGANS if o != "lung")


@dataclass(frozen=True)
class Fates:
    """Fate probabilities per (unit kind, EMT class[, time]) and organ; residence in minutes."""

    arrest: dict[str, np.ndarray]  # organ -> [unit, class, ...]
    death: np.ndarray
    residence_min: np.ndarray  # mean time in blood of a unit that circulates
    circulating: float  # share of entering units that circulate at all (not trapped at first pass)


def homing(body: Body, factors: dict[str, float]) -> dict[str, float]:
    """Gain on arrest per organ from chemoattraction (e.g. CXCL12 -> CXCR4 in bone, review:114)."""
    return {o: 1.0 + sum(w.value * factors.get(f, 0.0) for f, w in org.chemoattraction.items())
            for o, org in body.organs.items()}


def barrier_crossing(body: Body, factors: dict[str, float]) -> dict[str, np.ndarray]:
    """Probability per organ and EMT class that an arrested cell extravasates.

    The unaided crossing probability is raised by the tumor factors that open the barrier:
    opening = 1 - prod(1 - w_f * score_f). For the blood-brain barrier the unaided value is
    0, so without VEGF, MMPs and cathepsin S no cell enters the brain (review:143-145).
    """
    out = {}
    cls = np.array([body.emt_classes[c].extravasation.value for c in EMT_CLASSES])
    for o, org in body.organs.items():
        closed = 1.0
        for f, w in org.barrier_opening.items():
            closed *= 1.0 - min(1.0, w.value * factors.get(f, 0.0))
        base = org.extravasation.value
        out[o] = np.clip((base + (1.0 - base) * (1.0 - closed)) * cls, 0.0, 1.0)
    return out


def fates(body: Body, factors: dict[str, float], priming: dict[str, np.ndarray] | None = None,
          nk_activity: float = 1.0, shield: float = 1.0, cluster_death: float = 1.0) -> Fates:
    """Absorption probabilities of circulating units; ``priming`` is per organ, any shape (time).

    ``shield``: factor on the platelet shield (the tumor's platelet activation); ``cluster_death``:
    factor on a cluster's death hazard from its heterotypic partners (tmesim.body.coupling)."""
    circ = body.circulation
    tau = circ.circulation_time.value
    anoikis = np.array([body.emt_classes[c].anoikis.value for c in EMT_CLASSES])
    nk = circ.nk_share.value
    plate = min(1.0, circ.platelet_shield.value * shield)
    hazard = circ.death_single.value * anoikis * ((1.0 - nk) + nk * nk_activity) * (1.0 - plate)
    hazard = np.stack([hazard, hazard * (1.0 - circ.cluster_protection.value) * cluster_death])  # [unit, class]
    s = np.exp(-hazard * tau)
    lung = body.organs["lung"]
    a_lung = np.array([lung.arrest_single.value, lung.arrest_cluster.value])[:, None]
    home = homing(body, factors)
    extra_dims: tuple[int, ...] = ()
    if priming:
        extra_dims = np.shape(next(iter(priming.values())))
    s = s.reshape(s.shape + (1,) * len(extra_dims))
    a_lung = a_lung.reshape(a_lung.shape + (1,) * len(extra_dims))

    def primed(o: str) -> np.ndarray | float:
        p = priming.get(o) if priming else None
        return 1.0 if p is None else 1.0 + body.organs[o].priming_gain.value * np.asarray(p)

    a_lung = np.clip(a_lung * home["lung"] * primed("lung"), 0.0, 1.0)
    A = {}
    for o in SYSTEMIC:
        org = body.organs[o]
        per_pass = np.array([org.arrest_single.value, org.arrest_cluster.value])
        per_pass = per_pass.reshape((2, 1) + (1,) * len(extra_dims))
        A[o] = org.blood_flow.value * np.clip(per_pass * home[o] * primed(o), 0.0, 1.0)
    a_sys = sum(A.values())
    loop = s * (1.0 - a_lung) * (1.0 - a_sys)
    leave = 1.0 - loop
    arrest = {"lung": s * a_lung / leave}
    for o in SYSTEMIC:
        arrest[o] = s * (1.0 - a_lung) * A[o] / leave
    # Most entering cells never circulate: they stop by size in the lung capillaries on their
    # first pass; the rest follow the loops above.
    trap = circ.first_pass_trap.value
    arrest = {o: (1.0 - trap) * v for o, v in arrest.items()}
    arrest["lung"] = trap + arrest["lung"]
    death = 1.0 - sum(arrest.values())
    shape = np.broadcast_shapes(death.shape, s.shape)
    arrest = {o: np.broadcast_to(v, shape) for o, v in arrest.items()}
    return Fates({o: arrest[o] for o in ORGANS}, np.broadcast_to(death, shape),
                 np.broadcast_to(tau / leave, shape), 1.0 - trap)


def half_life_minutes(f: Fates) -> np.ndarray:
    """Blood half-life of circulating units of each kind and class (exponential residence)."""
    return np.log(2.0) * f.residence_min


__all__ = ["SYSTEMIC", "UNITS", "Fates", "barrier_crossing", "fates", "half_life_minutes", "homing"]
