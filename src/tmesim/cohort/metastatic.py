"""Trials in the metastatic setting: patients enter at diagnosis of metastatic disease.

``setting: metastatic`` in a trial file (:mod:`tmesim.cohort.trial`). What differs from the
default setting (the treated primary of patients at diagnosis):

**Entry (screening).** Each candidate virtual patient's untreated life history is simulated by
the body model (:class:`tmesim.body.Patient`, coupled to the patient's own untreated section
over the run-in), for ``body.follow_up`` after diagnosis plus the trial's follow-up. The
patient enters on the first body step (weekly) at or after diagnosis on which a distant
metastasis is detected (an organ's metastatic cells ≥ its ``detection_cells``) and at least
one lesion is measurable (≥ ``measurable_cells``, 10 mm: RECIST 1.1 requires measurable
disease; the primary counts while it is in place, i.e. de novo stage IV before surgery), the
whole disease (every organ's metastatic cells plus the primary in place) has reached
``body.presentation_cells`` when the model sets it, and the patient is alive. Why the
presentation burden: after breast cancer treatment no routine imaging looks for metastases
(ASCO guideline, Khatcheressian et al., J Clin Oncol 2013;31:961), so metastatic disease is
diagnosed from its symptoms, and first-line trials enrol patients with a sum of target
diameters of several centimetres (about 6 cm in a typical patient of pooled first-line
trials, Tate et al., Eur J Cancer 2016;66:95); without it, virtual patients entered as soon as
one lesion reached 10 mm (median sum of target diameters 10.3 mm), about 2000-fold below the
lethal burden, and few died within two years. Candidates whose history gives no such day are
screen failures; the trial enrols the first ``n`` eligible candidates in candidate order (candidate ``i`` is child
``i`` of ``SeedSequence(seed)``, so the enrolled patients do not depend on the number of
workers) and randomises them over the arms.

**Lesions.** One lesion per organ (the organ's colonies, summed: the body model tracks the
organ's metastatic cells, not single colonies) plus the primary if it is in place at entry.
The organ niches (the body model's spatial niche runs, :mod:`tmesim.body.niche`) decide
where and when lesions arise: which organs hold metastases at entry and how large, and the
course of each organ's still undetected cells after entry (colonies founded from the
circulation, dormant cells waking, outgrowth at the niche's rate). A lesion detected at entry
and the primary grow at the patient's immune-corrected doubling-time rate g
(:func:`tmesim.cohort.endpoints.growth_rate`): a detected metastasis has left the
colonisation phase that the niche run measures (the first days of a few re-epithelialised
cells, up to ~0.3/day in bone) and grows at the clinical volume doubling time (Ryu et al.,
Eur Radiol 2014;24:2227; assumption: a metastasis doubles like its primary). Every lesion is
exposed to the same drug exposures: the cancer cells of every lesion (micrometastases below
detection included) survive in the same fraction s(t) as the patient's treated section (its
clone, its immune contexture, the same systemic PK, acquired resistance under chemotherapy
given until progression), and a detected lesion's growth is modulated by the drugs as the
primary's is in the default setting (the angiogenesis-dependent share of g follows the
section's vascular growth-factor drive, :func:`tmesim.cohort.endpoints.burden_curve`: a
detected metastasis is vascularised, so the taxanes' and bevacizumab's effect on its vessels
slows it too), so::

    detected at entry:  lesion_o(t) = b_o(entry) · B(t) / B(0)        (the primary likewise)
    not detected:       lesion_o(t) = b_o(entry + t) · s(t)            (b_o: the body model's course)

with B(t) = s(t) · exp(∫ g · φ(t) · (1 − a + a · r(t)) dt) the treated burden course (a: the
model's ``body.primary.angiogenic_dependence``, r: the vascular drive relative to entry, φ the
immune pace, 1 unless the trial sets ``timing.immune_on_therapy``; without
``angiogenic_dependence``, B(t) = s(t) · exp(∫ g φ dt)). With ``immune_on_therapy`` the
undetected cells' course runs at the same pace while therapy continues:
``b_o(entry + ∫₀ᵗ φ dτ) · s(t)`` (:func:`tmesim.cohort.immune_growth.immune_pace`): the immune
pressure of the treated section slows a micrometastasis' colonisation and outgrowth as it
slows the detected lesions' expansion. Without it a micrometastasis under chemo-immunotherapy
carried only the constant factor s(t), which its colonisation rate (up to ~0.3/day) outgrows
within days, so new lesions appeared on the same scan in every arm and atezolizumab could
not delay progression by new lesions (assumption: the micrometastases share the section's
tumor-immune contexture, as below). Before this, detected lesions grew at the
full g under therapy while the default setting's burden did not, so the same patient
responded less in the metastatic setting than in the primary one.

Assumption (why one s(t) for all lesions): the organ niche models of the catalog describe
colonisation (resident cells, MET, dormancy signals) and have neither T cells nor the
PD-L1 and resistance states the drugs act on, so they cannot simulate a lesion under
chemo-immunotherapy; each metastasis is taken to carry the patient's tumor-immune contexture
(the section) while its organ sets how fast it grows untreated. A new colony founded after
entry gets the full s(t) of the day it is read (slightly overstating therapy on late seeds).

**RECIST 1.1** (Eisenhauer et al., Eur J Cancer 2009;45:228). A lesion of N cells has the
diameter of a sphere of N / 1e9 cm³ (Del Monte, Cell Cycle 2009;8:505: about 1e9 cells per
cm³). Target lesions: the lesions measurable at entry (≥ 10 mm; RECIST's at most two per
organ and five in all hold since there is one lesion per organ, at most five sites). The sum of
their diameters is read on every scan: every ``assessment_days`` by default, or on the trial's
scan schedule (``timing: {scan_days, late_scan_days}``: IMpassion130 scanned every 8 weeks in
the first year and every 12 weeks after it, Schmid et al., N Engl J Med 2018;379:2108,
protocol; progression that happens between scans is found at the next one, which is what a
trial's PFS measures); a target lesion too small to measure (below
its organ's detection size) counts 5 mm (RECIST's default for such lesions). Progression: the
sum ≥ 1.2 × its nadir (baseline included) *and* at least 5 mm above it; or a new lesion (an
organ with no detected lesion at entry whose treated metastatic cells reach its detection
size, seen on a scan); or death (on any day). Best response: CR when every target lesion is below detection, PR at ≥ 30%
shrinkage of the sum, PD at ≥ 20% growth, else SD. Non-target lesions (detected, not
measurable at entry) are followed for new-lesion purposes only (RECIST's unequivocal
progression of non-target disease is not modelled).

**Death** (:mod:`tmesim.body.lethality`, the body model's own definition): when all lesions
together (metastatic cells in every organ, detected or not, plus the primary) reach the
model's lethal burden (``body.primary.carrying_capacity``), or one organ's metastatic cells
reach its ``lethal_cells`` (organ failure: the brain's raised intracranial pressure), read on
every assessment; ``death_cause`` names the failing organ or ``burden``. Every endpoint is
counted from entry (randomisation) and censored at the follow-up.

Hand-written rather than a RECIST package: no maintained Python library computes RECIST from
simulated lesion sizes (the ones that exist read DICOM annotations).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tmesim.body.lethality import BURDEN, cause_of_death, lethal
from tmesim.model import Model, ModelError
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY

if TYPE_CHECKING:
    from tmesim.body import PatientResult
    from tmesim.meanfield import ContactCourse

from .endpoints import EndpointConfig, burden_curve, cumulative, growth_rate, immune_kill_rate
from .markers import blood_mdsc, ctc_at, section_markers
from .section import run_section
from .virtual import patient_model

CELLS_PER_CM3 = 1e9  # paper:Del Monte, Cell Cycle 2009;8:505
RECIST_FRACTION = 1.2  # RECIST 1.1: progression at a 20% increase of the sum of diameters ...
RECIST_ABS_MM = 5.0  # ... that is also an absolute increase of at least 5 mm
TOO_SMALL_MM = 5.0  # RECIST 1.1: a target lesion too small to measure is recorded as 5 mm
PR_FRACTION = 0.7  # RECIST 1.1: partial response at a 30% decrease of the sum
PRIMARY = "breast"  # the primary lesion's name in the lesion tables (the organs keep theirs)
FIRST_YEAR_DAYS = 365.0  # scans switch from scan_days to late_scan_days after the first year


def diameter_mm(cells: np.ndarray | float) -> np.ndarray:
    """Diameter (mm) of a sphere holding ``cells`` cancer cells at 1e9 cells per cm³."""
    v = np.maximum(np.asarray(cells, float), 0.0) / CELLS_PER_CM3
    return 10.0 * np.cbrt(6.0 * v / np.pi)


def screening_days(model: Model, cfg: EndpointConfig) -> float:
    """Days after diagnosis the body model is simulated: the screening window
    (``body.follow_up``) plus the trial's follow-up."""
    body = model.body
    if body is None:
        raise ModelError("setting", "the metastatic setting needs a model with a body: section (tnbc, her2, "
                                    "luminal-a, luminal-b) or one of your own with it (see docs/body.md)")
    return body.follow_up.value / MIN_PER_DAY + cfg.follow_up_days


