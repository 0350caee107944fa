"""Measure the contact-enrichment tables shipped for the subtype presets (used by trials and
cohorts with ``contacts: measured``), and report how the mean-field follows the spatial engine.

    python benchmarks/contacts.py [--presets tnbc her2 ...] [--days 35] [--workers 2] [--no-compare]

Writes ``src/tmesim/cohort/data/contacts/<preset>.csv.gz`` (one snapshot per day of a spatial run
with seed 0) and ``benchmarks/results/contacts.md``: cancer, CD8 T cells and TECs at days 7, 14,
28 and 35 in that same spatial run, the well-mixed mean-field and the mean-field with the table.
Presets run in parallel processes (``--workers``); each is one spatial run.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort.contacts import SHIPPED, contact_key
from tmesim.engine.contacts import contact_enrichment
from tmesim.io.atomic import atomic_write_text
from tmesim.io.results import record
from tmesim.meanfield import MeanField

OUT = Path(__file__).resolve().parent / "results"
DAYS_SHOWN = (7, 14, 28, 35)
TYPES = ("cancer", "CD8_T_cell", "TEC", "Treg", "MDSC")
SUBTYPES = ("tnbc", "her2", "luminal-a", "luminal-b")


def measure(preset: str, days: float) -> tuple[pd.DataFrame, dict[int, dict[str, int]], float]:
    """One spatial run (seed 0): the contact table and the live counts at the shown days."""
    model = tmesim.load_model(tmesim.preset_path(preset))
    sim = tmesim.engine.Simulation(model, seed=0)
    counts: dict[int, dict[str, int]] = {}

    def observe(s: tmesim.engine.Simulation, day: float) -> None:
        if round(day, 6) in DAYS_SHOWN:
            counts[int(round(day))] = dict(s.counts())

    t0 = time.perf_counter()
    table = contact_enrichment(sim, days=days, observe=observe)
    wall = time.perf_counter() - t0
    table.insert(0, "model_key", contact_key(model, days, 0))
    table = table.round({"enrichment": 5, "expected": 3})
    table.to_csv(SHIPPED / f"{preset}.csv.gz", index=False)
    print(f"{preset}: {wall:.0f} s -> {SHIPPED / f'{preset}.csv.gz'}", flush=True)
    return table, counts, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=list(SUBTYPES))
    ap.add_argument("--days", type=float, default=35.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-compare", action="store_true", help="only write the tables (no comparison)")
    args = ap.parse_args()
    SHIPPED.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(args.workers, 1)) as pool:
        runs = dict(zip(args.presets, pool.map(measure, args.presets, [args.days] * len(args.presets)), strict=True))
    if args.no_compare:
        return
    lines = ["# Mean-field with measured contact enrichment vs the spatial engine", "",
             f"Spatial run seed 0, {args.days:g} days; live cells of the section.", ""]
    for preset, (table, counts, wall) in runs.items():
        model = tmesim.load_model(tmesim.preset_path(preset))
        t_eval = np.array([d for d in DAYS_SHOWN if d <= args.days], float)
        mixed = MeanField(model).run(days=float(t_eval[-1]), t_eval=t_eval).set_index("time_days")
        fitted = MeanField(model, contacts=table).run(days=float(t_eval[-1]), t_eval=t_eval).set_index("time_days")
        lines += [f"## {preset} (contact run {wall:.0f} s)", "",
                  "| day | type | spatial | mean-field well-mixed | mean-field + contacts |", "|---|---|---|---|---|"]
        for d in t_eval:
            for t in TYPES:
                if t in model.cell_type_names:
                    lines.append(f"| {d:g} | {t} | {counts[int(d)].get(t, 0)} "
                                 f"| {mixed.loc[d, t]:.0f} | {fitted.loc[d, t]:.0f} |")
        lines.append("")
    atomic_write_text(OUT / "contacts.md", "\n".join(lines) + "\n")
    # the section engines only: the body level never acts on these runs
    record(OUT, ["contacts.md"], list(args.presets), "python benchmarks/contacts.py --workers 2",
           exclude=["body"])
    print("\n".join(lines))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
