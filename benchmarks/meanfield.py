"""Mean-field vs spatial engine: wall time per virtual patient on the default model.

Runs the spatial engine (``tmesim.engine.Simulation``) on the default model (preset ``tnbc``, its
7 simulated days) once per seed after a short warm-up (numba compilation excluded), then the
mean-field engine (``tmesim.meanfield.MeanField``) on the same model many times, and reports
wall time per patient and the ratio (the target is ≥ 1000×). Two mean-field figures:
``per patient`` builds the ODEs from the Model and solves them (what a cohort of patients
with different parameters pays); ``solve only`` reuses the compiled tables. With
``--contacts``, the mean-field uses the preset's measured contact enrichment (the table
trials use; see ``benchmarks/contacts.py``). Day-7 counts of both engines are printed side by side.

Usage: python benchmarks/meanfield.py [--preset tnbc] [--seeds 1] [--repeats 50] [--days 7] [--contacts]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402

import tmesim  # noqa: E402
from tmesim.meanfield import MeanField  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tnbc")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--days", type=float, default=None)
    ap.add_argument("--contacts", action="store_true", help="mean-field with the measured contact enrichment")
    args = ap.parse_args()
    model = tmesim.load_model(tmesim.preset_path(args.preset))
    days = model.time.days if args.days is None else args.days
    contacts = None
    if args.contacts:
        from tmesim.cohort.contacts import resolve_contacts
        from tmesim.meanfield import ContactCourse

        # read once, as cohorts do (ContactCourse), so per patient it is compile + solve
        contacts = ContactCourse.from_table(model.cell_type_names, resolve_contacts("measured", model, days=35.0, seed=0))

    tmesim.engine.Simulation(model, seed=0).run(days=0.05)  # compile the spatial kernels
    MeanField(model, contacts=contacts).run(days=days)  # compile the mean-field kernels

    spatial_s, counts = [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        sim = tmesim.engine.Simulation(model, seed=seed).run(days=days)
        spatial_s.append(time.perf_counter() - t0)
        counts.append(sim.counts())

    per_patient, solve_only = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mf = MeanField(model, contacts=contacts)
        df = mf.run(days=days)
        per_patient.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mf.run(days=days)
        solve_only.append(time.perf_counter() - t0)

    sp = float(np.median(spatial_s))
    mp, ms = float(np.median(per_patient)), float(np.median(solve_only))
    print(f"model {model.name}: {days:g} days, {model.domain.shape} sites, {len(model.cell_types)} cell types, "
          f"{len(model.substrates)} substrates, {len(model.rules)} rules; {os.cpu_count()} CPUs")
    print(f"spatial engine:    {sp:8.2f} s/patient (median of {args.seeds} seed(s))")
    print(f"mean-field engine{' + contacts' if args.contacts else ''}: {mp * 1e3:8.2f} ms/patient (compile + solve; median of {args.repeats}, "
          f"min {min(per_patient) * 1e3:.2f})")
    print(f"                   {ms * 1e3:8.2f} ms/patient (solve only; min {min(solve_only) * 1e3:.2f})")
    print(f"speed-up:          {sp / mp:8.0f}x per patient, {sp / ms:.0f}x solve only (target >= 1000x)")
    print(f"\nday-{days:g} live counts      spatial (seed mean)   mean-field")
    last = df.iloc[-1]
    for name in model.cell_type_names:
        s = np.mean([c[name] for c in counts])
        print(f"  {name:18s} {s:12.1f} {last[name]:14.1f}")
    print(f"  {'intravasated':18s} {'':12s} {last['intravasated']:14.1f}  (cumulative cells)")


if __name__ == "__main__":
    main()