def organ_burden(res: PatientResult) -> pd.DataFrame:
    """Metastatic cells per organ (columns) by day from diagnosis (index), weekly."""
    b = res.burden
    organs = list(dict.fromkeys(b["organ"]))
    k = len(organs)
    names = b["organ"].to_numpy()
    if k and len(b) % k == 0 and (names.reshape(-1, k) == np.array(organs, dtype=object)).all():
        # the body model writes one row per organ per step, steps in order: a reshape, not a pivot
        days = b["days_from_diagnosis"].to_numpy(float)[::k]
        return pd.DataFrame(b["cells"].to_numpy(float).reshape(-1, k), index=pd.Index(days, name="days_from_diagnosis"),
                            columns=pd.Index(organs, name="organ"))
    return b.pivot_table(index="days_from_diagnosis", columns="organ", values="cells", aggfunc="sum")


def primary_cells(res: PatientResult, days: np.ndarray) -> np.ndarray:
    """The primary's cells on ``days`` from diagnosis (0 once resected)."""
    p = res.primary
    return np.interp(days, p["days_from_diagnosis"].to_numpy(float), p["cells"].to_numpy(float), left=0.0, right=0.0)


def entry_day(res: PatientResult, model: Model, cfg: EndpointConfig) -> float:
    """Day from diagnosis the patient enters the trial (NaN: screen failure): the first body
    step at or after diagnosis, within ``body.follow_up``, with a detected distant metastasis and
    a measurable lesion, alive, and, when the model sets ``body.presentation_cells``, with a total
    tumor burden (every organ's metastatic cells plus the primary in place) at least that large
    (metastatic disease diagnosed from symptoms, see the module notes)."""
    body = model.body
    assert body is not None
    ob = organ_burden(res)
    days = ob.index.to_numpy(float)
    det = np.array([body.organs[o].detection_cells.value for o in ob.columns])
    cells = ob.to_numpy(float)
    primary = primary_cells(res, days)
    detected = (cells >= det[None, :]).any(axis=1)
    measurable = (cells >= cfg.measurable_cells).any(axis=1) | (primary >= cfg.measurable_cells)
    horizon = body.follow_up.value / MIN_PER_DAY
    death = res.death_days_from_diagnosis
    alive = days < death if np.isfinite(death) else np.ones(len(days), bool)
    ok = detected & measurable & alive & (days >= -1e-9) & (days <= horizon + 1e-9)
    if body.presentation_cells is not None:
        ok &= cells.sum(axis=1) + primary >= body.presentation_cells.value
    return float(days[np.argmax(ok)]) if ok.any() else float("nan")


