"""One simulated patient: primary tumor -> blood -> organs -> dormancy -> metastases.

Levels and engines, and why:

* the primary tumor section: the spatial engine (the model itself), for the model's
  ``time.days``; it gives the shedding profile (intravasation per tumor cell by EMT class,
  single cells and clusters) — :mod:`tmesim.body.primary`;
* the whole primary tumor: a Gompertz law from ``initial_cells`` through diagnosis to surgery;
* the blood: closed-form fate probabilities per loop (:mod:`tmesim.body.circulation`);
* disseminated cells: expected pools per organ, EMT class and unit kind (before and after
  MET), solved exactly day by day. These pools hold thousands to millions of cells, so their
  mean-field (deterministic) description is accurate;
* colonies: each re-awakening is a rare event, drawn as a Poisson process from the pools
  (stochastic, seeded); a colony grows by a Gompertz law whose initial rate is the growth
  the organ niche shows when simulated spatially (:mod:`tmesim.body.niche`); it is a
  detected metastasis when it reaches the organ's ``detection_cells``.

Time 0 is the start of the life history (``primary.initial_cells``); tables also give days
from diagnosis. Same model, seed and options give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmesim.engine import Simulation
from tmesim.model import Model, ModelError
from tmesim.model.body import EMT_CLASSES, ORGANS, Body

from .circulation import UNITS, barrier_crossing, fates
from .niche import NicheOutcome, run_niche
from .primary import MIN_PER_DAY, Gompertz, SheddingProfile, measure_shedding

STEP_DAYS = 7.0  # the body level advances in weeks; pools are integrated exactly within a step


@dataclass(frozen=True)
class PatientOptions:
    """Interventions on one patient's dissemination (experiments and therapies).

    ``exosomes``: tumor exosomes prime pre-metastatic niches (off = no priming);
    ``tgfb_block``: TGF-β pathway blockade in the organ niches (bone vicious cycle);
    ``met_block``: disseminated cells cannot re-epithelialise; ``nk_activity``: factor on NK
    killing of CTCs; ``factors``: overrides of the tumor's factor scores (e.g. cathepsin S);
    ``niche_days``/``niche_seed``: the spatial niche runs.
    """

    exosomes: bool = True
    tgfb_block: bool = False
    met_block: bool = False
    nk_activity: float = 1.0
    factors: dict[str, float] = field(default_factory=dict)
    niche_days: float = 4.0
    niche_seed: int = 0

    def interventions(self) -> tuple[str, ...]:
        return tuple(n for n, on in (("met_block", self.met_block), ("tgfb_block", self.tgfb_block)) if on)


@dataclass
class PatientResult:
    """Tables of one simulated patient (pandas), and the expected values behind them."""

    ctc: pd.DataFrame
    arrivals: pd.DataFrame
    seeding: pd.DataFrame
    burden: pd.DataFrame
    first_metastasis: pd.DataFrame
    primary: pd.DataFrame
    expected_metastases: dict[str, float]
    seeding_per_cell: pd.DataFrame
    niches: dict[str, NicheOutcome]
    shedding: SheddingProfile
    diagnosis_day: float
    shedding_propensity: float

    def metastatic_sites(self) -> list[str]:
        """Organs with a detected metastasis by the end of follow-up."""
        fm = self.first_metastasis
        return [o for o, d in zip(fm["organ"], fm["days_from_diagnosis"], strict=True) if np.isfinite(d)]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"ctc": self.ctc, "arrivals": self.arrivals, "seeding": self.seeding, "burden": self.burden,
                "first_metastasis": self.first_metastasis, "primary": self.primary,
                "seeding_per_cell": self.seeding_per_cell}


def _exact_step(x: np.ndarray, inflow: np.ndarray, loss: np.ndarray, dt: float) -> np.ndarray:
    """x' = inflow - loss x over dt, exactly for constant inflow and loss."""
    e = np.exp(-loss * dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        steady = np.where(loss > 0, inflow / loss, 0.0)
    return np.where(loss > 0, steady + (x - steady) * e, x + inflow * dt)


class Patient:
    """A whole-body simulation of one patient from a model with a ``body:`` section.

    >>> import tmesim
    >>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
    >>> model.body.organs["brain"].extravasation.value   # the blood-brain barrier is closed
    0.0
    """

    def __init__(self, model: Model, seed: int = 0, options: PatientOptions | None = None,
                 shedding: SheddingProfile | None = None) -> None:
        if model.body is None:
            raise ModelError("body", "the model has no body: section; use a preset with one "
                                     "(tnbc, her2, luminal-a, luminal-b) or add one (see the README)")
        self.model = model
        self.body: Body = model.body
        self.seed = int(seed)
        self.options = options or PatientOptions()
        self.shedding = shedding
        unknown = sorted(set(self.options.factors) - set(self.factors()))
        if unknown:
            from tmesim.model.body import TUMOR_FACTORS

            raise ModelError("options.factors", f"unknown tumor factor(s) {unknown}; allowed: {', '.join(TUMOR_FACTORS)}")

    def factors(self) -> dict[str, float]:
        from tmesim.model.body import TUMOR_FACTORS

        out = {f: 0.0 for f in TUMOR_FACTORS}
        out |= {f: p.value for f, p in self.body.primary.factors.items()}
        out |= {f: float(v) for f, v in self.options.factors.items() if f in out}
        return out

    # ------------------------------------------------------------------ pieces
    def primary_shedding(self, progress: Callable[[Simulation], None] | None = None) -> SheddingProfile:
        if self.shedding is None:
            sim = Simulation(self.model, seed=self.seed)
            self.shedding = measure_shedding(sim, self.model.time.days, progress)
        return self.shedding

    def niches(self) -> dict[str, NicheOutcome]:
        o = self.options
        return {name: run_niche(name, org.niche, o.niche_days, o.niche_seed, o.interventions())
                for name, org in self.body.organs.items()}

    # --------------------------------------------------------------------- run
    def run(self, days: float | None = None, progress: Callable[[Simulation], None] | None = None) -> PatientResult:
        """Simulate the life history to ``days`` after diagnosis (default ``body.follow_up``)."""
        body, opt = self.body, self.options
        shed = self.primary_shedding(progress)
        niches = self.niches()
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xB0D1]))
        gz = Gompertz.for_primary(body.primary)
        t_diag = gz.time_to(body.primary.diagnosis_cells.value)
        follow = (body.follow_up.value if days is None else float(days) * MIN_PER_DAY) / MIN_PER_DAY
        if follow <= 0:
            raise ModelError("days", f"follow-up after diagnosis must be > 0 days, got {follow}")
        t_surg = t_diag + body.primary.surgery_delay.value / MIN_PER_DAY
        t = np.arange(0.0, t_diag + follow + 1e-9, STEP_DAYS)
        dt = STEP_DAYS
        nt = len(t)
        tumor = np.where(t < t_surg, gz.size(t), 0.0)
        fac = self.factors()

        # Exosome priming of each organ (review:93, 96, 132): driven by tumor size and the
        # integrin/miRNA cargo the organ responds to; fades after surgery.
        ex = body.exosomes
        priming = {o: np.zeros(nt) for o in ORGANS}
        if ex.enabled and opt.exosomes:
            drive_size = tumor / (tumor + ex.release_half_cells.value)
            for o, org in body.organs.items():
                cargo = min(1.0, sum(w.value * fac.get(f, 0.0) for f, w in org.priming.items()))
                a = ex.priming_rate.value * MIN_PER_DAY * cargo * drive_size
                d = ex.decay.value * MIN_PER_DAY
                p = 0.0
                for k in range(nt):
                    rate = a[k] + d
                    target = a[k] / rate if rate > 0 else 0.0
                    p = target + (p - target) * np.exp(-rate * dt)
                    priming[o][k] = p

        # Blood: units entering per day, and their fates. Patients' tumors shed at rates that
        # differ by orders of magnitude (lognormal factor, drawn from the patient's seed).
        size = shed.cluster_size
        propensity = float(rng.lognormal(0.0, body.primary.shedding_variability.value))
        influx = np.stack([np.outer(shed.single, tumor), np.outer(shed.cluster, tumor)]) * MIN_PER_DAY * propensity  # [u, c, t]
        f = fates(body, fac, priming, nk_activity=opt.nk_activity)
        cells_per_unit = np.array([1.0, size])[:, None, None]
        in_blood = influx / MIN_PER_DAY * f.circulating * f.residence_min * cells_per_unit  # cells in blood [u, c, t]
        ml = body.circulation.blood_volume.value
        sample = body.circulation.sample_volume.value
        detect = np.array([c in body.circulation.detectable for c in EMT_CLASSES])
        per_sample = in_blood.sum(axis=(0, 1)) * sample / ml
        det_sample = in_blood[:, detect].sum(axis=(0, 1)) * sample / ml
        ctc = pd.DataFrame({
            "time_days": t, "days_from_diagnosis": t - t_diag,
            "ctc_per_7_5ml": per_sample, "detectable_per_7_5ml": det_sample,
            "assay_count": rng.poisson(det_sample * (sample / 7.5) if sample else 0.0),
            "single_cells_per_7_5ml": in_blood[0].sum(axis=0) * sample / ml,
            "cluster_cells_per_7_5ml": in_blood[1].sum(axis=0) * sample / ml,
            "entering_per_day": (influx * cells_per_unit).sum(axis=(0, 1)),
        })

        # Arrest and extravasation per organ; dormant pools before (D) and after (Q) MET.
        cross = barrier_crossing(body, fac)
        cls = body.emt_classes
        met = np.array([0.0 if opt.met_block else cls[c].met.value * MIN_PER_DAY for c in EMT_CLASSES])
        found = np.array([cls[c].colony_founding.value for c in EMT_CLASSES])
        found = np.stack([found, 1.0 - (1.0 - found) ** size])  # a cluster founds if any cell does
        protect = np.array([1.0, 1.0 - body.circulation.cluster_protection.value])[:, None, None]
        rows, seeds = [], []
        organs = list(body.organs)
        entered = np.empty((len(organs), 2, 3, nt))
        death = np.empty((len(organs), 2, 1, nt))
        wake = np.empty((len(organs), 1, 1))
        for n, (o, org) in enumerate(body.organs.items()):
            arrested = influx * f.arrest[o]  # units/day [u, c, t]
            entered[n] = arrested * cross[o][None, :, None]
            rows.append(pd.DataFrame({
                "time_days": t, "organ": o,
                "arrested_cells_per_day": (arrested * cells_per_unit).sum(axis=(0, 1)),
                "extravasated_cells_per_day": (entered[n] * cells_per_unit).sum(axis=(0, 1)),
                "priming": priming[o],
            }))
            # A primed niche keeps dormant cells alive longer (review:93, 132).
            death[n] = org.dormant_death.value * MIN_PER_DAY * protect / (1.0 + org.priming_gain.value * priming[o][None, None, :])
            wake[n] = org.awakening.value * MIN_PER_DAY * body.primary.awakening_factor.value
        D = np.zeros((len(organs), 2, 3))
        Q = np.zeros_like(D)
        rate = np.zeros((len(organs), 2, 3, nt))
        for k in range(nt):
            D_new = _exact_step(D, entered[..., k], death[..., k] + met, dt)
            Q = _exact_step(Q, met * 0.5 * (D + D_new), death[..., k] + wake, dt)
            D = D_new
            rate[..., k] = wake * Q * found
        contrib = {o: rate[n] for n, o in enumerate(organs)}
        lam = {o: rate[n].sum(axis=(0, 1)) for n, o in enumerate(organs)}

        # Colonies: a Poisson process of founding events, then Gompertz growth.
        sizes_t = {o: np.zeros(nt) for o in ORGANS}
        expected = {}
        first = {}
        for o, org in body.organs.items():
            g = niches[o].growth_rate
            K = org.carrying_capacity.value
            det = org.detection_cells.value
            grows = g > 0
            beta = g / np.log(K) if grows else 0.0
            t_detect = float(-np.log(np.log(det / K) / np.log(1.0 / K)) / beta) if grows else np.inf
            expected[o] = float(lam[o][t + t_detect <= t[-1]].sum() * dt) if grows else 0.0
            n_new = rng.poisson(lam[o] * dt)
            first[o] = np.inf
            for k in np.nonzero(n_new)[0]:
                w = contrib[o][:, :, k].ravel()
                origin = rng.choice(6, size=n_new[k], p=w / w.sum())
                for og in origin:
                    u, c = divmod(int(og), 3)
                    born = t[k]
                    detected = born + t_detect
                    seeds.append({"organ": o, "time_days": born, "days_from_diagnosis": born - t_diag,
                                  "unit": UNITS[u], "emt_class": EMT_CLASSES[c],
                                  "detected_days_from_diagnosis": detected - t_diag if detected <= t[-1] else np.nan})
                    if grows:
                        age = np.clip(t - born, 0.0, None)
                        sizes_t[o] += np.where(t >= born, K * np.exp(np.log(1.0 / K) * np.exp(-beta * age)), 0.0)
                        if detected <= t[-1]:
                            first[o] = min(first[o], detected - t_diag)
                    elif t[-1] >= born:
                        sizes_t[o] += np.where(t >= born, 1.0, 0.0)

        # Seeding per intravasated cell, by unit kind and EMT class (expected values).
        shed_cells = (influx * cells_per_unit).sum(axis=2) * dt
        founded = sum(c.sum(axis=2) for c in contrib.values()) * dt
        with np.errstate(divide="ignore", invalid="ignore"):
            per_cell = np.where(shed_cells > 0, founded / shed_cells, 0.0)
        seeding_per_cell = pd.DataFrame([{"unit": UNITS[u], "emt_class": EMT_CLASSES[c],
                                          "intravasated_cells": shed_cells[u, c], "colonies": founded[u, c],
                                          "colonies_per_cell": per_cell[u, c]}
                                         for u in range(2) for c in range(3)])
        burden = pd.DataFrame([{"time_days": tt, "days_from_diagnosis": tt - t_diag, "organ": o,
                                "cells": sizes_t[o][k]} for k, tt in enumerate(t) for o in ORGANS])
        primary = pd.DataFrame({"time_days": t, "days_from_diagnosis": t - t_diag, "cells": tumor,
                                **{f"priming_{o}": priming[o] for o in ORGANS}})
        first_df = pd.DataFrame({"organ": list(ORGANS), "days_from_diagnosis": [first[o] if np.isfinite(first[o]) else np.nan for o in ORGANS],
                                 "expected_metastases": [expected[o] for o in ORGANS],
                                 "expected_colonies": [float(lam[o].sum() * dt) for o in ORGANS],
                                 "niche_growth_per_day": [niches[o].growth_rate for o in ORGANS]})
        seeding = pd.DataFrame(seeds, columns=["organ", "time_days", "days_from_diagnosis", "unit", "emt_class",
                                               "detected_days_from_diagnosis"])
        return PatientResult(ctc, pd.concat(rows, ignore_index=True), seeding, burden, first_df, primary,
                             expected, seeding_per_cell, niches, shed, t_diag, propensity)


__all__ = ["Patient", "PatientOptions", "PatientResult"]
