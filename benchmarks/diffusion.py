"""Throughput of ``tmesim.engine.diffusion.diffuse`` in voxel-updates per second.

One voxel-update = one voxel of one substrate advanced by one time step.

    python benchmarks/diffusion.py            # idle machine
    python benchmarks/diffusion.py --load 1   # with one competing busy-loop process

The threading layer can be chosen with numba's usual environment variables, e.g.
``NUMBA_THREADING_LAYER=workqueue`` or ``OMP_WAIT_POLICY=passive`` (OpenMP layer); the
layer actually used is printed.  The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

try:
    from tmesim.engine.diffusion import diffuse
except ImportError:  # running from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from tmesim.engine.diffusion import diffuse

# (label, shape (S, nz, ny, nx))
CASES: list[tuple[str, tuple[int, int, int, int]]] = [
    ("2D 1000x1000 x4", (4, 1, 1000, 1000)),
    ("2D 4096x4096 x1", (1, 1, 4096, 4096)),
    ("3D 100^3 x4", (4, 100, 100, 100)),
]


def bench_case(shape: tuple[int, int, int, int], seconds: float) -> tuple[float, float]:
    """Return (median, best) voxel-updates/s over repeated steps after a warm-up call."""
    nsub = shape[0]
    rng = np.random.default_rng(0)
    fields = rng.random(shape, dtype=np.float32)
    diffusion = np.full(nsub, 1.0e3)  # µm²/min, typical small cytokine / oxygen scale
    decay = np.full(nsub, 0.01)
    dirichlet = np.arange(nsub) % 2 == 0  # mix both boundary kinds
    boundary = np.full(nsub, 0.5)
    args = (diffusion, decay, dirichlet, boundary, 0.5, 10.0)
    diffuse(fields, *args)  # warm-up: compile / load cache, build coefficients
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 5:
        t0 = time.perf_counter()
        diffuse(fields, *args)
        times.append(time.perf_counter() - t0)
    n = fields.size
    return n / float(np.median(times)), n / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per case")
    parser.add_argument(
        "--load", type=int, default=0, help="number of competing busy-loop processes during timing"
    )
    opts = parser.parse_args()

    import numba

    hogs: list[subprocess.Popen[bytes]] = []
    try:
        results = []
        for label, shape in CASES:
            # start the competing load after the warm-up inside bench_case would be
            # nicer, but starting it here keeps the hogs' lifetime simple and
            # compilation is cached after the first run anyway
            if opts.load and not hogs:
                hogs = [
                    subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(opts.load)
                ]
                time.sleep(0.2)
            med, best = bench_case(shape, opts.seconds)
            results.append((label, med, best))
            print(f"{label:18s} median {med:9.3e}  best {best:9.3e} voxel-updates/s", flush=True)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    layer = numba.threading_layer()
    summary = ", ".join(f"{label}: {med:.2e}" for label, med, _ in results)
    print(
        f"SUMMARY threads={numba.get_num_threads()} layer={layer} load={opts.load} "
        f"median voxel-updates/s -- {summary}"
    )


if __name__ == "__main__":
    main()