def run_body(model: Model, pm: Model, row: dict[str, Any], section: pd.DataFrame, cfg: EndpointConfig) -> PatientResult:
    """The patient's untreated life history, coupled to its untreated section (the run-in)."""
    from tmesim.body import Patient

    from .patient import _shedding, _untreated

    days = screening_days(pm, cfg)
    assert pm.body is not None
    if pm.body.coupling is not None:
        return Patient(pm, seed=int(row["seed"]), section=_untreated(section, cfg)).run(days=days)
    shed, _ = _shedding(section, cfg)
    return Patient(pm, seed=int(row["seed"]), shedding=shed).run(days=days)


def screen_patient(model: Model, row: dict[str, Any], cfg: EndpointConfig, engine: str = "meanfield",
                   contacts: pd.DataFrame | ContactCourse | None = None) -> float:
    """Entry day from diagnosis of one candidate (NaN: not eligible); runs the untreated run-in
    and the body model only."""
    pm = patient_model(model, row)
    return entry_day(run_in_body(model, pm, row, cfg, engine, contacts), pm, cfg)


def run_in_body(model: Model, pm: Model, row: dict[str, Any], cfg: EndpointConfig, engine: str = "meanfield",
                contacts: pd.DataFrame | ContactCourse | None = None) -> PatientResult:
    """The untreated run-in section on its own and the life history coupled to it. Screening and
    the trial run both call this, so the life history that made a candidate eligible is the one
    the patient is treated in: the run-in slice of a longer, treated solve differs from it within
    the solver's tolerance, enough to move a borderline detection and every arm apart."""
    section = run_section(pm, cfg.run_in_days, engine, seed=int(row["seed"]), contacts=contacts)
    return run_body(model, pm, row, section, cfg)


