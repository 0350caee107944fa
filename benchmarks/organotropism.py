"""Metastatic sites by subtype: coupled virtual patients vs published cohorts.

Each virtual patient of each subtype preset runs its own untreated mean-field section
(28 days) and, through the section → body coupling, its own cascade for 20 years after
diagnosis. Written to benchmarks/results/ (each file recorded in MANIFEST.json with the
model hash and tmesim version):

* ``organotropism.csv`` / ``.md``: share of patients with a distant metastasis detected within
  10 years who have each site **at their first distant recurrence** (detected within 13 weeks
  of the first metastasis, :func:`tmesim.cohort.organotropism.site_table`), 95% Wilson
  intervals from the number of metastatic patients, next to the cohort figures; the CSV also
  gives the share over two years of metastatic disease and over the whole follow-up (every
  organ reached by year 20, re-seeding from metastases included);
* ``organotropism_targets.csv``: every row of the shipped targets file with the model's figure
  (fitted rows and checks — Dawood 2012, review:112);
* ``relapse.csv`` / ``relapse.png``: cumulative distant relapse (first detected metastasis)
  per subtype over 20 years; ``clusters.csv``: colonies per unit and per cell, clusters vs
  single CTCs; ``organotropism.png``: the site shares figure.

    python benchmarks/organotropism.py [--n 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort.organotropism import (
    FIRST_RECURRENCE_DAYS,
    predict,
    read_targets,
    simulate_coupled,
    site_table,
)
from tmesim.io.results import record
from tmesim.model.body import ORGANS

SUBTYPES = ("tnbc", "her2", "luminal-a", "luminal-b")
YEAR = 365.25
REVIEW = {("tnbc", "bone"): (60.0, 85.0), ("her2", "bone"): (60.0, 85.0), ("luminal-a", "bone"): (60.0, 85.0),
          ("luminal-b", "bone"): (60.0, 85.0), ("her2", "liver"): (32.0, 32.0), ("tnbc", "brain"): (50.0, 50.0),
          ("her2", "brain"): (33.0, 33.0), ("luminal-a", "brain"): (14.0, 14.0), ("luminal-b", "brain"): (14.0, 14.0)}


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return 100 * (c - h), 100 * (c + h)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    a = ap.parse_args()
    cohorts, share_rows, curves, clusters = {}, [], [], []
    targets = read_targets()
    cohort_fig = {(r.subtypes.split(":")[0], r.organ): r.value for r in targets.itertuples()
                  if r.kind == "site_share" and "|" not in r.subtypes and not r.source.startswith("review")}
    grid = np.arange(0, 20.01, 0.5)
    for sub in SUBTYPES:
        model = tmesim.load_model(tmesim.preset_path(sub))
        t0 = time.perf_counter()
        pts = simulate_coupled(model, a.n, a.seed, follow_up_days=20 * YEAR)
        print(f"{sub}: {a.n} coupled patients in {time.perf_counter() - t0:.0f} s", flush=True)
        cohorts[sub] = pts
        first_sites = site_table(pts, FIRST_RECURRENCE_DAYS)
        course = site_table(pts, 2 * YEAR)
        ever = site_table(pts, 20 * YEAR, 20 * YEAR)
        met = first_sites["any"] > 0
        m = int(met.sum())
        for o in ORGANS:
            k = int(first_sites.loc[met, o].sum())
            lo, hi = wilson(k, m)
            rl, rh = REVIEW.get((sub, o), (np.nan, np.nan))
            share_rows.append({"subtype": sub, "organ": o, "patients": a.n, "metastatic_patients": m,
                               "metastatic_percent": 100 * m / a.n, "simulated_percent": 100 * k / m if m else np.nan,
                               "ci_low": lo, "ci_high": hi, "cohort_percent": cohort_fig.get((sub, o), np.nan),
                               "course_2y_percent": 100 * course.loc[met, o].mean() if m else np.nan,
                               "ever_20y_percent": 100 * ever.loc[ever["any"] > 0, o].mean() if ever["any"].any() else np.nan,
                               "review_low_percent": rl, "review_high_percent": rh})
        first = pts[[f"days_to_{o}" for o in ORGANS]].min(axis=1, skipna=True).to_numpy(float) / YEAR
        curves.append(pd.DataFrame({"subtype": sub, "years": grid,
                                    "cumulative_relapse_percent": [100 * np.mean(first <= g) for g in grid]}))
        clusters.append({"subtype": sub, "colonies_per_single_ctc": pts["colonies_per_single"].mean(),
                         "colonies_per_cluster": pts["colonies_per_cluster"].mean(),
                         "per_unit_ratio": (pts["colonies_per_cluster"] / pts["colonies_per_single"]).median(),
                         "per_cell_ratio": (pts["colonies_per_cluster"] / 3.0 / pts["colonies_per_single"]).median(),
                         "cluster_cell_fraction": pts["coupling_cluster_fraction"].mean()})
    shares = pd.DataFrame(share_rows)
    pred = predict(cohorts, targets)
    curve = pd.concat(curves, ignore_index=True)
    cl = pd.DataFrame(clusters)
    a.out.mkdir(parents=True, exist_ok=True)
    shares.to_csv(a.out / "organotropism.csv", index=False, float_format="%.4g")
    pred.to_csv(a.out / "organotropism_targets.csv", index=False, float_format="%.4g")
    curve.to_csv(a.out / "relapse.csv", index=False, float_format="%.4g")
    cl.to_csv(a.out / "clusters.csv", index=False, float_format="%.4g")
    (a.out / "organotropism.md").write_text(markdown(shares, pred, curve, cl, a.n, a.seed))
    from tmesim.viz.figures import site_shares_figure

    site_shares_figure(shares).savefig(a.out / "organotropism.png", dpi=120)
    relapse_figure(curve).savefig(a.out / "relapse.png", dpi=120)
    files = ["organotropism.csv", "organotropism_targets.csv", "relapse.csv", "clusters.csv", "organotropism.md",
             "organotropism.png", "relapse.png"]
    record(a.out, files, SUBTYPES, f"python benchmarks/organotropism.py --n {a.n} --seed {a.seed}")
    print((a.out / "organotropism.md").read_text())


def markdown(shares: pd.DataFrame, pred: pd.DataFrame, curve: pd.DataFrame, cl: pd.DataFrame, n: int, seed: int) -> str:
    lines = [f"Coupled virtual patients ({n} per subtype, seed {seed}): share of the patients with a distant "
             "metastasis within 10 years of diagnosis who have each site at their first distant recurrence "
             "(detected within 13 weeks of the first metastasis); 95% Wilson intervals.", "",
             "| subtype | metastatic % | bone % | lung % | liver % | brain % |", "|---|---|---|---|---|---|"]
    for sub, g in shares.groupby("subtype", sort=False):
        g = g.set_index("organ")
        cells = [f"{g.loc[o, 'simulated_percent']:.1f} ({g.loc[o, 'ci_low']:.0f}–{g.loc[o, 'ci_high']:.0f})" for o in ORGANS]
        lines.append(f"| {sub} | {g['metastatic_percent'].iloc[0]:.1f} | " + " | ".join(cells) + " |")
    lines += ["", "Sites over the course of metastatic disease: within 2 years of the first metastasis, and every organ "
              "reached by year 20 (re-seeding from metastases included):", "",
              "| subtype | bone % | lung % | liver % | brain % | ever: bone % | lung % | liver % | brain % |",
              "|---|---|---|---|---|---|---|---|---|"]
    for sub, g in shares.groupby("subtype", sort=False):
        g = g.set_index("organ")
        lines.append(f"| {sub} | " + " | ".join(f"{g.loc[o, 'course_2y_percent']:.0f}" for o in ORGANS) + " | "
                     + " | ".join(f"{g.loc[o, 'ever_20y_percent']:.0f}" for o in ORGANS) + " |")
    lines += ["", "Against the cohorts (fitted rows: weight 1; out-of-fit checks: weight 0; window: sites detected within "
              "this time of the first metastasis):", "",
              "| kind | subtypes | organ | window (y) | published | model | weight | source |", "|---|---|---|---|---|---|---|---|"]
    for r in pred.itertuples(index=False):
        win = "" if not np.isfinite(r.window_years) else f"{r.window_years:g}"
        lines.append(f"| {r.kind} | {r.subtypes} | {r.organ} | {win} | {r.value:g} | {r.model:.2f} | {r.weight:g} | "
                     f"{r.source.split('(')[0].strip()} |")
    lines += ["", "Cumulative distant relapse (%), by years after diagnosis:", "",
              "| subtype | 2 y | 5 y | 10 y | 15 y | 20 y |", "|---|---|---|---|---|---|"]
    for sub, g in curve.groupby("subtype", sort=False):
        g = g.set_index("years")["cumulative_relapse_percent"]
        lines.append(f"| {sub} | " + " | ".join(f"{g.loc[y]:.1f}" for y in (2.0, 5.0, 10.0, 15.0, 20.0)) + " |")
    lines += ["", "Clusters vs single CTCs (colonies founded per intravasated unit; median over patients):", "",
              "| subtype | colonies per cluster / per single CTC | per cell | cells leaving in clusters |",
              "|---|---|---|---|"]
    for r in cl.itertuples(index=False):
        lines.append(f"| {r.subtype} | {r.per_unit_ratio:.0f}× | {r.per_cell_ratio:.0f}× | {100 * r.cluster_cell_fraction:.1f}% |")
    return "\n".join(lines) + "\n"


def relapse_figure(curve: pd.DataFrame):  # noqa: ANN201 - matplotlib Figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for sub, g in curve.groupby("subtype", sort=False):
        ax.step(g["years"], g["cumulative_relapse_percent"], where="post", label=sub)
    ax.axvline(5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("years after diagnosis")
    ax.set_ylabel("distant relapse (%)")
    ax.set_title("Time to first detected metastasis (coupled virtual patients)")
    ax.legend()
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
