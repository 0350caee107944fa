"""Fit the organotropism parameters to published cohorts (scipy least squares).

Data: ``src/tmesim/body/data/organotropism_targets.csv`` (Dent 2007 distant-recurrence
fractions; Savci-Heijink 2015 site shares; Xiao 2018 SEER odds ratios; Diessner 2016
bone-only shares; rows with weight 0 — Dawood 2012, review:112 — are checks, not fitted).

Fitted: the awakening rate of each organ (``body.organs.<organ>.awakening``, shared by all
subtypes) and the awakening factor of the tnbc, her2 and luminal-b presets
(``body.primary.awakening_factor``; luminal-a's is held, since only products of the two
are identified). Everything else (the coupling maps, barriers, homing) is as shipped.

How: coupled virtual patients of each subtype are simulated once with the shipped values
and first-generation colonies only (no shedding from metastases) for 12 years after
diagnosis; each patient's expected detections per organ and week scale in proportion to the
organ's awakening rate times the subtype's factor (awakening is far slower than dormant
death, so the dormant pools barely depend on it), so the fit re-scales those expectations
instead of re-simulating. Sites are counted as the cohorts count them: those detected within
each target row's ``window_years`` of the first distant metastasis
(:func:`tmesim.cohort.organotropism.expected_site_table`, Poisson detections per organ and
week). Re-seeding from metastases is left out of the fit; ``benchmarks/organotropism.py``
simulates it and shows what it adds within those windows.

    python benchmarks/calibrate_organotropism.py [--n 60] [--write]

``--write`` puts the fitted values into catalog.yaml and the subtype presets with the source
``fit:tmesim/body/data/organotropism_targets.csv``.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

import tmesim
from tmesim.body import PatientOptions
from tmesim.cohort.organotropism import predict, read_targets, simulate_coupled
from tmesim.model.body import ORGANS

SUBTYPES = ("tnbc", "her2", "luminal-a", "luminal-b")
FREE_FACTORS = ("tnbc", "her2", "luminal-b")
PRESETS = Path(tmesim.__file__).parent / "presets"
SOURCE = "fit:tmesim/body/data/organotropism_targets.csv"


def residuals(pred: pd.DataFrame) -> np.ndarray:
    fit = pred[pred["weight"] > 0]
    res = []
    for r in fit.itertuples(index=False):
        m = r.model if np.isfinite(r.model) else 0.0
        if r.kind == "site_or":  # log odds ratio, scaled like ~10 percentage points per unit
            res.append(10.0 * r.weight * (np.log(max(m, 1e-3)) - np.log(r.value)))
        else:
            res.append(r.weight * (m - r.value))
    return np.asarray(res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--cache", type=Path, help="pickle of the simulated cohorts: read if present, else written")
    a = ap.parse_args()
    targets = read_targets()
    models = {s: tmesim.load_model(tmesim.preset_path(s)) for s in SUBTYPES}
    base = {}
    t0 = time.perf_counter()
    if a.cache is not None and a.cache.exists():
        base = pd.read_pickle(a.cache)
    for s, m in models.items():
        if s not in base:
            base[s] = simulate_coupled(m, a.n, a.seed, follow_up_days=12 * 365.25,
                                       options=PatientOptions(metastasis_shedding=False))
    if a.cache is not None:
        pd.to_pickle(base, a.cache)
    print(f"simulated {a.n} patients x {len(SUBTYPES)} subtypes in {time.perf_counter() - t0:.0f} s", flush=True)
    a0 = {o: models["tnbc"].body.organs[o].awakening.value for o in ORGANS}
    f0 = {s: m.body.primary.awakening_factor.value for s, m in models.items()}

    def scaled(x: np.ndarray) -> dict[str, dict[str, float]]:
        org = dict(zip(ORGANS, np.exp(x[:4]), strict=True))
        fac = {s: 1.0 for s in SUBTYPES} | dict(zip(FREE_FACTORS, np.exp(x[4:]), strict=True))
        return {s: {o: org[o] * fac[s] for o in ORGANS} for s in SUBTYPES}

    fit = least_squares(lambda x: residuals(predict(base, targets, expected=True, scale=scaled(x))), np.zeros(7),
                        bounds=(-12, 12), x_scale=1.0, diff_step=1e-3)
    pred = predict(base, targets, expected=True, scale=scaled(fit.x))
    a_new = {o: a0[o] * float(np.exp(fit.x[k])) for k, o in enumerate(ORGANS)}
    f_new = dict(f0) | {s: f0[s] * float(np.exp(fit.x[4 + k])) for k, s in enumerate(FREE_FACTORS)}
    print("fitted awakening (1/day):", {o: f"{v * 1440:.3g}" for o, v in a_new.items()})
    print("fitted awakening_factor:", {s: f"{v:.3g}" for s, v in f_new.items()})
    print(pred[["kind", "subtypes", "organ", "value", "model", "weight"]].to_string(index=False))
    print(f"cost {fit.cost:.1f}, {fit.nfev} evaluations: {fit.message}")
    if a.write:
        cat = PRESETS / "catalog.yaml"
        text = cat.read_text()
        for o, v in a_new.items():
            pat = re.compile(rf"(    {o}:\n(?:      .*\n)*?      awakening: )\{{[^\n]*\}}")
            text, k = pat.subn(lambda m, v=v: m.group(1) + f"{{value: {v * 1440:.4g}, unit: 1/day, source: \"{SOURCE} (awakening "
                               "of this organ's dormant cells; fitted with the subtypes' awakening factors)\"}", text)
            assert k == 1, o
        cat.write_text(text)
        for s in FREE_FACTORS:
            p = PRESETS / f"{s}.yaml"
            t = p.read_text()
            t, k = re.subn(r"    awakening_factor: \{[^\n]*\}", f"    awakening_factor: {{value: {f_new[s]:.4g}, unit: \"\", "
                           f"source: \"{SOURCE} (the subtype's distant-recurrence fraction, Dent et al. 2007, with "
                           "the organ awakening rates)\"}", t)
            assert k == 1, s
            p.write_text(t)
        print("written to catalog.yaml and", ", ".join(f"{s}.yaml" for s in FREE_FACTORS))


if __name__ == "__main__":
    main()