def lesion_curves(res: PatientResult, model: Model, entry: float, s: np.ndarray, days: np.ndarray,
                  g: float, course: np.ndarray | None = None, pace: np.ndarray | None = None) -> pd.DataFrame:
    """Cells per lesion (columns: the organs, plus ``breast`` when the primary is in place at
    entry) on trial ``days`` (from entry): the untreated course times the surviving fraction ``s``.
    A lesion detected at entry follows ``course`` (the patient's treated burden relative to entry,
    :func:`tmesim.cohort.endpoints.burden_curve`), or, without it, grows at ``g`` (the patient's
    doubling-time growth) times ``s``; an organ's undetected cells follow the body model, its
    course run at ``pace`` (the immune pace of :func:`tmesim.cohort.immune_growth.immune_pace`;
    default 1), see the module notes."""
    ob = organ_burden(res)
    t = ob.index.to_numpy(float)
    grown = s * np.exp(g * days) if course is None else np.asarray(course, float)
    clock = entry + (days if pace is None else cumulative(days, pace))
    out = {}
    for o in ob.columns:
        b0 = float(np.interp(entry, t, ob[o].to_numpy(float)))
        if b0 >= detection_of(model, o):
            out[o] = b0 * grown
        else:
            out[o] = np.interp(clock, t, ob[o].to_numpy(float)) * s
    p0 = float(primary_cells(res, np.array([entry]))[0])
    if p0 > 0:
        out[PRIMARY] = p0 * grown
    return pd.DataFrame(out, index=pd.Index(days, name="day"))


def detection_of(model: Model, lesion: str, cfg: EndpointConfig | None = None) -> float:
    """Cells at which a lesion is seen: its organ's ``detection_cells`` (the primary: measurable size)."""
    body = model.body
    if body is not None and lesion in body.organs:
        return float(body.organs[lesion].detection_cells.value)
    return float((cfg or EndpointConfig()).measurable_cells)


