"""The shipped IMpassion130 trial (metastatic setting) next to the published trial.

    python benchmarks/impassion130.py --n 200 --out trial-impassion130     # run, then compare
    python benchmarks/impassion130.py --out trial-impassion130 --analyse-only

Prints progression-free and overall survival per arm (Kaplan–Meier medians, months) and the
Cox hazard ratio (95% CI) of atezolizumab + nab-paclitaxel vs nab-paclitaxel, for all
patients and the PD-L1 subgroups, beside Schmid et al., N Engl J Med 2018;379:2108 (first
interim analysis). The virtual trial is not calibrated to these figures; what it is
calibrated to is listed in docs/cohorts.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

TRIAL = Path(__file__).resolve().parents[1] / "src" / "tmesim" / "presets" / "trials" / "impassion130.yaml"
DAYS_PER_MONTH = 365.25 / 12
# Schmid et al. 2018: medians (months) control / atezolizumab arm, HR (95% CI)
PUBLISHED = {
    ("pfs", "all"): (5.5, 7.2, 0.80, 0.69, 0.92),
    ("pfs", "PD-L1+"): (5.0, 7.5, 0.62, 0.49, 0.78),
    ("os", "all"): (17.6, 21.3, 0.84, 0.69, 1.02),
    ("os", "PD-L1+"): (15.5, 25.0, 0.62, 0.45, 0.86),
}


def compare(df: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    from lifelines import KaplanMeierFitter

    from tmesim.cohort.survival import arm_hazard_ratios

    rows = []
    groups = {"all": df, "PD-L1+": df[df["pdl1_positive"].astype(bool)], "PD-L1-": df[~df["pdl1_positive"].astype(bool)]}
    for ep in ("pfs", "os"):
        for name, sub in groups.items():
            med = []
            for arm in arms:
                a = sub[sub["arm"] == arm]
                kmf = KaplanMeierFitter().fit(a[f"{ep}_days"], a[f"{ep}_event"].astype(bool))
                med.append(float(kmf.median_survival_time_) / DAYS_PER_MONTH)
            hr = arm_hazard_ratios(sub, [ep], arms).iloc[0]
            pub = PUBLISHED.get((ep, name), (np.nan,) * 5)
            rows.append({"endpoint": ep, "group": name, "n": len(sub), "events": int(hr["events"]),
                         "median_control_mo": med[0], "median_atezo_mo": med[1], "hr": hr["hr"],
                         "ci_lower": hr["ci_lower"], "ci_upper": hr["ci_upper"],
                         "published_medians_mo": f"{pub[0]} / {pub[1]}", "published_hr": f"{pub[2]} ({pub[3]}-{pub[4]})"})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None, help="virtual-patient seed (default: the trial file's)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="trial-impassion130")
    ap.add_argument("--analyse-only", action="store_true")
    a = ap.parse_args()
    from tmesim.cohort import load_trial, run_trial

    spec = load_trial(TRIAL, n=a.n, seed=a.seed)
    if not a.analyse_only:
        t0 = time.perf_counter()
        run_trial(spec, a.out, workers=a.workers, notice=print)
        print(f"{spec.n} patients (seed {spec.seed}, randomisation seed {spec.randomisation.seed}) in "
              f"{time.perf_counter() - t0:.0f} s with {a.workers} workers")
    df = pd.read_parquet(Path(a.out) / "patients.parquet")
    screened = pd.read_parquet(Path(a.out) / "screening.parquet")
    print(f"screened {len(screened)} candidates, {int(np.isfinite(screened['entry_days_from_diagnosis']).sum())} "
          f"eligible; enrolled {len(df)}; de novo {df['de_novo'].mean():.0%}; lesions at entry (mean) "
          f"{df['lesions_baseline'].mean():.2f}; progression by {df['progression_by'].value_counts().to_dict()}")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.2f}".format):
        print(compare(df, [arm.name for arm in spec.arms]).to_string(index=False))


if __name__ == "__main__":
    main()
