"""One simulated patient: primary tumor -> blood -> organs -> dormancy -> metastases.

Long module: the patient's life history is one integration over the cascade's levels, whose
state arrays (EMT class × unit kind × organ) every level reads; split it by level if it grows.

Levels and engines, and why:

* the primary tumor section: the patient's own section (spatial by default, mean-field with
  ``PatientOptions(section_engine="meanfield")``; cohorts pass the section they ran) sets the
  shedding rate, the CTC phenotype mix, clusters and their partners, and the systemic
  factors that prime organs — :mod:`tmesim.body.coupling` (``PatientResult.coupling``);
  a model without ``body.coupling`` or a given ``shedding`` profile uses the older fixed
  path (:mod:`tmesim.body.primary`, ``primary.factors``);
* the whole primary tumor: a Gompertz law from ``initial_cells`` through diagnosis to surgery;
* the blood: closed-form fate probabilities per loop (:mod:`tmesim.body.circulation`);
* disseminated cells: expected pools per organ, EMT class and unit kind (before and after
  MET), solved exactly day by day. These pools hold thousands to millions of cells, so their
  mean-field (deterministic) description is accurate;
* colonies: each re-awakening is a rare event, drawn as a Poisson process from the pools
  (stochastic, seeded); a colony first grows at the rate the organ niche shows when simulated
  spatially (:mod:`tmesim.body.niche`) for the niche run's days, then by the primary's Gompertz
  kinetics (the subtype's volume doubling time) up to the organ's plateau
  (:mod:`tmesim.body.colony`); it is a detected metastasis when it reaches the organ's
  ``detection_cells``.

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
from tmesim.model.body import EMT_CLASSES, ORGANS, Body, Organ

from .circulation import UNITS, barrier_crossing, fates
from .colony import ColonyGrowth
from .coupling import Coupled, couple
from .lethality import lethal, organ_limits
from .niche import NicheOutcome, run_niche
from .primary import MIN_PER_DAY, Gompertz, SheddingProfile, measure_shedding

STEP_DAYS = 7.0  # the body level advances in weeks; pools are integrated exactly within a step
BREAST_FLOW = 0.005  # share of cardiac output through one breast (assumption: ~25 mL/min of 5 L/min)


@dataclass(frozen=True)
class PatientOptions:
    """Interventions on one patient's dissemination (experiments and therapies).

    ``exosomes``: tumor exosomes prime pre-metastatic niches (off = release blocked, no priming);
    ``tgfb_block``: TGF-β pathway blockade in the organ niches (bone vicious cycle);
    ``met_block``: disseminated cells cannot re-epithelialise; ``nk_activity``: factor on NK
    killing of CTCs; ``factors``: overrides of the tumor's factor scores (e.g. cathepsin S);
    ``niche_days``/``niche_seed``: the spatial niche runs; ``section_engine``/``section_days``:
    how the patient's own section is simulated when none is given (``section_days`` default:
    the model's ``time.days`` spatially, 28 days mean-field); ``knockouts``: edits of that
    section (:func:`tmesim.body.knockouts.knockout`, e.g. ``("deplete:M2_macrophage",)``);
    ``metastasis_shedding``: colonies shed CTCs (off: only the primary sheds).
    """

    exosomes: bool = True
    tgfb_block: bool = False
    met_block: bool = False
    nk_activity: float = 1.0
    factors: dict[str, float] = field(default_factory=dict)
    niche_days: float = 4.0
    niche_seed: int = 0
    section_engine: str = "spatial"
    section_days: float | None = None
    knockouts: tuple[str, ...] = ()
    metastasis_shedding: bool = True

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
    units: pd.DataFrame = field(default_factory=pd.DataFrame)
    coupling: pd.DataFrame = field(default_factory=pd.DataFrame)
    section: pd.DataFrame | None = None
    death_days_from_diagnosis: float = float("nan")  # the disease became lethal (tmesim.body.lethality; NaN: alive)

    def metastatic_sites(self) -> list[str]:
        """Organs with a detected metastasis by the end of follow-up."""
        fm = self.first_metastasis
        return [o for o, d in zip(fm["organ"], fm["days_from_diagnosis"], strict=True) if np.isfinite(d)]

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"ctc": self.ctc, "arrivals": self.arrivals, "seeding": self.seeding, "burden": self.burden,
               "first_metastasis": self.first_metastasis, "primary": self.primary,
               "seeding_per_cell": self.seeding_per_cell, "units": self.units}
        if len(self.coupling):
            out["coupling"] = self.coupling
        return out


def _exact_step(x: np.ndarray, inflow: np.ndarray, loss: np.ndarray, dt: float) -> np.ndarray:
    """x' = inflow - loss x over dt, exactly for constant inflow and loss."""
    e = np.exp(-loss * dt)
    pos = loss > 0
    steady = np.where(pos, inflow / np.where(pos, loss, 1.0), 0.0)  # no errstate context: called twice a step
    return np.where(pos, steady + (x - steady) * e, x + inflow * dt)