def recist(lesions: pd.DataFrame, model: Model, cfg: EndpointConfig) -> dict[str, Any]:
    """RECIST 1.1 on a lesion table (rows: assessment days from entry, first row = baseline):
    target and new lesions, the sum of target diameters, progression day and cause, best response."""
    days = lesions.index.to_numpy(float)
    base = lesions.iloc[0]
    detect = {c: detection_of(model, c, cfg) for c in lesions.columns}
    targets = [c for c in lesions.columns if base[c] >= cfg.measurable_cells]
    present = [c for c in lesions.columns if base[c] >= detect[c]]
    if not targets:
        raise ModelError("setting", "a metastatic-setting patient needs a measurable lesion at entry")
    cells = lesions[targets].to_numpy(float)
    small = cells < np.array([detect[c] for c in targets])[None, :]
    diam = np.where(small, TOO_SMALL_MM, diameter_mm(cells))
    total = diam.sum(axis=1)
    nadir = np.minimum.accumulate(total)
    prev = np.concatenate([[total[0]], nadir[:-1]])
    hit = np.nonzero((total >= RECIST_FRACTION * prev) & (total - prev >= RECIST_ABS_MM) & (days > 0))[0]
    pd_day = float(days[hit[0]]) if len(hit) else float("nan")
    new: dict[str, float] = {}
    for c in lesions.columns:
        if c in present:
            continue
        k = np.nonzero(lesions[c].to_numpy(float) >= detect[c])[0]
        new[c] = float(days[k[0]]) if len(k) else float("nan")
    firsts = [d for d in new.values() if np.isfinite(d)]
    new_day = min(firsts) if firsts else float("nan")
    if small[1:].all(axis=1).any():
        best = "CR"
    else:
        ratio = float(total[1:].min() / total[0]) if len(total) > 1 else 1.0
        best = "PR" if ratio <= PR_FRACTION else ("PD" if ratio >= RECIST_FRACTION else "SD")
    return {"targets": targets, "present": present, "sum_mm": total, "pd_day": pd_day, "new_lesions": new,
            "new_lesion_day": new_day, "best_response": best}


def scan_rows(days: np.ndarray, cfg: EndpointConfig) -> np.ndarray:
    """Which rows of the assessment grid ``days`` are RECIST scans: the baseline and every
    ``cfg.scan_days`` in the first year, every ``cfg.late_scan_days`` after it (each on the first
    grid day at or after its date); all rows when ``scan_days`` is 0."""
    days = np.asarray(days, float)
    if cfg.scan_days <= 0 or len(days) == 0:
        return np.ones(len(days), bool)
    late = cfg.late_scan_days if cfg.late_scan_days > 0 else cfg.scan_days
    keep = np.zeros(len(days), bool)
    keep[0] = True
    t = 0.0
    while True:
        t += cfg.scan_days if t + cfg.scan_days <= FIRST_YEAR_DAYS else late
        k = int(np.searchsorted(days, t - 1e-9))
        if k >= len(days):
            return keep
        keep[k] = True


def metastatic_endpoints(lesions: pd.DataFrame, model: Model, cfg: EndpointConfig) -> dict[str, Any]:
    """PFS, OS (from entry), new lesions per organ, RECIST summary of one patient's lesion table.
    Progression and best response are read on the scans (:func:`scan_rows`), death on every
    assessment."""
    r = recist(lesions[scan_rows(lesions.index.to_numpy(float), cfg)], model, cfg)
    days = lesions.index.to_numpy(float)
    cells = lesions.to_numpy(float)
    total = cells.sum(axis=1)
    names = [str(c) for c in lesions.columns]
    dead = np.nonzero(lethal(model.body, cells, names) if model.body is not None else total >= 1e12)[0]
    death = float(days[dead[0]]) if len(dead) else float("nan")
    cause = (cause_of_death(model.body, cells[dead[0]], names) if model.body is not None else BURDEN) if len(dead) else "none"
    fu = cfg.follow_up_days
    causes = [(r["pd_day"], "burden"), (death, "death")]
    if cfg.new_lesion_progression:
        causes.append((r["new_lesion_day"], "new lesion"))
    causes = [(d, c) for d, c in causes if np.isfinite(d) and d <= fu]
    pfs, by = min(causes) if causes else (float("nan"), "none")
    out: dict[str, Any] = {}
    for organ, d in r["new_lesions"].items():
        ev = bool(np.isfinite(d) and d <= fu)
        out[f"met_{organ}_days"] = float(d) if ev else float(fu)  # float in every patient: tables concatenate alike
        out[f"met_{organ}_event"] = ev
    for organ in r["present"]:
        out[f"met_{organ}_days"], out[f"met_{organ}_event"] = 0.0, False  # a baseline lesion is not a new one
    out.pop(f"met_{PRIMARY}_days", None)
    out.pop(f"met_{PRIMARY}_event", None)
    out |= {"pfs_days": float(pfs if np.isfinite(pfs) else fu), "pfs_event": bool(np.isfinite(pfs)),
            "os_days": float(death if np.isfinite(death) and death <= fu else fu),
            "os_event": bool(np.isfinite(death) and death <= fu),
            "death_cause": cause if np.isfinite(death) and death <= fu else "none", "progression_by": by,
            "best_response": r["best_response"], "lesions_baseline": len(r["present"]),
            "target_lesions": len(r["targets"]), "lesion_sites": ";".join(r["present"]),
            "target_sites": ";".join(r["targets"]), "sum_diameters_baseline_mm": float(r["sum_mm"][0]),
            "sum_diameters_nadir_mm": float(r["sum_mm"].min()), "burden_baseline": float(total[0])}
    return out


