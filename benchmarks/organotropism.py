"""Metastatic sites by subtype: simulated patients vs the review's figures (review:112).

For each subtype preset the primary tumor section is simulated spatially once (seed 0, the
preset's days) to measure its shedding; then N patients (default 1000) run the whole-body
model. Writes benchmarks/results/organotropism.csv, .md and .png (simulated vs published) and prints the table.

    python benchmarks/organotropism.py [--n 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import tmesim
from tmesim.body import measure_shedding
from tmesim.body.organotropism import simulate_patients, site_shares

SUBTYPES = ("tnbc", "her2", "luminal-a", "luminal-b")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    a = ap.parse_args()
    tables = []
    for sub in SUBTYPES:
        model = tmesim.load_model(tmesim.preset_path(sub))
        t0 = time.perf_counter()
        shed = measure_shedding(tmesim.Simulation(model, seed=0), model.time.days)
        t1 = time.perf_counter()
        pts = simulate_patients(model, a.n, a.seed, shed)
        t2 = time.perf_counter()
        share = site_shares(pts, sub)
        share["metastatic_fraction"] = float(pts[["bone", "lung", "liver", "brain"]].any(axis=1).mean())
        tables.append(share)
        print(f"{sub}: primary section {t1 - t0:.0f} s, {a.n} patients {t2 - t1:.1f} s "
              f"({a.n / (t2 - t1):.0f} patients/s)", flush=True)
    df = pd.concat(tables, ignore_index=True)
    a.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.out / "organotropism.csv", index=False)
    cols = ["subtype", "organ", "metastatic_patients", "simulated_percent", "review_low_percent",
            "review_high_percent", "distance_pp", "within_10pp"]
    md = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n" + "\n".join(
        "| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in df[cols].itertuples(index=False))
    (a.out / "organotropism.md").write_text(
        f"Share of metastatic patients with each site ({a.n} patients per subtype, seed {a.seed}); "
        "review figures from review:112.\n\n" + md + "\n")
    from tmesim.viz.figures import site_shares_figure

    site_shares_figure(df).savefig(a.out / "organotropism.png", dpi=120)
    print(md)


if __name__ == "__main__":
    main()
