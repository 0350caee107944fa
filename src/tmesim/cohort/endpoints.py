"""Clinical endpoints of one virtual patient from its section time course and body model.

Timeline: day 0 is the start of treatment (trial entry). The section is first run without
treatment for ``run_in_days`` (so that its tumor nest is established) and then for
``treatment_days`` with the arm's therapies, which start at the end of the run-in.

Tumor burden (cells, the whole tumor, not the section)::

    B(t) = B0 · s(t) · exp(g t)

* ``B0`` = ``baseline_factor`` × the patient's ``body.primary.diagnosis_cells`` (metastatic
  disease at trial entry is larger than a primary at diagnosis; factor 10: assumption);
* ``s(t)`` = max(N(t), 1) / N(0): the section's cancer cells relative to treatment start
  (therapy and immune killing). The section is a fixed lattice: its nest fills it within
  weeks and then no longer grows, so the section gives the *fraction* of tumor cells that
  survive, not the expansion; after ``treatment_days`` s stays at its last value;
* ``exp(g t)``, g = ln 2 / the patient's ``body.primary.doubling_time``, corrected for the
  section's immune pressure (below): expansion of the tumor beyond the section (new tissue at
  the rim), at the subtype's volume doubling time.

Angiogenesis (``body.primary.angiogenic_dependence`` = a, when the model sets it): new tissue
needs new vessels (Folkman 1971), so a share a of the expansion follows the section's
angiogenic drive — the division rate its growth factors (VEGF; secondarily CXCL12, IL-3, IL-6) give the vessel types
through their own rules, relative to the end of the run-in (:func:`angiogenic_support`, r ≤ 1):
the expansion rate is g·(1 − a + a·r(t)) and exp(g t) becomes exp(∫ g (1 − a + a r) dt). VEGF
blockade (bevacizumab) lowers r; factors it does not touch (IL-6) keep part of it (escape).
After the window r keeps its mean over the last ``regrowth_days`` while therapy continues
(``extrapolate``) and returns to 1 when therapy stops (``hold``) or, in both, after progression
(treatment stops at progression). With ``revascularisation_days`` > 0 the tumor also regains,
over those days after the stop, the expansion the lowered drive withheld (withdrawal rebound:
vessels regrow into the sleeves pruning left, Mancuso et al. 2006; :func:`rebound`).

Further lines after first progression (``further_lines``, :mod:`tmesim.cohort.further_lines`)
hold the whole disease for drawn control times, alike in every arm; they delay death, not PFS.

Progression (RECIST 1.1-like, Eisenhauer et al., Eur J Cancer 2009;45:228): on every
assessment (every ``assessment_days``), the sum of diameters ∝ B^(1/3) (a sphere: diameter
∝ volume^(1/3) ∝ cells^(1/3)); progression when it is ≥ 1.2 × its nadir (baseline included),
i.e. B ≥ 1.2³ = 1.728 × nadir burden, or when a new metastasis is detected (a new lesion),
or at death. Burdens below ``measurable_cells`` (a 10 mm lesion, RECIST's smallest
measurable size, at 1e9 cells/cm³) count as that floor, so a complete response progresses
only when the tumor is measurable again. The 5 mm absolute increase of RECIST is not used.

Death (overall survival): when the total burden, B(t) plus metastatic cells in the organs
(:class:`tmesim.body.Patient`), reaches ``body.primary.carrying_capacity`` of the patient's
model (the catalog's lethal burden, ~1e12 cells ≈ 1 kg).

Every endpoint is censored at ``follow_up_days``. Time to first metastasis per organ is the
body model's detection time after day 0 (metastases detected before day 0 are baseline
lesions), with the primary's shedding rate from the untreated section (the last run-in week):
the body model takes no therapy, so new metastases are the same in every arm.

Therapy until progression (``after_window: extrapolate``): the catalog's tumor cells acquire
drug resistance under chemotherapy (a heritable ``resistance`` state, Sharma et al., Cell
2010), so a section treated without end regrows. After the window the section keeps its net
regrowth rate over the window's last 28-day cycle (``regrowth_days``: a whole cycle, not the
rebound of its drug-free week alone; up to the largest fraction it held), so
progression comes from resistant regrowth rather than from a stop of therapy, as in trials
that treat until progression (IMpassion130, RIBBON-1).

Why a treatment window (``after_window: hold``, the default) for models without acquired
resistance: treated without end,
every virtual tumor is eventually cleared — by chemotherapy plus the immune infiltrate that
moves into the space it frees (with the measured contact enrichment of
:mod:`tmesim.cohort.contacts`; without it, the well-mixed section is cleared even untreated,
since every T cell then touches tumor cells). The cohort therefore reads the section's
response over ``treatment_days`` (default 12 weeks) and lets the surviving cells regrow at
the doubling time afterwards; the shipped IMpassion130 trial gives chemotherapy for two
cycles within that window, so that the section's course after chemotherapy (continued
immune killing or rebound) is part of the response. How long and how deep the section
responds within the window is what differs between patients and arms. The section holds at
least one cancer cell (s ≥ 1/N(0)).

Immune pressure on growth (``immune_control``, on by default, and ``immune_on_therapy``): the
expansion rate g follows the section's immune kill rate, :mod:`tmesim.cohort.immune_growth`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tmesim.model import Model

from .further_lines import FurtherLine, delay_after, held_days
from .immune_growth import (
    DEFAULT_IMMUNE_EXPONENT,
    KILL_FLOOR,
    growth_rate,
    immune_exponent,
    immune_growth_factor,
    immune_kill_rate,
    immune_pace,
    trailing_kill_rates,
)
from .section import TUMOR

RECIST_PD = 1.2**3  # 20% increase of the sum of diameters, as a volume (cells) ratio


@dataclass(frozen=True)
class EndpointConfig:
    """How long each piece runs and how endpoints are read (days unless stated)."""

    run_in_days: float = 28.0
    treatment_days: float = 84.0
    follow_up_days: float = 730.0
    assessment_days: float = 7.0
    baseline_factor: float = 10.0
    measurable_cells: float = 5e8
    new_lesion_progression: bool = True
    immune_control: bool = True
    reference_kill_rate: float | None = None  # k_ref (1/day); None: computed from the model
    after_window: str = "hold"  # or "extrapolate": therapy continues until progression
    regrowth_days: float = 28.0  # window end over which the regrowth rate is read: one whole 28-day cycle
    scan_days: float = 0.0  # metastatic setting: days between RECIST scans in the first year (0: every assessment)
    late_scan_days: float = 0.0  # ... and after the first year (0: as scan_days)
    revascularisation_days: float = 0.0  # > 0: the withdrawal rebound of rebound() over these days; 0: none
    immune_on_therapy: bool = False  # the immune growth correction follows the treated section's kill (immune_pace)
    further_lines: tuple[FurtherLine, ...] = ()  # post-progression therapy, the same in every arm (further_lines.py)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("revascularisation_days", "further_lines", "scan_days", "late_scan_days", "immune_on_therapy"):  # folders written before these options keep their configuration
            if not d[k]:
                d.pop(k)
        return d


def burden_curve(section: pd.DataFrame, model: Model, cfg: EndpointConfig) -> pd.DataFrame:
    """Whole-tumor burden on the assessment grid: ``day``, ``section_fraction``, ``burden``."""
    t_sec = section["time_days"].to_numpy(float) - cfg.run_in_days
    n = section[TUMOR].to_numpy(float)
    keep = t_sec >= -1e-9
    t_sec, n = t_sec[keep], n[keep]
    n0 = max(n[0], 1.0)
    frac = np.maximum(n, 1.0) / n0
    days = np.arange(0.0, cfg.follow_up_days + 1e-9, cfg.assessment_days)
    s = np.interp(days, t_sec, frac, right=frac[-1])
    if cfg.after_window == "extrapolate":
        s = _extrapolate(days, s, t_sec, frac, cfg.regrowth_days)
    body = model.body
    b0 = cfg.baseline_factor * (body.primary.diagnosis_cells.value if body is not None else 4e9)
    g = growth_rate(section, model, cfg)
    pace = immune_pace(section, model, cfg, days)
    share = body.primary.angiogenic_dependence if body is not None else None
    if share is None:
        burden = b0 * s * np.exp(cumulative(days, g * pace))
        stop = t_sec[-1] if cfg.after_window == "hold" else progression_day(days, burden, cfg.measurable_cells)
        if np.isfinite(stop) and cfg.immune_on_therapy:
            pace[days > stop] = 1.0
            burden = b0 * s * np.exp(cumulative(days, g * pace))
        return pd.DataFrame({"day": days, "section_fraction": s, "immune_pace": pace, "burden": burden})
    r = np.interp(days, t_sec, angiogenic_support(section, model, cfg.run_in_days)[keep])
    if cfg.after_window == "extrapolate":  # therapy continues: the support of the window's last weeks
        r[days > t_sec[-1]] = float(np.mean(r[(days > t_sec[-1] - cfg.regrowth_days) & (days <= t_sec[-1])]))
    else:  # therapy stopped: the tumor's own angiogenic drive returns
        r[days > t_sec[-1]] = 1.0
    burden = b0 * s * np.exp(cumulative(days, g * pace * (1.0 - share.value + share.value * r)))
    stop = t_sec[-1] if cfg.after_window == "hold" else progression_day(days, burden, cfg.measurable_cells)
    if np.isfinite(stop):  # treatment stops (at progression when given until then): the tumor's own drive returns
        r[days > stop] = 1.0
        pace[days > stop] = 1.0
        burden = b0 * s * np.exp(cumulative(days, g * pace * (1.0 - share.value + share.value * r)))
        if cfg.revascularisation_days > 0:
            burden = burden * rebound(days, r, stop, g * share.value, cfg.revascularisation_days)
    return pd.DataFrame({"day": days, "section_fraction": s, "angiogenic_support": r, "immune_pace": pace,
                         "burden": burden})


def rebound(days: np.ndarray, r: np.ndarray, stop: float, rate: float, over: float) -> np.ndarray:
    """Factor on the burden after treatment that lowered the section's vessel drive r (VEGF
    sequestration; also the debulking of chemotherapy, whose section makes less VEGF) stops on
    day ``stop``: the expansion withheld until then, exp(``rate`` · ∫₀^stop (1 − r) dt) with
    ``rate`` = g · a (a = ``angiogenic_dependence``), regained linearly over ``over`` days
    (factor 1 before ``stop``).

    Tumor vessels pruned by VEGF blockade leave empty sleeves of basement membrane and
    surviving pericytes; after withdrawal endothelial sprouts regrow into them within a day and
    the tumor is fully revascularised by 7 days (Mancuso et al., J Clin Invest 2006;116:2610,
    doi:10.1172/JCI24612), and liver metastases of patients whose bevacizumab was interrupted
    grew faster until it was resumed (Cacheux et al., Ann Oncol 2008). Assumption: the
    tumor the vessel bed supported before the course is regained with the bed (the withheld
    expansion was held back by supply, Holmgren et al., Nat Med 1995;1:149: proliferation
    balanced by apoptosis under angiogenesis suppression), so after the course the tumor
    follows its untreated angiogenic trajectory rather than keeping the lag. Against it: in
    the pooled placebo-controlled trials time to progression or death after stopping
    bevacizumab for adverse events was not shorter than after stopping placebo (Miles et al.,
    J Clin Oncol 2011;29:83, HR 0.93, 0.79-1.10)."""
    k = int(np.searchsorted(days, stop, side="right"))
    withheld = float(cumulative(days[:k], 1.0 - r[:k])[-1]) if k > 1 else 0.0
    return np.exp(rate * withheld * np.clip((days - stop) / over, 0.0, 1.0))


def cumulative(days: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """∫ rate dt on the assessment grid (trapezoid), 0 on the first day."""
    return np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(days))])


def angiogenic_support(section: pd.DataFrame, model: Model, run_in_days: float) -> np.ndarray:
    """Per section row: the vessel types' growth-factor drive of division relative to the end of
    the run-in (capped at 1).

    The drive of a vessel type is what its up-regulating cycle-entry rules on substrates (e.g.
    VEGF, IL-6) add to its division rate at the section's mean concentrations, combined as every
    engine combines rules (:mod:`tmesim.model.response`); types are weighted by their live counts
    at the end of the run-in. A drug that removes a growth factor (VEGF sequestration) lowers it;
    a factor it does not touch (IL-6, hypoxia-driven escape) keeps part of it."""
    from tmesim.model.response import EMPTY, accumulate, combine, hill

    t = section["time_days"].to_numpy(float)
    i0 = int(np.argmin(np.abs(t - run_in_days)))
    subs = set(model.substrate_names)
    drive = np.zeros(len(t))
    weight = 0.0
    for ct in model.cell_types:
        rules = [r for r in model.rules if r.cell_type == ct.name and r.behaviour == "cycle entry"
                 and r.direction == "increases" and r.signal in subs and r.signal in section]
        if not ct.vessel or not rules or ct.name not in section:
            continue
        w = float(section[ct.name].iloc[i0])
        conc = [section[r.signal].to_numpy(float).tolist() for r in rules]  # not .iloc per day and rule
        for k in range(len(t)):
            acc = EMPTY
            for r, c in zip(rules, conc, strict=True):
                acc = accumulate(acc, hill(c[k], float(r.half_max), r.hill_power), True, float(r.saturation))
            drive[k] += w * combine(0.0, acc)
        weight += w
    if weight <= 0.0 or drive[i0] <= 0.0:
        return np.ones(len(t))
    return np.minimum(drive / drive[i0], 1.0)


def _extrapolate(days: np.ndarray, s: np.ndarray, t_sec: np.ndarray, frac: np.ndarray, span: float) -> np.ndarray:
    """Therapy given until progression: after the window the section keeps its net regrowth rate
    of the window's last ``span`` days (resistant cells expanding under therapy; a section still
    shrinking or stable holds), up to the largest fraction it reached in the window (a full section)."""
    end = t_sec[-1]
    sel = t_sec >= end - span - 1e-9
    if sel.sum() < 2:
        return s
    slope = float(np.polyfit(t_sec[sel], np.log(np.maximum(frac[sel], 1e-12)), 1)[0])
    after = days > end
    grown = frac[-1] * np.exp(max(slope, 0.0) * (days[after] - end))
    out = s.copy()
    out[after] = np.minimum(grown, max(float(frac.max()), float(frac[-1])))
    return out


def progression_day(days: np.ndarray, burden: np.ndarray, floor: float) -> float:
    """First assessment with burden ≥ 1.728 × nadir (RECIST, floors at ``floor``); NaN if none."""
    b = np.maximum(burden, floor)
    nadir = np.minimum.accumulate(b)
    prev_nadir = np.concatenate([[b[0]], nadir[:-1]])
    hit = np.nonzero((b >= RECIST_PD * prev_nadir) & (days > 0))[0]
    return float(days[hit[0]]) if len(hit) else float("nan")


def best_response(burden: np.ndarray, floor: float) -> str:
    """RECIST-like best overall response from the burden ratio to baseline (diameter change)."""
    ratio = np.min(burden[1:] / burden[0]) if len(burden) > 1 else 1.0
    if np.min(burden) < floor:
        return "CR"
    d = ratio ** (1.0 / 3.0)
    return "PR" if d <= 0.7 else ("PD" if d >= 1.2 else "SD")


def endpoints(curve: pd.DataFrame, model: Model, metastases: pd.DataFrame | None,
              met_burden: pd.DataFrame | None, cfg: EndpointConfig, seed: int = 0) -> dict[str, float | str | bool]:
    """PFS, OS and time to first metastasis per organ, each as ``<name>_days`` + ``<name>_event``.

    ``seed``: the patient's seed, from which the further lines after progression are drawn
    (``cfg.further_lines``, :mod:`tmesim.cohort.further_lines`)."""
    days, b = curve["day"].to_numpy(float), curve["burden"].to_numpy(float)
    fu = cfg.follow_up_days
    total = b.copy()
    if met_burden is not None and len(met_burden):
        total += np.interp(days, met_burden["day"].to_numpy(float), met_burden["cells"].to_numpy(float))
    lethal = model.body.primary.carrying_capacity.value if model.body is not None else 1e12

    def death_day(tot: np.ndarray) -> float:
        dead = np.nonzero(tot >= lethal)[0]
        return float(days[dead[0]]) if len(dead) else float("nan")

    death = death_day(total)
    out: dict[str, float | str | bool] = {}
    firsts = []
    if metastases is not None:
        for organ, d in zip(metastases["organ"], metastases["days_from_diagnosis"], strict=True):
            ev = bool(np.isfinite(d) and 0 < d <= fu)
            out[f"met_{organ}_days"] = float(d) if ev else float(fu)  # float in every patient: tables concatenate alike
            out[f"met_{organ}_event"] = ev
            if ev:
                firsts.append(float(d))
    pd_day = progression_day(days, b, cfg.measurable_cells)
    candidates = [x for x in [pd_day, death] if np.isfinite(x)]
    if cfg.new_lesion_progression:
        candidates += firsts
    pfs = min(candidates) if candidates else float("nan")
    if cfg.further_lines:  # further lines after progression, drawn alike in every arm
        held = held_days(cfg.further_lines, seed) if np.isfinite(pfs) and not death <= pfs else 0.0
        death = death_day(delay_after(days, total, pfs, held)) if held > 0 else death
        out["further_lines_days"] = held
    out |= {"pfs_days": float(pfs if np.isfinite(pfs) else fu), "pfs_event": bool(np.isfinite(pfs)),
            "os_days": float(death if np.isfinite(death) else fu), "os_event": bool(np.isfinite(death)),
            "progression_by": ("burden" if np.isfinite(pd_day) and pd_day == pfs else
                               "death" if np.isfinite(death) and death == pfs else
                               "new lesion" if np.isfinite(pfs) else "none"),
            "best_response": best_response(b, cfg.measurable_cells),
            "burden_baseline": float(b[0]), "section_fraction_end": float(curve["section_fraction"].iloc[-1])}
    return out


__all__ = ["DEFAULT_IMMUNE_EXPONENT", "KILL_FLOOR", "RECIST_PD", "EndpointConfig", "angiogenic_support", "best_response",
           "burden_curve", "rebound", "endpoints", "growth_rate", "immune_exponent", "immune_growth_factor", "immune_kill_rate",
           "immune_pace", "trailing_kill_rates", "cumulative",
           "progression_day"]
