"""Fit the organotropism parameters to published cohorts (scipy least squares).

Data: ``src/tmesim/body/data/organotropism_targets.csv`` (Dent 2007 distant-recurrence
fractions; Savci-Heijink 2015 site shares; Xiao 2018 SEER odds ratios; Diessner 2016
bone-only shares; rows with weight 0 — Dawood 2012, review:112 — are checks, not fitted).

Fitted: the awakening rate of each organ (``body.organs.<organ>.awakening``, shared by all
subtypes), the awakening factor of the tnbc, her2 and luminal-b presets
(``body.primary.awakening_factor``; luminal-a's is held, since only products of the two
are identified) and the dormant survival of ER+ disease (``body.primary.dormant_survival``
of luminal-a and luminal-b, one shared value, and of tnbc) to the timing of relapse: the steady annual
hazard of distant recurrence from year 5 to 20 in ER+ disease (EBCTCG, Pan et al. 2017) and
the mean time to distant recurrence in triple-negative disease (Dent et al. 2007).
Everything else (the coupling maps, barriers, homing) is as shipped.

How: coupled virtual patients of each subtype are simulated once with the shipped values
and first-generation colonies only (no shedding from metastases) for 20 years after
diagnosis; each patient's expected detections per organ and week scale in proportion to the
organ's awakening rate times the subtype's factor (awakening is far slower than dormant
death, so the dormant pools barely depend on it), so the fit re-scales those expectations
instead of re-simulating. Dormant survival changes the pools themselves, so the ER+ cohorts are
re-simulated on a grid of survival factors (``--survival``), the awakening fit is run at each,
and the grid point with the lowest cost is kept. Sites are counted as the cohorts count them: those detected within
each target row's ``window_years`` of the first distant metastasis
(:func:`tmesim.cohort.organotropism.expected_site_table`, Poisson detections per organ and
week). Re-seeding from metastases is left out of the fit; ``benchmarks/organotropism.py``
simulates it and shows what it adds within those windows.

    python benchmarks/calibrate_organotropism.py [--n 100] [--survival 1,10,100] [--write]

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
ER_POSITIVE = ("luminal-a", "luminal-b")
GRID = "1,2,3,5,10"
TN_GRID = "0.03,0.1,0.3,1"
PRESETS = Path(tmesim.__file__).parent / "presets"
SOURCE = "fit:tmesim/body/data/organotropism_targets.csv"
SURVIVAL_SOURCE = (f"{SOURCE} (steady distant-recurrence hazard from year 5 to 20 in ER+ disease, EBCTCG, Pan et al., "
                   "N Engl J Med 2017;377:1836; fitted with the awakening rates). Disseminated ER+ cells survive dormant "
                   "for decades: paper:Meng et al., Clin Cancer Res 2004;10:8152 (CTCs 7-22 years after mastectomy in "
                   "women without disease); paper:Zhang et al., Cancer Cell 2009;16:67 (Src-dependent survival of latent "
                   "ER+ bone metastatic cells); paper:Aguirre-Ghiso, Nat Rev Cancer 2007;7:834; paper:Sosa et al., Nat Rev "
                   "Cancer 2014;14:611. No dormant-cell half-life is measured in patients; the factor is what the timing asks")
TN_SOURCE = (f"{SOURCE} (mean time to distant recurrence 2.6 years, Dent et al., Clin Cancer Res 2007;13:4429: "
             "triple-negative recurrence peaks at 1-3 years and is rare after 8; fitted with the ER+ factor and the "
             "awakening rates). ER- tumors carry weaker dormancy programmes: paper:Kim et al., PLoS One 2012;7:e35569 "
             "(dormancy gene signatures in ER+ vs ER- breast cancer); paper:Sosa et al., Nat Rev Cancer 2014;14:611")


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


def with_survival(model: tmesim.Model, value: float, source: str) -> tmesim.Model:
    """``model`` with ``body.primary.dormant_survival`` set to ``value``."""
    from tmesim.model import model_from_dict

    data = model.model_dump(mode="json")
    data["body"]["primary"]["dormant_survival"] = {"value": float(value), "unit": "", "source": source}
    return model_from_dict(data)


def fit_awakening(base: dict[str, pd.DataFrame], targets: pd.DataFrame) -> tuple[object, pd.DataFrame, np.ndarray]:
    """Least squares of the organ awakening rates and the subtype factors (log scale) on ``base``."""

    def scaled(x: np.ndarray) -> dict[str, dict[str, float]]:
        org = dict(zip(ORGANS, np.exp(x[:4]), strict=True))
        fac = {s: 1.0 for s in SUBTYPES} | dict(zip(FREE_FACTORS, np.exp(x[4:]), strict=True))
        return {s: {o: org[o] * fac[s] for o in ORGANS} for s in SUBTYPES}

    fit = least_squares(lambda x: residuals(predict(base, targets, expected=True, scale=scaled(x), horizon_days=HORIZON)),
                        np.zeros(7), bounds=(-12, 12), x_scale=1.0, diff_step=1e-3)
    return fit, predict(base, targets, expected=True, scale=scaled(fit.x), horizon_days=HORIZON), fit.x


HORIZON = 10 * 365.25


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--survival", default=GRID, help="comma-separated ER+ dormant survival factors to try")
    ap.add_argument("--survival-tnbc", default=TN_GRID, help="comma-separated TNBC dormant survival factors to try")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--cache", type=Path, help="pickle of the simulated cohorts: read if present, else written")
    a = ap.parse_args()
    targets = read_targets()
    models = {s: tmesim.load_model(tmesim.preset_path(s)) for s in SUBTYPES}
    grid = [float(v) for v in a.survival.split(",")]
    tn_grid = [float(v) for v in a.survival_tnbc.split(",")]
    sims: dict = {}
    t0 = time.perf_counter()
    if a.cache is not None and a.cache.exists():
        sims = pd.read_pickle(a.cache)
    opts = PatientOptions(metastasis_shedding=False)

    def cohort(s: str, surv: float | None) -> pd.DataFrame:
        key = (s, surv, a.n, a.seed)
        if key not in sims:
            m = models[s] if surv is None else with_survival(models[s], surv, TN_SOURCE if s == "tnbc" else SURVIVAL_SOURCE)
            sims[key] = simulate_coupled(m, a.n, a.seed, follow_up_days=20 * 365.25, options=opts)
        return sims[key]

    runs = []
    for tn in tn_grid:
        for surv in grid:
            base = {s: cohort(s, surv if s in ER_POSITIVE else tn if s == "tnbc" else None) for s in SUBTYPES}
            fit, pred, x = fit_awakening(base, targets)
            runs.append((fit.cost, surv, tn, fit, pred, x))
            p = pred.set_index("kind")["model"]
            print(f"survival ER+ {surv:g}, TNBC {tn:g}: cost {fit.cost:.1f}, ER+ hazards 5-10/10-15/15-20 "
                  f"{[round(float(p[k]), 2) for k in ('hazard_5_10', 'hazard_10_15', 'hazard_15_20')]} %/y, TNBC after "
                  f"year 8 {float(p['hazard_8_20']):.2f} %/y, TNBC mean {float(p['mean_years'].iloc[0]):.2f} y "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        if a.cache is not None:
            pd.to_pickle(sims, a.cache)
    cost, surv, tn, fit, pred, x = min(runs, key=lambda r: r[0])
    a0 = {o: models["tnbc"].body.organs[o].awakening.value for o in ORGANS}
    f0 = {s: m.body.primary.awakening_factor.value for s, m in models.items()}
    a_new = {o: a0[o] * float(np.exp(x[k])) for k, o in enumerate(ORGANS)}
    f_new = dict(f0) | {s: f0[s] * float(np.exp(x[4 + k])) for k, s in enumerate(FREE_FACTORS)}
    print("fitted awakening (1/day):", {o: f"{v * 1440:.3g}" for o, v in a_new.items()})
    print("fitted awakening_factor:", {s: f"{v:.3g}" for s, v in f_new.items()})
    print(f"fitted dormant_survival: ER+ {surv:g}, TNBC {tn:g}")
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
        for s, v, src in [*((s, surv, SURVIVAL_SOURCE) for s in ER_POSITIVE), ("tnbc", tn, TN_SOURCE)]:
            p = PRESETS / f"{s}.yaml"
            t = p.read_text()
            line = f"    dormant_survival: {{value: {v:.4g}, unit: \"\", source: \"{src}\"}}"
            t, k = re.subn(r"    dormant_survival: \{[^\n]*\}", lambda _m, line=line: line, t)
            if k == 0:
                t, k = re.subn(r"(    awakening_factor: \{[^\n]*\}\n)", lambda m, line=line: m.group(1) + line + "\n", t)
            assert k == 1, s
            p.write_text(t)
        print("written to catalog.yaml and", ", ".join(f"{s}.yaml" for s in sorted({*FREE_FACTORS, *ER_POSITIVE, "tnbc"})))


if __name__ == "__main__":
    main()
