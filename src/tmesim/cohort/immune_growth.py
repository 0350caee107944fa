"""How a tumor's immune contexture sets its expansion rate (used by :mod:`tmesim.cohort.endpoints`).

Immune pressure (``immune_control``, on by default): the doubling time is the subtype's
observed one, i.e. growth *net of* the immune killing a typical tumor of the subtype
undergoes. A patient's tumor therefore grows at

    g = g0 · (k_ref / max(k_base, k_ref / 10))^w,   g0 = ln 2 / doubling time

a constant elasticity w (``body.primary.immune_growth_exponent``): a tumor whose section
kills twice as many cancer cells per cell and day as the reference grows 2^w times more
slowly, and it never regresses untreated (a tumor that has become metastatic has escaped
immune elimination, so immune pressure slows it and does not make it regress: assumption).
Why a power of the ratio and not the first-order g0 − (k_base − k_ref) (or its positive
form g0 · exp(−(k_base − k_ref)/g0), used before): section kill rates are right-skewed
between patients (a tenth of TNBC virtual patients kill 4-5 times the median) while g0 is
of the order of the median kill itself, so an absolute excess in the exponent turned those
patients into tumors that barely grew (doubling times of 400-900 days, a between-patient SD
of 600 days where serial imaging measures 43, Ryu et al. 2014). The doubling time's own
between-patient spread (``patient_variability.csv``) already carries most of the measured
spread, so the immune term may add only the rest: w is fitted per subtype, with the doubling
time, to the TVDT mean and SD (``benchmarks/inference.py tvdt``). Sections whose kill rate is below a tenth
of the reference count as a tenth (assumption: a 28-day section's kill rate is noise at such
counts; it bounds the speed-up at 10^w).

* ``k_base``: cancer cells killed by attacks (CD8 T cells, NK cells, M1 macrophages, N1
  neutrophils) per cancer cell and day in the patient's untreated section, over the last week
  of the run-in;
* ``k_ref``: the median of the same rate over a fixed reference sample of the model's virtual
  patients (:func:`tmesim.cohort.patient.reference_kill_rate`).

An inflamed tumor (more CD8 T cells, fewer Tregs and MDSCs, less adenosine and IL-10) grows
more slowly than its doubling time alone says, a suppressed one faster — the way the immune
contexture the review describes (review:65, 69, 164, 187) shapes outcome whatever the arm.
Without it the doubling time is drawn independently of the tumor's immune state, so the
immune markers could act on outcome only through the section's response in the window
(assumption: the section's kill rate per cancer cell stands for the whole tumor's). The
treatment's own effect on killing stays in s(t); the kill rate at the end of the window is
reported (``kill_rate_end``) but by default does not set the later growth: it is measured on a
section debulked by chemotherapy, where each T cell has fewer targets, and would overstate how
well a regrowing tumor is controlled once therapy stops.

Immune pace under therapy (``immune_on_therapy``, off by default; the shipped IMpassion130
trial sets it): while therapy continues, the same correction follows the treated section's
kill rate over the trailing week, relative to the untreated one::

    φ(t) = (max(k_base, k_ref/10) / max(k(t), k_ref/10))^w,   expansion rate g · φ(t)

(:func:`immune_pace`); after the window φ keeps its mean over the window's last cycle while
therapy continues and returns to 1 at progression, when therapy stops. Why: with s(t) alone,
an immune checkpoint inhibitor can act only through the cells its section kills in the first
weeks, a constant factor that a lesion growing at g, or a micrometastasis colonising an organ,
outgrows within days, so the durable growth control the inhibitor gives in the clinic (PD-L1+
TNBC: PFS HR 0.62 with atezolizumab, Schmid et al., N Engl J Med 2018;379:2108; responses that
last, review:74) cannot arise. The immune growth correction already says that the expansion
rate follows the section's kill rate between patients; the option applies it within a patient
over time. Under therapy given until progression the section stays debulked (s holds its
plateau), so the effector-to-target ratio of the window's end is the one that persists while
therapy continues; in a chemotherapy-only arm debulking alone raises the kill rate per cancer
cell (TNBC virtual patients: about 1.3-fold at day 84), which the option counts as slower
expansion in every arm (assumption: the more T cells per cancer cell, the slower the
expansion, whatever raised the ratio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY

from .section import KILLED, TUMOR

if TYPE_CHECKING:
    from .endpoints import EndpointConfig


def immune_kill_rate(section: pd.DataFrame, until_day: float, window: float = 7.0) -> float:
    """Cancer cells killed by attacks per cancer cell and day in ``section``, over the
    ``window`` days up to section day ``until_day`` (0 when the section has no kill column)."""
    if KILLED not in section:
        return 0.0
    t = section["time_days"].to_numpy(float)
    sel = (t > max(until_day - window, 0.0) + 1e-9) & (t <= until_day + 1e-9)
    if not sel.any():
        sel = t <= until_day + 1e-9
    n = float(np.mean(np.maximum(section[TUMOR].to_numpy(float)[sel], 1.0)))
    return float(np.mean(section[KILLED].to_numpy(float)[sel])) / n


def trailing_kill_rates(section: pd.DataFrame, until: np.ndarray, window: float = 7.0) -> np.ndarray:
    """:func:`immune_kill_rate` at each section day in ``until`` (vectorised: one pass of cumulative sums)."""
    until = np.asarray(until, float)
    if KILLED not in section:
        return np.zeros(len(until))
    t = section["time_days"].to_numpy(float)
    n = np.concatenate([[0.0], np.cumsum(np.maximum(section[TUMOR].to_numpy(float), 1.0))])
    k = np.concatenate([[0.0], np.cumsum(section[KILLED].to_numpy(float))])
    lo = np.searchsorted(t, np.maximum(until - window, 0.0) + 1e-9, side="right")
    hi = np.searchsorted(t, until + 1e-9, side="right")
    lo = np.where(hi > lo, lo, 0)  # an empty window reads everything up to the day, as immune_kill_rate
    return (k[hi] - k[lo]) / np.maximum(n[hi] - n[lo], 1e-300)


KILL_FLOOR = 0.1  # kill rates below this share of the reference count as this share (module notes)
DEFAULT_IMMUNE_EXPONENT = 0.5  # models without body.primary.immune_growth_exponent (assumption, module notes)


def immune_exponent(model: Model) -> float:
    """w of the immune growth correction: ``body.primary.immune_growth_exponent`` or the default."""
    p = model.body.primary.immune_growth_exponent if model.body is not None else None
    return float(p.value) if p is not None else DEFAULT_IMMUNE_EXPONENT


def immune_growth_factor(kill: float | np.ndarray, reference: float, exponent: float) -> float | np.ndarray:
    """g / g0 = (reference / max(kill, KILL_FLOOR · reference))^exponent (1 without a reference kill)."""
    if not reference > 0 or exponent == 0:
        return np.ones_like(kill, dtype=float) if isinstance(kill, np.ndarray) else 1.0
    k = np.maximum(np.asarray(kill, float), KILL_FLOOR * reference)
    f = (reference / k) ** float(exponent)
    return f if isinstance(kill, np.ndarray) else float(f)


def growth_rate(section: pd.DataFrame, model: Model, cfg: EndpointConfig) -> float:
    """g (1/day): the patient's doubling-time growth rate g0, scaled by
    :func:`immune_growth_factor` of its untreated section's kill rate against the reference
    sample's, ``cfg.reference_kill_rate`` (see the module notes)."""
    body = model.body
    td = (body.primary.doubling_time.value / MIN_PER_DAY) if body is not None else 150.0
    g = float(np.log(2.0) / td)
    if not cfg.immune_control or cfg.reference_kill_rate is None:
        return g
    k = immune_kill_rate(section, cfg.run_in_days)
    return g * float(immune_growth_factor(k, float(cfg.reference_kill_rate), immune_exponent(model)))




