"""Timing of ``tmesim.engine.multigrid.mg_solve`` on the coupled oxygen system.

    python benchmarks/multigrid.py               # all cases
    python benchmarks/multigrid.py --seconds 5   # longer timing per case
    python benchmarks/multigrid.py --threads 1   # numba thread count
    python benchmarks/multigrid.py --tol 1e-3    # the tolerance of the model option field_solve: fast

Problem: (diag(d) − coef·Δ_h) x = b, coef = 1500, d = 1.6 with random boxes of 61 (cells
taking up oxygen), b = 1 + U(0, 1), x = 0 initially, tolerance 1e-6 (relative residual; ``--tol``).
Reports V-cycles, the median and best wall time per solve (setup included, Python call
included) and the final relative residual checked independently with numpy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

try:
    from tmesim.engine.multigrid import mg_solve
except ImportError:  # running from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from tmesim.engine.multigrid import mg_solve

COEF = 1500.0
CASES: list[tuple[str, tuple[int, int, int]]] = [
    ("2D 160x160", (1, 160, 160)),
    ("2D 1000x1000", (1, 1000, 1000)),
    ("3D 100^3", (100, 100, 100)),
]


def patches(grid: tuple[int, int, int], rng: np.random.Generator, lo: float = 1.6,
            hi: float = 61.0, count: int = 40) -> np.ndarray:
    d = np.full(grid, lo)
    r = max(grid[1] // 10, 2)
    for _ in range(count):
        c = [rng.integers(0, m) for m in grid]
        d[tuple(slice(max(0, ci - r), ci + r) if m > 1 else slice(None)
                for ci, m in zip(c, grid, strict=True))] = hi
    return d.ravel()


def apply_a(x: np.ndarray, d: np.ndarray, coef: float, grid, dirichlet: bool) -> np.ndarray:
    """Independent numpy implementation of the operator (for the residual check)."""
    v = x.reshape(grid)
    out = d.reshape(grid) * v
    axes = (1, 2) + ((0,) if grid[0] > 1 else ())
    for ax in axes:
        pad = np.pad(v, [(1, 1) if a == ax else (0, 0) for a in range(3)],
                     mode="constant" if dirichlet else "edge")
        lo = np.take(pad, range(0, grid[ax]), axis=ax)
        hi = np.take(pad, range(2, grid[ax] + 2), axis=ax)
        out = out + coef * ((v - lo) + (v - hi))
    return out.ravel()


def bench(grid, dirichlet: bool, seconds: float, tol: float = 1e-6) -> tuple[int, float, float, float]:
    rng = np.random.default_rng(0)
    d = patches(grid, rng)
    b = 1.0 + rng.random(d.size)
    x = np.zeros_like(b)
    cycles = mg_solve(x, b, d, COEF, grid, dirichlet, tol)  # warm-up: compile / cache, levels
    res = np.linalg.norm(b - apply_a(x, d, COEF, grid, dirichlet)) / np.linalg.norm(b)
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 5:
        x[:] = 0.0
        t0 = time.perf_counter()
        mg_solve(x, b, d, COEF, grid, dirichlet, tol)
        times.append(time.perf_counter() - t0)
    return cycles, 1e3 * float(np.median(times)), 1e3 * min(times), res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per case")
    parser.add_argument("--threads", type=int, default=0, help="numba threads (0: default)")
    parser.add_argument("--tol", type=float, default=1e-6, help="relative residual (1e-3: field_solve fast)")
    args = parser.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads, "
          f"layer {numba.config.THREADING_LAYER}")
    print(f"{'case':<14} {'boundary':<9} {'cycles':>6} {'median ms':>10} {'best ms':>8} "
          f"{'ms/cycle':>9} {'rel. residual':>14}")
    summary = []
    for label, grid in CASES:
        for dirichlet in (True, False):
            cycles, med, best, res = bench(grid, dirichlet, args.seconds, args.tol)
            kind = "dirichlet" if dirichlet else "no-flux"
            print(f"{label:<14} {kind:<9} {cycles:>6} {med:>10.2f} {best:>8.2f} "
                  f"{med / max(cycles, 1):>9.3f} {res:>14.2e}", flush=True)
            summary.append(f"{label} {kind}: {cycles} cycles {med:.1f} ms")
    try:  # the thread layer is only known after the first parallel region
        layer = numba.threading_layer()
    except ValueError:
        layer = "none used"
    print(f"threading layer used: {layer}")
    print("summary: " + "; ".join(summary))


if __name__ == "__main__":
    main()