def dormancy_factors(org: Organ, niche: NicheOutcome, factors: dict[str, float]) -> tuple[float, float]:
    """(sleep, wake) of one organ: niche signals that keep cells dormant, systemic factors that
    wake them (:class:`tmesim.model.body.Dormancy`); (1, 1) without a dormancy section."""
    d = org.dormancy
    if d is None:
        return 1.0, 1.0
    sleep = 1.0
    for sig, w in d.signals.items():
        x = max(float(niche.signals.get(sig, 0.0)), 0.0)
        h = d.half[sig].value
        sleep += w.value * x / (x + h) if x + h > 0 else 0.0
    wake = 1.0 + sum(w.value * factors.get(f, 0.0) for f, w in d.wake.items())
    return sleep, wake


class Patient:
    """A whole-body simulation of one patient from a model with a ``body:`` section.

    >>> import tmesim
    >>> model = tmesim.load_model(tmesim.preset_path("tnbc"))
    >>> model.body.organs["brain"].extravasation.value   # the blood-brain barrier is closed
    0.0
    """

    def __init__(self, model: Model, seed: int = 0, options: PatientOptions | None = None,
                 shedding: SheddingProfile | None = None, section: pd.DataFrame | None = None) -> None:
        if model.body is None:
            raise ModelError("body", "the model has no body: section; use a preset with one "
                                     "(tnbc, her2, luminal-a, luminal-b) or add one (see docs/body.md)")
        self.model = model
        self.body: Body = model.body
        self.seed = int(seed)
        self.options = options or PatientOptions()
        self.shedding = shedding
        self.section = section
        self.coupled: Coupled | None = None
        from tmesim.model.body import TUMOR_FACTORS

        unknown = sorted(set(self.options.factors) - set(TUMOR_FACTORS))
        if unknown:
            raise ModelError("options.factors", f"unknown tumor factor(s) {unknown}; allowed: {', '.join(TUMOR_FACTORS)}")
        if self.options.section_engine not in ("spatial", "meanfield"):
            raise ModelError("options.section_engine", f"{self.options.section_engine!r}; allowed: spatial, meanfield")

    def factors(self) -> dict[str, float]:
        from tmesim.model.body import TUMOR_FACTORS

        out = {f: 0.0 for f in TUMOR_FACTORS}
        if self.coupled is not None:
            out |= self.coupled.factors
        else:
            out |= {f: p.value for f, p in self.body.primary.factors.items()}
        out |= {f: float(v) for f, v in self.options.factors.items() if f in out}
        return out

    # ------------------------------------------------------------------ pieces
    def run_section(self, progress: Callable[[Simulation], None] | None = None) -> pd.DataFrame:
        """The patient's own primary section (with the options' knockouts), daily."""
        if self.section is None:
            from .knockouts import knockout
            from .section import run_section

            o = self.options
            days = o.section_days or (self.model.time.days if o.section_engine == "spatial" else 28.0)
            self.section = run_section(knockout(self.model, *o.knockouts), days, o.section_engine, seed=self.seed)
        return self.section

    def primary_shedding(self, progress: Callable[[Simulation], None] | None = None) -> SheddingProfile:
        if self.shedding is None and self.body.coupling is not None:
            self.coupled = couple(self.run_section(progress), self.model, exosomes=self.options.exosomes)
            self.shedding = self.coupled.shedding
        if self.shedding is None:
            sim = Simulation(self.model, seed=self.seed)
            self.shedding = measure_shedding(sim, self.model.time.days, progress)
        return self.shedding

    def niches(self) -> dict[str, NicheOutcome]:
        o = self.options
        return {name: run_niche(name, org.niche, o.niche_days, o.niche_seed, o.interventions())
                for name, org in self.body.organs.items()}

    def outgrowth(self, niches: dict[str, NicheOutcome]) -> dict[str, float]:
        """Per organ, the niche's growth rate with the options' interventions over its rate
        without them: the factor on a colony's macroscopic outgrowth (:mod:`tmesim.body.colony`)."""
        o = self.options
        if not o.interventions():
            return dict.fromkeys(niches, 1.0)
        out = {}
        for name, org in self.body.organs.items():
            ref = run_niche(name, org.niche, o.niche_days, o.niche_seed, ()).growth_rate
            out[name] = max(niches[name].growth_rate, 0.0) / ref if ref > 0 else 1.0
        return out

    # --------------------------------------------------------------------- run
    def run(self, days: float | None = None, progress: Callable[[Simulation], None] | None = None) -> PatientResult:
        """Simulate the life history to ``days`` after diagnosis (default ``body.follow_up``)."""
        body, opt = self.body, self.options
        shed = self.primary_shedding(progress)
        cp = self.coupled
        niches = self.niches()
        outgrowth = self.outgrowth(niches)
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
        organs = list(body.organs)

        # Exosome priming of each organ (review:93, 96, 132): driven by tumor size, release per
        # tumor cell (the section's hypoxia) and the cargo/systemic factors the organ responds
        # to; fades after surgery.
        ex = body.exosomes
        release = 1.0 if cp is None else cp.exosome_release
        priming = {o: np.zeros(nt) for o in ORGANS}
        if ex.enabled and opt.exosomes and release > 0:
            drive_size = tumor / (tumor + ex.release_half_cells.value)
            for o, org in body.organs.items():
                cargo = min(1.0, sum(w.value * fac.get(f, 0.0) for f, w in org.priming.items()))
                a = ex.priming_rate.value * MIN_PER_DAY * cargo * np.minimum(1.0, release * drive_size)
                d = ex.decay.value * MIN_PER_DAY
                p = 0.0
                for k in range(nt):
                    rate = a[k] + d
                    target = a[k] / rate if rate > 0 else 0.0
                    p = target + (p - target) * np.exp(-rate * dt)
                    priming[o][k] = p

        # Blood: units entering per day from the primary, and their fates. Patients' tumors shed
        # at rates that differ by orders of magnitude (lognormal factor, from the patient's seed).
        size = shed.cluster_size
        propensity = float(rng.lognormal(0.0, body.primary.shedding_variability.value))
        influx_primary = np.stack([np.outer(shed.single, tumor), np.outer(shed.cluster, tumor)]) * MIN_PER_DAY * propensity  # [u, c, t]
        nk = opt.nk_activity * (1.0 if cp is None else cp.nk_activity)
        f = fates(body, fac, priming, nk_activity=nk, shield=1.0 if cp is None else cp.platelet_shield,
                  cluster_death=1.0 if cp is None else cp.cluster_survival)
        cells_per_unit = np.array([1.0, size])[:, None]
        per_cell_rate = shed.cells_per_cell_minute() * MIN_PER_DAY * propensity  # cells per tumor cell and day

        # Arrest, extravasation, dormancy (D before MET, Q after) and founding per organ.
        cross = barrier_crossing(body, fac)
        cls = body.emt_classes
        met = np.array([0.0 if opt.met_block else cls[c].met.value * MIN_PER_DAY for c in EMT_CLASSES])
        found1 = np.array([cls[c].colony_founding.value for c in EMT_CLASSES]) * (1.0 if cp is None else cp.founding)
        found1 = np.clip(found1, 0.0, 1.0)
        stem = 1.0 if cp is None else body.coupling.cluster_stemness.value  # type: ignore[union-attr]
        per_member = np.clip(found1 * stem, 0.0, 1.0)
        found_cluster = np.clip((1.0 - (1.0 - per_member) ** size) * (1.0 if cp is None else cp.cluster_founding), 0.0, 1.0)
        found = np.stack([found1, found_cluster])  # a cluster founds if any of its (stem-like) cells does
        protect = np.array([1.0, 1.0 - body.circulation.cluster_protection.value])[:, None]
        death = np.empty((len(organs), 2, 1, nt))
        wake = np.empty((len(organs), 1, 1))
        sleep_wake = {}
        survival = body.primary.dormant_survival.value if body.primary.dormant_survival is not None else 1.0
        for n, (o, org) in enumerate(body.organs.items()):
            sleep, wk = dormancy_factors(org, niches[o], fac)
            sleep_wake[o] = (sleep, wk)
            # A primed niche keeps dormant cells alive longer (review:93, 132); a dormancy niche too,
            # the more so for a subtype whose cells draw survival from it (ER+: Src-dependent
            # CXCL12/IGF1 signals in the marrow, Zhang et al. Cancer Cell 2009).
            hold = 1.0 + survival * (sleep - 1.0)
            death[n] = (org.dormant_death.value * MIN_PER_DAY * protect[:, :, None]
                        / (1.0 + org.priming_gain.value * priming[o][None, None, :]) / hold)
            wake[n] = org.awakening.value * MIN_PER_DAY * body.primary.awakening_factor.value * wk / sleep
        arrest = np.stack([f.arrest[o] for o in organs])  # [organ, u, c, t]
        cross_a = np.stack([cross[o] for o in organs])[:, None, :]  # [organ, 1, c]

        # Metastases shed like the primary per cell, with their niche's EMT mix (post-MET).
        met_share = np.array([[niches[o].epithelial_fraction, 0.5 * (1 - niches[o].epithelial_fraction),
                               0.5 * (1 - niches[o].epithelial_fraction)] for o in organs])  # [organ, c]
        cluster_cells = float(np.sum(shed.cluster) * size / max(shed.cells_per_cell_minute(), 1e-300))
        # A metastasis's cells shed with their own EMT mix: the primary's per-cell rate is
        # rescaled by the intravasation propensity of that mix against the primary's (without
        # coupling: the primary's rate).
        if cp is not None:
            prop = np.array([body.coupling.emt_propensity[c].value for c in EMT_CLASSES])  # type: ignore[union-attr]
            met_rate = per_cell_rate * (met_share @ prop) / max(float(shed.class_share @ prop), 1e-12)  # [organ]
        else:
            met_rate = np.full(len(organs), per_cell_rate)
        sizes_t = np.zeros((len(organs), nt))
        influx = np.zeros((2, 3, nt))
        from_mets = np.zeros(nt)
        D = np.zeros((len(organs), 2, 3))
        Q = np.zeros_like(D)
        lam = np.zeros((len(organs), nt))
        ext_units = np.zeros((2, 3))
        arrested_units = np.zeros((2, 3))
        arrested_cells = np.zeros((len(organs), nt))  # cells/day per organ and step (0 after death)
        extravasated_cells = np.zeros((len(organs), nt))
        founded = np.zeros((2, 3))
        expected = dict.fromkeys(ORGANS, 0.0)
        first = dict.fromkeys(ORGANS, np.inf)
        seeds = []
        grow = {}
        for o in organs:
            colony = ColonyGrowth.for_organ(niches[o].growth_rate, niches[o].days, gz.beta,
                                            body.organs[o].carrying_capacity.value, outgrowth[o])
            grow[o] = (colony, colony.time_to(body.organs[o].detection_cells.value))
        names = [*organs, "primary"]
        limits = organ_limits(body, names)
        death_k = nt
        for k in range(nt):
            mets_cells = sizes_t[:, k - 1] if k > 0 else np.zeros(len(organs))
            if k > 0 and lethal(body, np.append(mets_cells, tumor[k - 1]), names, limits)[0]:
                death_k = k  # the total burden, or one organ's failure, is lethal: the life history ends here
                break
            met_in = np.zeros((2, 3))
            if opt.metastasis_shedding and mets_cells.sum() > 0:
                cells = (met_rate * mets_cells)[:, None] * met_share  # [organ, c] cells/day
                c_all = cells.sum(axis=0)
                met_in = np.stack([c_all * (1.0 - cluster_cells), c_all * cluster_cells / size])
                from_mets[k] = float(c_all.sum())
            influx[..., k] = influx_primary[..., k] + met_in
            arrived = influx[..., k][None] * arrest[..., k]  # units/day [organ, u, c]
            entered = arrived * cross_a
            # per organ at once: each row is summed as its own contiguous block, as .sum() did per organ
            arrested_cells[:, k] = (arrived * cells_per_unit).reshape(len(organs), -1).sum(axis=1)
            extravasated_cells[:, k] = (entered * cells_per_unit).reshape(len(organs), -1).sum(axis=1)
            arrested_units += arrived.sum(axis=0) * dt
            ext_units += entered.sum(axis=0) * dt
            D_new = _exact_step(D, entered, death[..., k] + met, dt)
            Q = _exact_step(Q, met * 0.5 * (D + D_new), death[..., k] + wake, dt)
            D = D_new
            rate = wake * Q * found  # founding colonies per day [organ, u, c]
            lam[:, k] = rate.sum(axis=(1, 2))
            founded += rate.sum(axis=0) * dt
            # Colonies: a Poisson process of founding events, then Gompertz growth.
            for n, o in enumerate(organs):
                colony, t_det = grow[o]
                grows = np.isfinite(t_det)
                if grows and t[k] + t_det <= t[-1]:
                    expected[o] += lam[n, k] * dt
                m = rng.poisson(lam[n, k] * dt)
                if m == 0:
                    continue
                w = rate[n].ravel()
                for og in rng.choice(6, size=m, p=w / w.sum()):
                    u, c = divmod(int(og), 3)
                    born = t[k]
                    detected = born + t_det
                    seeds.append({"organ": o, "time_days": born, "days_from_diagnosis": born - t_diag,
                                  "unit": UNITS[u], "emt_class": EMT_CLASSES[c],
                                  "detected_days_from_diagnosis": detected - t_diag if detected <= t[-1] else np.nan})
                    sizes_t[n, k:] += colony.size(t[k:] - born)
                    if grows and detected <= t[-1]:
                        first[o] = min(first[o], detected - t_diag)

        # After death nothing enters the blood and no colony is founded (existing ones keep their curves).
        influx[..., death_k:] = 0.0
        death_day = float(t[death_k] - t_diag) if death_k < nt else np.nan

        # Blood counts (primary- and metastasis-derived), per 7.5 mL.
        cpu = cells_per_unit[:, :, None]
        in_blood = influx / MIN_PER_DAY * f.circulating * f.residence_min * cpu  # cells in blood [u, c, t]
        ml = body.circulation.blood_volume.value
        sample = body.circulation.sample_volume.value
        detect = np.array([c in body.circulation.detectable for c in EMT_CLASSES])
        per_sample = in_blood.sum(axis=(0, 1)) * sample / ml
        det_sample = in_blood[:, detect].sum(axis=(0, 1)) * sample / ml
        entering = (influx * cpu).sum(axis=(0, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            met_part = np.where(entering > 0, from_mets / entering, 0.0)
        systemic_arrest = sum(f.arrest[o] for o in organs if o != "lung")
        ctc = pd.DataFrame({
            "time_days": t, "days_from_diagnosis": t - t_diag,
            "ctc_per_7_5ml": per_sample, "detectable_per_7_5ml": det_sample,
            "assay_count": rng.poisson(det_sample * (sample / 7.5) if sample else 0.0),
            "single_cells_per_7_5ml": in_blood[0].sum(axis=0) * sample / ml,
            "cluster_cells_per_7_5ml": in_blood[1].sum(axis=0) * sample / ml,
            "from_metastases_per_7_5ml": per_sample * met_part,
            "entering_per_day": entering,
            "from_metastases_per_day": from_mets,
            # Self-seeding: circulating cells that reach the breast while the primary is in place.
            "reseeding_primary_per_day": np.where(t < t_surg, (influx * cpu * f.circulating * BREAST_FLOW
                                                               * np.asarray(systemic_arrest)).sum(axis=(0, 1)) / max(
                sum(body.organs[o].blood_flow.value for o in organs if o != "lung"), 1e-9), 0.0),
        })
        rows = [pd.DataFrame({"time_days": t, "organ": o, "arrested_cells_per_day": arrested_cells[n],
                              "extravasated_cells_per_day": extravasated_cells[n], "priming": priming[o],
                              "sleep": sleep_wake[o][0], "wake": sleep_wake[o][1],
                              "founding_per_day": lam[n]}) for n, o in enumerate(organs)]

        # Fates per unit kind and EMT class (expected over the life history).
        shed_units = influx.sum(axis=2) * dt
        blood_death = (influx * np.asarray(f.death)).sum(axis=2) * dt
        dormant_end = (D + Q).sum(axis=0)
        units = []
        for u in range(2):
            for c in range(3):
                cpu_u = 1.0 if u == 0 else size
                row = {"unit": UNITS[u], "emt_class": EMT_CLASSES[c], "cells_per_unit": cpu_u,
                       "intravasated_units": shed_units[u, c], "died_in_blood": blood_death[u, c],
                       "arrested": arrested_units[u, c], "extravasated": ext_units[u, c],
                       "dormant_at_end": dormant_end[u, c], "colonies": founded[u, c]}
                row["died_after_arrest"] = max(row["arrested"] - row["colonies"] - row["dormant_at_end"], 0.0)
                iu = row["intravasated_units"]
                row["colonies_per_unit"] = row["colonies"] / iu if iu > 0 else 0.0
                row["colonies_per_cell"] = row["colonies"] / (iu * cpu_u) if iu > 0 else 0.0
                units.append(row)
        units_df = pd.DataFrame(units)
        seeding_per_cell = pd.DataFrame({"unit": units_df["unit"], "emt_class": units_df["emt_class"],
                                         "intravasated_cells": units_df["intravasated_units"] * units_df["cells_per_unit"],
                                         "colonies": units_df["colonies"], "colonies_per_cell": units_df["colonies_per_cell"]})
        no = len(organs)  # one row per step and organ, steps in order (built column-wise: a list of dicts was slow)
        burden = pd.DataFrame({"time_days": np.repeat(t, no), "days_from_diagnosis": np.repeat(t - t_diag, no),
                               "organ": np.tile(np.array(organs, dtype=object), nt), "cells": sizes_t.T.ravel()})
        primary = pd.DataFrame({"time_days": t, "days_from_diagnosis": t - t_diag, "cells": tumor,
                                **{f"priming_{o}": priming[o] for o in ORGANS}})
        first_df = pd.DataFrame({"organ": list(ORGANS), "days_from_diagnosis": [first[o] if np.isfinite(first[o]) else np.nan for o in ORGANS],
                                 "expected_metastases": [expected[o] for o in ORGANS],
                                 "expected_colonies": [float(lam[organs.index(o)].sum() * dt) for o in ORGANS],
                                 "niche_growth_per_day": [niches[o].growth_rate for o in ORGANS],
                                 # founding to detection (days; inf where the niche does not grow)
                                 "detection_delay_days": [grow[o][1] for o in ORGANS]})
        seeding = pd.DataFrame(seeds, columns=["organ", "time_days", "days_from_diagnosis", "unit", "emt_class",
                                               "detected_days_from_diagnosis"])
        return PatientResult(ctc, pd.concat(rows, ignore_index=True), seeding, burden, first_df, primary,
                             expected, seeding_per_cell, niches, shed, t_diag, propensity, units_df,
                             cp.table if cp is not None else pd.DataFrame(), self.section, death_day)


__all__ = ["Patient", "PatientOptions", "PatientResult", "dormancy_factors"]
