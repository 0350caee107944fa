"""Measure the contact-enrichment tables shipped for the subtype presets (used by trials and
cohorts with ``contacts: measured``), and report how the mean-field follows the spatial engine.

    python benchmarks/contacts.py [--presets tnbc her2 ...] [--days 35] [--no-compare]

Writes ``src/tmesim/cohort/data/contacts/<preset>.csv.gz`` (one snapshot per day of a spatial run
with seed 0) and ``benchmarks/results/contacts.md``: cancer, CD8 T cells and TECs at days 7, 14,
28 and 35 in the spatial run, the well-mixed mean-field and the mean-field with the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort.contacts import SHIPPED, contact_key
from tmesim.engine.contacts import contact_enrichment
from tmesim.meanfield import MeanField

OUT = Path(__file__).resolve().parent / "results"
DAYS_SHOWN = (7, 14, 28, 35)
TYPES = ("cancer", "CD8_T_cell", "TEC", "Treg", "MDSC")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tnbc"])
    ap.add_argument("--days", type=float, default=35.0)
    ap.add_argument("--no-compare", action="store_true", help="only write the tables (no comparison runs)")
    args = ap.parse_args()
    SHIPPED.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Mean-field with measured contact enrichment vs the spatial engine", "",
             f"Spatial run seed 0, {args.days:g} days; live cells of the section.", ""]
    for preset in args.presets:
        model = tmesim.load_model(tmesim.preset_path(preset))
        sim = tmesim.engine.Simulation(model, seed=0)
        counts = {}
        t0 = time.perf_counter()

        table = contact_enrichment(sim, days=args.days)
        wall = time.perf_counter() - t0
        table.insert(0, "model_key", contact_key(model, args.days, 0))
        table = table.round({"enrichment": 5, "expected": 3})
        table.to_csv(SHIPPED / f"{preset}.csv.gz", index=False)
        print(f"{preset}: {wall:.0f} s -> {SHIPPED / f'{preset}.csv.gz'}")
        if args.no_compare:
            continue
        # the spatial counts at the shown days come from a second run with the same seed
        sim = tmesim.engine.Simulation(model, seed=0)
        for d in DAYS_SHOWN:
            if d <= args.days:
                sim.run(days=float(d))
                counts[d] = sim.counts()
        t_eval = np.array([d for d in DAYS_SHOWN if d <= args.days], float)
        mixed = MeanField(model).run(days=float(t_eval[-1]), t_eval=t_eval).set_index("time_days")
        fitted = MeanField(model, contacts=table).run(days=float(t_eval[-1]), t_eval=t_eval).set_index("time_days")
        lines += [f"## {preset} (contact run {wall:.0f} s)", "",
                  "| day | type | spatial | mean-field well-mixed | mean-field + contacts |", "|---|---|---|---|---|"]
        for d in t_eval:
            for t in TYPES:
                if t in model.cell_type_names:
                    lines.append(f"| {d:g} | {t} | {counts[int(d)][t]} | {mixed.loc[d, t]:.0f} | {fitted.loc[d, t]:.0f} |")
        lines.append("")
    if not args.no_compare:
        (OUT / "contacts.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