def run_metastatic_patient(model: Model, row: dict[str, Any], arm: str = "cohort", therapies: list[str] | None = None,
                           cfg: EndpointConfig | None = None, engine: str = "meanfield",
                           contacts: pd.DataFrame | ContactCourse | None = None) -> pd.DataFrame:
    """One virtual patient in the metastatic setting; one row (as :func:`tmesim.cohort.run_patient`),
    with ``entry_days_from_diagnosis``, ``de_novo``, lesion counts and sites, and the sums of
    target diameters. Raises :class:`ModelError` for a patient who is not eligible."""
    from .patient import treated_patient, with_reference

    t0 = time.perf_counter()
    cfg = with_reference(model, cfg or EndpointConfig(), engine, contacts)
    pm, tm = treated_patient(model, row, list(therapies or []), cfg.run_in_days)  # drug: factors act on tm
    section = run_section(tm, cfg.run_in_days + cfg.treatment_days, engine, seed=int(row["seed"]), contacts=contacts)
    res = run_in_body(model, pm, row, cfg, engine, contacts)
    entry = entry_day(res, pm, cfg)
    if not np.isfinite(entry):
        raise ModelError("setting", f"patient {row.get('patient_id')} has no measurable metastatic disease "
                                    "in the screening window (not eligible)")
    curve = burden_curve(section, pm, cfg)
    days, s = curve["day"].to_numpy(float), curve["section_fraction"].to_numpy(float)
    g = growth_rate(section, pm, cfg)
    b = curve["burden"].to_numpy(float)
    pace = curve["immune_pace"].to_numpy(float) if "immune_pace" in curve else None
    lesions = lesion_curves(res, pm, entry, s, days, g, course=b / b[0], pace=pace)
    base = section.iloc[int(np.argmin(np.abs(section["time_days"].to_numpy(float) - cfg.run_in_days)))]
    out: dict[str, Any] = {"arm": arm, **{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
    out |= section_markers(base, pm)
    out["mdsc_blood"] = blood_mdsc(pm, model)
    out["ctc_count"] = ctc_at(res.ctc, entry)
    out["entry_days_from_diagnosis"] = entry
    out["de_novo"] = bool(PRIMARY in lesions.columns)
    out["shedding_per_cell_day"] = res.shedding.cells_per_cell_minute() * MIN_PER_DAY
    out["kill_rate_baseline"] = immune_kill_rate(section, cfg.run_in_days)
    out["kill_rate_end"] = immune_kill_rate(section, float(section["time_days"].iloc[-1]))
    out["growth_rate"] = g
    out["kill_rate_reference"] = float("nan") if cfg.reference_kill_rate is None else float(cfg.reference_kill_rate)
    if cfg.immune_on_therapy:  # the expansion rate under therapy relative to untreated, at the window's end
        out["immune_pace_window"] = float(np.interp(cfg.treatment_days, curve["day"], curve["immune_pace"]))
    out |= metastatic_endpoints(lesions, pm, cfg)
    out["section_fraction_end"] = float(s[-1])
    out["setting"] = "metastatic"
    out["engine"] = engine
    out["runtime_s"] = time.perf_counter() - t0
    return pd.DataFrame([out])


__all__ = ["CELLS_PER_CM3", "PRIMARY", "diameter_mm", "entry_day", "lesion_curves", "metastatic_endpoints", "recist",
           "run_body", "run_in_body", "run_metastatic_patient", "scan_rows", "screen_patient", "screening_days"]
