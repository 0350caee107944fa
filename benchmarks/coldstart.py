"""A trial's cold start: the first trial on a fresh checkout, whose numba cache is empty.

    python benchmarks/coldstart.py [--n 20] [--workers 2] [--trial src/tmesim/presets/trials/impassion130.yaml]
                                   [--skip-before]

Runs the same small trial (the trial file with ``--n`` patients, ``--workers`` local workers,
no report) three times, each in a fresh process with its own ``NUMBA_CACHE_DIR``:

* before, cold: an empty cache, the warm-up off (``TMESIM_WARMUP=0``): every worker compiles
  every kernel it calls, all workers the same kernels at the same time (how trials started
  before :mod:`tmesim.cohort.warmup`);
* after, cold: an empty cache, the warm-up on: the kernels compiled once, split over the workers
  (:func:`tmesim.cohort.warmup.warm_workers`), then loaded from the cache by the others;
* after, warm: the cache the cold run left (every later trial).

For each it prints the wall time from the start of ``run_trial`` (cluster start included) to the
first finished patient and to the end, the CPU seconds the workers spent, and how many
kernels (per signature, those called from Python: not the helpers compiled into them) each
worker compiled rather than loaded from the cache, and how many of them more than one worker
compiled (a numba compile-event listener installed on the workers); then the before/after ratios of the cold runs and the
cold/warm ratio. The per-patient tables of the runs are compared: they must be identical
(runtime columns aside). Under load from other processes the wall times stretch; the CPU
seconds and compile counts do not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "src" / "tmesim" / "presets" / "trials" / "impassion130.yaml"

ONE = r"""
import json, sys, time
t_start = time.perf_counter()


def listen():  # on each worker: what numba compiles (a cache load is no compile event)
    import collections
    from numba.core import event

    import builtins
    if hasattr(builtins, "_tmesim_compiled"):
        return
    builtins._tmesim_compiled = collections.Counter()
    depth = [0]

    class Count(event.Listener):  # kernels called from Python (depth 0), not the helpers they compile
        def on_start(self, ev):
            depth[0] += 1

        def on_end(self, ev):
            depth[0] -= 1
            d = ev.data["dispatcher"]
            if depth[0] == 0 and d.py_func.__module__.startswith("tmesim"):
                builtins._tmesim_compiled[f"{d.py_func.__module__}.{d.py_func.__qualname__}"] += 1

    event.register("numba:compile", Count())


def report():
    import builtins
    import time
    return {"compiled": dict(getattr(builtins, "_tmesim_compiled", {})), "cpu_s": time.process_time()}


def main():
    from tmesim.cohort import dask_client, load_trial, run_trial

    spec = load_trial(sys.argv[1], n=int(sys.argv[2]))
    first = []

    def progress(done, total):
        if done and not first:
            first.append(time.perf_counter())

    with dask_client(int(sys.argv[3])) as c:
        c.run(listen)
        t0 = time.perf_counter()
        run_trial(spec, sys.argv[4], workers=int(sys.argv[3]), client=c, progress=progress, report=False)
        t1 = time.perf_counter()
        workers = c.run(report)
    print(json.dumps({"first_s": first[0] - t0 if first else None, "total_s": t1 - t0,
                      "import_s": t0 - t_start, "workers": list(workers.values())}))


if __name__ == "__main__":  # the workers are spawned processes: they must not run this
    main()
"""


def run(trial: Path, n: int, workers: int, cache: Path, out: Path, warm_up: bool) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "TMESIM_WARMUP": "1" if warm_up else "0",
           "PYTHONPATH": str(ROOT / "src")}
    script = out.parent / "coldstart_one.py"
    script.write_text(ONE)
    p = subprocess.run([sys.executable, str(script), str(trial), str(n), str(workers), str(out)], env=env,
                       capture_output=True, text=True, cwd=str(ROOT))
    if p.returncode:
        sys.exit(f"error: the trial run failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def show(label: str, r: dict) -> None:
    counts = [sum(w["compiled"].values()) for w in r["workers"]]
    cpu = [w["cpu_s"] for w in r["workers"]]
    seen = [set(w["compiled"]) for w in r["workers"]]
    twice = sorted(k for k in set().union(*seen) if sum(k in s for s in seen) > 1)
    print(f"{label}: first patient after {r['first_s']:.1f} s, all after {r['total_s']:.1f} s; worker CPU "
          f"{' + '.join(f'{c:.0f}' for c in cpu)} = {sum(cpu):.0f} s; kernels compiled (called from Python, "
          f"per signature) per worker: {', '.join(map(str, counts))}; compiled by more than one worker: {len(twice)}")


def patients(out: Path) -> pd.DataFrame:
    from tmesim.cohort.trial import patients_table

    df = patients_table(out)
    return df.drop(columns=[c for c in df.columns if c.startswith("runtime")]).sort_values(["arm", "patient_id"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trial", type=Path, default=TRIAL)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-before", action="store_true", help="only the runs with the warm-up")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import tmesim

    print(f"tmesim {tmesim.__version__}; {a.trial.name}, {a.n} patients, {a.workers} workers, "
          f"{os.cpu_count()} CPUs; each run in a fresh process")
    with tempfile.TemporaryDirectory(prefix="coldstart_") as tmp:
        t = Path(tmp)
        res, tables = {}, {}
        for key, warm_up, cache in (("before", False, "before"), ("after", True, "after"), ("warm", True, "after")):
            if key == "before" and a.skip_before:
                continue
            res[key] = run(a.trial, a.n, a.workers, t / cache, t / f"out_{key}", warm_up)
            tables[key] = patients(t / f"out_{key}")
            show({"before": "before, cold cache (each worker compiles)",
                  "after": "after, cold cache (compiled once, split over the workers)",
                  "warm": "after, warm cache"}[key], res[key])
    if "before" in res:
        b, f = res["before"], res["after"]
        cpu_b, cpu_a = (sum(w["cpu_s"] for w in r["workers"]) for r in (b, f))
        print(f"cold start before/after: first patient {b['first_s'] / f['first_s']:.2f}x sooner, whole trial "
              f"{b['total_s'] / f['total_s']:.2f}x faster, worker CPU {cpu_b / cpu_a:.2f}x less")
    w = res["warm"]
    print(f"cold/warm (after): first patient {res['after']['first_s'] / w['first_s']:.2f}x, whole trial "
          f"{res['after']['total_s'] / w['total_s']:.2f}x")
    ref = tables["warm"]
    same = all(df.reset_index(drop=True).equals(ref.reset_index(drop=True)) for df in tables.values())
    print(f"patient tables identical across the runs: {same}")


if __name__ == "__main__":
    main()
