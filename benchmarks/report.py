"""Time the run report against the run it describes.

Runs the default model (or ``--preset``) for ``--days`` into a temporary run directory without
its report, then writes ``report.html`` ``--repeats`` times and prints the median report time,
the simulation's wall time and their ratio, all measured in this one process (shared machines
are noisy; the ratio is what to compare across machines). The target is a report in ≤ 3 s for
the default 7-day run on two cores.

Usage: python benchmarks/report.py [--preset tnbc] [--days 7] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import tmesim  # noqa: E402
from tmesim.viz.report import write_report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tnbc")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="an existing run directory to report on instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.keep
        sim_s = float("nan")
        if run_dir is None:
            model = tmesim.load_model(tmesim.preset_path(args.preset))
            tmesim.engine.Simulation(model, seed=0).run(days=0.1)  # numba compilation, not timed
            run_dir = Path(tmp) / "run"
            t0 = time.perf_counter()
            tmesim.simulate(model, out=run_dir, seed=0, days=args.days, report=False)
            sim_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            write_report(run_dir)
            times.append(time.perf_counter() - t0)
        rep = statistics.median(times)
        size = (Path(run_dir) / "report.html").stat().st_size / 1e6
        print(f"report.html: median {rep:.2f} s over {args.repeats} writes ({size:.1f} MB); target ≤ 3 s")
        if sim_s == sim_s:
            print(f"simulation ({args.preset}, {args.days:g} days): {sim_s:.1f} s; "
                  f"report / simulation = {rep / sim_s:.3f}")


if __name__ == "__main__":
    main()