def immune_pace(section: pd.DataFrame, model: Model, cfg: EndpointConfig, days: np.ndarray) -> np.ndarray:
    """φ(t) on the assessment ``days``: the tumor's expansion rate under treatment relative to its
    untreated rate g, from the immune growth correction (:func:`immune_growth_factor`) of the
    treated section's kill rate over the trailing week against the run-in's,
    φ = (max(k_base, f·k_ref) / max(k(t), f·k_ref))^w; after the window it keeps its mean over the
    window's last ``regrowth_days`` while therapy continues (``extrapolate``) and is 1 when it
    stops (``hold``). All ones unless ``cfg.immune_on_therapy`` (with ``immune_control`` and a
    reference kill rate); see the module notes."""
    pace = np.ones(len(days))
    if not (cfg.immune_on_therapy and cfg.immune_control and cfg.reference_kill_rate):
        return pace
    t = section["time_days"].to_numpy(float)
    t_rel = t - cfg.run_in_days
    on = t_rel > 1e-9
    if not on.any():
        return pace
    ref, w = float(cfg.reference_kill_rate), immune_exponent(model)
    base = float(immune_growth_factor(immune_kill_rate(section, cfg.run_in_days), ref, w))
    phi = np.asarray(immune_growth_factor(trailing_kill_rates(section, t[on]), ref, w)) / base
    end = float(t_rel[-1])
    pace = np.interp(days, np.concatenate([[0.0], t_rel[on]]), np.concatenate([[1.0], phi]))
    last = (t_rel[on] > end - cfg.regrowth_days - 1e-9)
    pace[days > end] = float(np.mean(phi[last])) if cfg.after_window == "extrapolate" else 1.0
    return pace




__all__ = ["DEFAULT_IMMUNE_EXPONENT", "KILL_FLOOR", "growth_rate", "immune_exponent", "immune_growth_factor",
           "immune_kill_rate", "immune_pace", "trailing_kill_rates"]
