"""Simulated sections against the Jackson et al. 2020 IMC cohort, measured in one run.

    python benchmarks/tissue_compare.py [--patients 10 179 ...] [--days 7] [--out DIR]

1. Start ``tnbc-immune`` from each patient's IMC core (``--from-tissue``, shipped Jackson label
   mapping, seed 0) and compare the simulated section with the tissue at day 0 and at the last
   day (composition, T-cell-to-tumor distances, mixing score, archetype).
2. Run the default ``tnbc`` preset (seed 0) and put its day-0 and last-day section statistics
   against the cohort's 5th-95th percentiles.

Writes ``benchmarks/results/tissue-compare.md``; docs/tissue.md quotes it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

import tmesim
from tmesim.api import load_model_or_preset, run_from_tissue
from tmesim.io.atomic import atomic_write_text
from tmesim.io.results import record
from tmesim.readouts.tissue import compare_tissue, compare_with_cohort

OUT = Path(__file__).resolve().parent / "results"
TISSUE = Path(__file__).resolve().parents[1] / "shared" / "data" / "real" / "jackson2020_basel_imc_cells.csv.gz"
ROWS = ("n_cells", "share_Tumor", "share_T", "share_Macrophage", "share_Stroma", "nn_T_to_Tumor_um",
        "immune_share_window", "immune_share_tumor", "mixing_score", "t_to_tumor_median_um", "t_within_30um",
        "archetype")


def _fmt(v: object) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", nargs="+", default=["141", "179", "184"])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--tissue", type=Path, default=TISSUE if TISSUE.exists() else Path("/work/shared/data/real") / TISSUE.name)
    ap.add_argument("--out", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    ap.add_argument("--skip-preset", action="store_true")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="tissue-compare-"))
    lines = ["# Simulated sections against the Jackson et al. 2020 IMC cohort", "",
             f"tmesim {tmesim.__version__}; seed 0; days 0 and {args.days:g}; `python benchmarks/tissue_compare.py`.", ""]
    immune = load_model_or_preset(preset="tnbc-immune")
    for p in args.patients:
        t = time.time()
        rd = run_from_tissue(immune, args.tissue, work / f"p{p}", sample=p, seed=0, days=args.days, report=False)
        a = compare_tissue(rd, args.tissue, day=0)
        b = compare_tissue(rd, args.tissue, day=args.days)
        tab = pd.DataFrame({"tissue": a["tissue"], "sim day 0": a["simulated"], f"sim day {args.days:g}": b["simulated"]})
        tab = tab.loc[[r for r in ROWS if r in tab.index]]
        lines += [f"## Patient {p}: tnbc-immune started from the IMC core ({time.time() - t:.0f} s)", "",
                  "| statistic | tissue | simulated day 0 | simulated day " + f"{args.days:g} |", "|---|---|---|---|"]
        lines += [f"| {k} | " + " | ".join(_fmt(v) for v in r) + " |" for k, r in tab.iterrows()]
        lines.append("")
        print("\n".join(lines[-len(tab) - 4:]), flush=True)
    if not args.skip_preset:
        t = time.time()
        rd = work / "tnbc"
        tmesim.simulate(load_model_or_preset(preset="tnbc"), out=rd, seed=0, days=args.days, report=False)
        for d in (0.0, args.days):
            c = compare_with_cohort(rd, args.tissue, day=d)
            lines += [f"## Default preset `tnbc`, day {d:g}, against the cohort (100 cores; {time.time() - t:.0f} s)", "",
                      "| statistic | simulated | cohort 5th | median | 95th | within |", "|---|---|---|---|---|---|"]
            lines += [f"| {k} | {_fmt(r['simulated'])} | {_fmt(r['cohort_p05'])} | {_fmt(r['cohort_median'])} | "
                      f"{_fmt(r['cohort_p95'])} | {'yes' if r['within_5_95'] else 'no'} |" for k, r in c.iterrows()]
            lines.append("")
            print("\n".join(lines[-len(c) - 4:]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_text(OUT / "tissue-compare.md", "\n".join(lines) + "\n")
    record(OUT, ["tissue-compare.md"], ["tnbc", "tnbc-immune"],  # sections only: the body level never acts on them
           "python benchmarks/tissue_compare.py --patients " + " ".join(args.patients) + f" --days {args.days:g}",
           exclude=["body"])


if __name__ == "__main__":
    main()
