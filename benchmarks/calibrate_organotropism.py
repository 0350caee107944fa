"""Fit the organotropism parameters to published cohorts (scipy least squares).

Data: ``src/tmesim/body/data/organotropism_targets.csv`` (Dent 2007 distant-recurrence
fractions; Savci-Heijink 2015 site shares; Xiao 2018 SEER odds ratios; Diessner 2016
bone-only shares; rows with weight 0 — Dawood 2012, review:112 — are checks, not fitted).

Fitted: the awakening rate of each organ (``body.organs.<organ>.awakening``, shared by all
subtypes) and the awakening factor of the tnbc, her2 and luminal-b presets
(``body.primary.awakening_factor``; luminal-a's is held, since only products of the two
are identified). Everything else (the coupling maps, barriers, homing) is as shipped.

How: coupled virtual patients of each subtype are simulated once with the shipped values
and first-generation colonies only (no shedding from metastases); each patient's expected
metastases per organ scale in proportion to the organ's awakening rate times the subtype's
factor (awakening is far slower than dormant death, so the dormant pools barely depend on
it), so the fit re-scales those expectations instead of re-simulating. ``P(site) =
1 - exp(-expected)`` per patient.

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
    a = ap.parse_args()
    targets = read_targets()
    models = {s: tmesim.load_model(tmesim.preset_path(s)) for s in SUBTYPES}
    base = {}
    t0 = time.perf_counter()
    for s, m in models.items():
        base[s] = simulate_coupled(m, a.n, a.seed, options=PatientOptions(metastasis_shedding=False))
    print(f"simulated {a.n} patients x {len(SUBTYPES)} subtypes in {time.perf_counter() - t0:.0f} s", flush=True)
    a0 = {o: models["tnbc"].body.organs[o].awakening.value for o in ORGANS}
    f0 = {s: m.body.primary.awakening_factor.value for s, m in models.items()}

    def scaled(x: np.ndarray) -> dict[str, pd.DataFrame]:
        org = dict(zip(ORGANS, np.exp(x[:4]), strict=True))
        fac = {s: 1.0 for s in SUBTYPES} | dict(zip(FREE_FACTORS, np.exp(x[4:]), strict=True))
        out = {}
        for s, df in base.items():
            d = df.copy()
            for o in ORGANS:
                d[f"expected_{o}"] = df[f"expected_{o}"] * org[o] * fac[s]
            out[s] = d
        return out

    fit = least_squares(lambda x: residuals(predict(scaled(x), targets, expected=True)), np.zeros(7),
                        bounds=(-12, 12), x_scale=1.0)
    pred = predict(scaled(fit.x), targets, expected=True)
    a_new = {o: a0[o] * float(np.exp(fit.x[k])) for k, o in enumerate(ORGANS)}
    f_new = dict(f0) | {s: f0[s] * float(np.exp(fit.x[4 + k])) for k, s in enumerate(FREE_FACTORS)}
    print("fitted awakening (1/day):", {o: f"{v * 1440:.3g}" for o, v in a_new.items()})
    print("fitted awakening_factor:", {s: f"{v:.3g}" for s, v in f_new.items()})
    print(pred[["kind", "subtypes", "organ", "value", "model", "weight"]].to_string(index=False))
    print(f"cost {fit.cost:.1f}, {fit.nfev} evaluations")
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
