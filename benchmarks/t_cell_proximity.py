"""How close CD8 T cells sit to tumor cells in the default section, with and without trafficking.

    python benchmarks/t_cell_proximity.py [--seeds 0 1] [--days 7]

Runs ``tnbc`` (the default: no chemokine-guided T-cell migration, no exchange of places) and
``tnbc-immune`` (the same section and layout plus CXCL9/10 and CCL5 chemotaxis, exchange of
places into nests and contact-slowed motility, docs/infiltration.md) and prints, per day, the
median distance from CD8 T cells to the nearest tumor cell and the share within 30 µm: the two
statistics whose Jackson et al. 2020 IMC cohort 5th-95th percentiles are 11-36 µm and 42-100 %
(benchmarks/results/tissue-compare.md). Writes ``benchmarks/results/t-cell-proximity.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tmesim
from tmesim.io.atomic import atomic_write_text
from tmesim.io.results import record
from tmesim.io.rundir import RunDirectory
from tmesim.readouts.tissue import _run_section, section_statistics

OUT = Path(__file__).resolve().parent / "results"
PRESETS = ("tnbc", "tnbc-immune")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--days", type=float, default=7.0)
    args = ap.parse_args()
    days = [0.0, 1.0, 3.0, args.days]
    work = Path(tempfile.mkdtemp(prefix="t-prox-"))
    lines = ["# CD8 T cells to the nearest tumor cell: default section with and without trafficking", "",
             f"tmesim {tmesim.__version__}; seeds {' '.join(map(str, args.seeds))}; "
             f"`python benchmarks/t_cell_proximity.py --days {args.days:g}`. IMC cohort (Jackson et al. 2020, "
             "100 cores) 5th-95th percentile: median distance 11-36 µm, share within 30 µm 0.42-1.", "",
             "| preset | seed | " + " | ".join(f"day {d:g}" for d in days) + " |", "|---|---|" + "---|" * len(days)]
    for preset in PRESETS:
        for seed in args.seeds:
            t = time.time()
            rd = work / f"{preset}-{seed}"
            tmesim.simulate(tmesim.load_model(tmesim.preset_path(preset)), out=rd, seed=seed, days=args.days,
                            report=False)
            cells = []
            for d in days:
                s = section_statistics(_run_section(RunDirectory(rd), d)[0], nhood=False)
                cells.append(f"{s.t_to_tumor_median_um:.0f} µm, {s.t_within_30um:.2f}")
            lines.append(f"| {preset} | {seed} | " + " | ".join(cells) + " |")
            print(lines[-1], f"({time.time() - t:.0f} s)", flush=True)
    lines += ["", "Each cell: median CD8-T-cell-to-tumor distance, share of CD8 T cells within 30 µm.", ""]
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_text(OUT / "t-cell-proximity.md", "\n".join(lines) + "\n")
    record(OUT, ["t-cell-proximity.md"], list(PRESETS),
           "python benchmarks/t_cell_proximity.py --seeds " + " ".join(map(str, args.seeds)) + f" --days {args.days:g}",
           exclude=["body"])


if __name__ == "__main__":
    main()
