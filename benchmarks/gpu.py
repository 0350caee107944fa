"""CPU engine against the GPU path (tmesim.engine.gpu) on the substrate fields, one run.

For each case the same start state is advanced the same number of steps on the CPU (numba,
all threads numba is given) and on the GPU (CuPy); printed: voxel-updates/s of each (one
voxel of one substrate advanced one step), GPU/CPU ratio, and the largest absolute
difference between the two results (0 means bitwise identical).

Cases, each in 2D and 3D:
  lod       diffusion–decay of 4 substrates (LOD), the path of slowly exchanged cytokines;
  oxygen    the coupled backward-Euler oxygen solve (multigrid) with cells taking up oxygen
            on 30 % of the voxels;
  step      a whole field step as the engine calls it (oxygen coupled + 3 cytokines by
            exchange and LOD), host↔device transfers of fields and rates included.

    python benchmarks/gpu.py                 # 2D 2000² and 3D 200³
    python benchmarks/gpu.py --small         # 2D 500², 3D 64³ (quick check)

Needs CuPy and a CUDA GPU (pip install 'tmesim[gpu]'); exits with one line otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

try:
    import tmesim
except ImportError:  # running from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import tmesim

from tmesim.engine.diffusion import diffuse
from tmesim.engine.fields import FieldSolver
from tmesim.engine.multigrid import mg_solve

DT, DX = 6.0, 20.0  # min, µm: the shipped models' step and site size
D_OXYGEN = 1.0e5  # µm²/min (review-scale oxygen diffusivity, as the presets)
UPTAKE = 10.0  # 1/min at a cell


def _timed(fn, reps: int, sync) -> float:  # noqa: ANN001
    """Median wall time of ``reps`` calls after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _row(label: str, voxels: int, t_cpu: float, t_gpu: float, diff: float,
         extra: str = "") -> tuple[float, float]:
    cpu, gpu = voxels / t_cpu, voxels / t_gpu
    print(f"{label:<34} cpu {cpu:9.3e}  gpu {gpu:9.3e}  gpu/cpu {gpu / cpu:7.1f}x  "
          f"max|diff| {diff:.3g}{extra}", flush=True)
    return cpu, gpu


def bench_lod(dev, shape: tuple[int, ...], reps: int,  # noqa: ANN001
              transpose_x: bool) -> tuple[float, float]:
    from tmesim.engine.gpu.lod import diffuse_device

    S = shape[0]
    rng = np.random.default_rng(0)
    start = rng.random(shape, dtype=np.float32)
    args = (np.full(S, 3.0e3), np.full(S, 0.01), np.arange(S) % 2 == 0, np.full(S, 0.5), DT, DX)
    cpu = start.copy()
    gpu = dev.upload(start)
    t_cpu = _timed(lambda: diffuse(cpu, *args), reps, lambda: None)
    t_gpu = _timed(lambda: diffuse_device(dev, gpu, *args, transpose_x=transpose_x), reps,
                   dev.synchronize)
    out = np.empty_like(cpu)
    dev.download(gpu, out)
    tag = " (x by transpose)" if transpose_x else ""
    return _row(f"lod {'x'.join(map(str, shape[1:]))} x{S}{tag}", int(np.prod(shape)), t_cpu, t_gpu,
         float(np.abs(cpu - out).max()))


def _oxygen_problem(grid: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(1)
    n = int(np.prod(grid))
    cells = rng.random(n) < 0.3
    diag = 1.0 + DT * UPTAKE * cells
    b = np.full(n, 0.5) + DT * 0.1 * rng.random(n)
    return diag, b, DT * D_OXYGEN / DX**2


def bench_oxygen(dev, grid: tuple[int, int, int], reps: int) -> tuple[float, float]:  # noqa: ANN001
    from tmesim.engine.gpu.multigrid import DeviceMultigrid

    diag, b, coef = _oxygen_problem(grid)
    n = diag.size
    x_cpu = np.zeros(n)
    it = [0, 0]

    def cpu() -> None:
        x_cpu[:] = 0.0
        it[0] = mg_solve(x_cpu, b, diag, coef, grid, True)

    mg = DeviceMultigrid(dev, grid, True)
    xd, bd, dd = dev.zeros(n, np.float64), dev.upload(b), dev.upload(diag)

    def gpu() -> None:
        xd.fill(0.0)
        it[1] = mg.solve(xd, bd, dd, coef)

    t_cpu = _timed(cpu, reps, lambda: None)
    t_gpu = _timed(gpu, reps, dev.synchronize)
    out = np.empty(n)
    dev.download(xd, out)
    return _row(f"oxygen {'x'.join(map(str, grid))}", n, t_cpu, t_gpu, float(np.abs(x_cpu - out).max()),
         f"  (V-cycles cpu {it[0]}, gpu {it[1]}, from zero)")


def bench_step(dev, grid: tuple[int, int, int], reps: int) -> None:  # noqa: ANN001
    from tmesim.engine.gpu.fields import DeviceFieldSolver

    S = 4
    cm = SimpleNamespace(grid=grid, n_sub=S, dt=DT, dx=DX,
                         diffusion=np.array([D_OXYGEN, 3.0e3, 3.0e3, 600.0]),
                         decay=np.array([0.0, 0.01, 0.005, 0.02]),
                         dirichlet=np.array([True, False, False, True]),
                         boundary_value=np.array([38.0, 0.0, 0.0, 0.0]))
    n = int(np.prod(grid))
    rng = np.random.default_rng(2)
    cells = rng.random(n) < 0.3
    start = np.empty((S, *grid), np.float32)
    start[0] = 38.0
    start[1:] = rng.random((S - 1, *grid), dtype=np.float32)
    solvers = [FieldSolver(cm), DeviceFieldSolver(cm, dev)]  # type: ignore[arg-type]
    for sol in solvers:
        sol.loss[0, cells] = UPTAKE
        sol.gain[1, cells] = 0.01
        sol.loss[2, cells] = 0.001
    fields = [start.copy(), solvers[1].host_zeros(start.shape, np.float32)]  # as the engine
    fields[1][...] = start
    t_cpu = _timed(lambda: solvers[0].advance(fields[0]), reps, lambda: None)
    t_gpu = _timed(lambda: solvers[1].advance(fields[1]), reps, dev.synchronize)
    assert solvers[0].coupled[0] and not solvers[0].coupled[1:].any()
    st = solvers[1].stats
    share = st["transfer_s"] / max(st["transfer_s"] + st["coupled_s"] + st["split_s"], 1e-12)
    _row(f"step {'x'.join(map(str, grid))} x{S}", S * n, t_cpu, t_gpu,
         float(np.abs(fields[0] - fields[1]).max()), f"  (transfers {share:.0%} of gpu time)")


def tnbc_section(size: int, dims: int) -> tmesim.Model:
    """The shipped compact TNBC model (``tnbc-core``, 3.2 mm, 160 sites) on size (×size ×size)
    sites of 20 µm, its initial layout scaled with it (as the tests' small model)."""
    import yaml

    from tmesim.model import model_from_dict

    path = tmesim.preset_path("tnbc-core")
    d = yaml.safe_load(path.read_text())
    d["rules"] = str(path.parent / d["rules"])
    d["domain"] = {"dims": dims, "shape": [size] * dims, "site_size": "20 um"}
    scale = size * 20 / 3200
    for p in d["initial"]:
        for key in ("radius", "inner_radius"):
            if key in p:
                p[key] = p[key] * scale
        if p.get("region") == "box":
            p["low"] = [x * scale for x in p["low"]][:dims] + ([0] if dims == 3 else [])
            p["high"] = [x * scale for x in p["high"]][:dims] + ([size * 20] if dims == 3 else [])
    return model_from_dict(d)


def bench_engine(dev, size: int, dims: int, steps: int) -> None:  # noqa: ANN001
    """Whole engine steps (agents on the CPU, fields on either) on the TNBC section: ms per
    step, the fields' share, and whether both runs agree."""
    from tmesim.engine import Simulation
    from tmesim.engine.gpu.fields import DeviceFieldSolver

    model = tnbc_section(size, dims)
    runs = {}
    for backend in ("cpu", "gpu"):
        if backend == "gpu" and dev.name == "host":
            sim = Simulation(model, seed=1)
            sim.solver = DeviceFieldSolver(sim.cm, dev)
        else:
            sim = Simulation(model, seed=1, backend=backend)
        sim.step()  # warm-up: compile, caches
        for k in sim.solver.stats:
            sim.solver.stats[k] = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            sim.step()
        per_step = (time.perf_counter() - t0) / steps
        st = sim.solver.stats
        fields = (st["coupled_s"] + st["split_s"] + st.get("transfer_s", 0.0)) / steps
        runs[backend] = (sim, per_step, fields)
    (a, ta, fa), (b, tb, fb) = runs["cpu"], runs["gpu"]
    same = all(np.array_equal(getattr(a, k)[: a.n], getattr(b, k)[: b.n])
               for k in ("uid", "ctype", "cx", "cy", "cz", "dead", "var")) and a.n == b.n
    print(f"engine {dims}D {a.n:,} cells, {a.nsites:,} sites x{a.cm.n_sub}: cpu {ta * 1e3:.0f} ms/step "
          f"(fields {fa * 1e3:.0f}), gpu {tb * 1e3:.0f} ms/step (fields {fb * 1e3:.0f}); step "
          f"{ta / tb:.2f}x, fields {fa / fb:.1f}x; max|field diff| "
          f"{float(np.abs(a.fields - b.fields).max()):.3g}; cells identical: {same}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small grids (quick check)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per case")
    parser.add_argument("--host", action="store_true",
                        help="the device code on the host build of the kernels (checks this script "
                             "without a GPU; its timings mean nothing)")
    parser.add_argument("--engine", type=int, default=0, metavar="SIZE",
                        help="also whole engine steps on the TNBC model, 3D, SIZE³ sites")
    parser.add_argument("--engine-steps", type=int, default=5)
    parser.add_argument("--no-fields", action="store_true", help="skip the field cases")
    args = parser.parse_args()
    from tmesim.engine.gpu import cuda_device
    from tmesim.model import ModelError

    if args.host:
        from tmesim.engine.gpu.hostsim import HostDevice

        dev = HostDevice()
    else:
        try:
            dev = cuda_device()
        except ModelError as exc:
            print(f"error: {exc.field}: {exc.message}")
            raise SystemExit(2) from None
    import numba

    g2, g3 = ((1, 300, 300), (32, 32, 32)) if args.host else ((1, 500, 500), (64, 64, 64)) \
        if args.small else ((1, 2000, 2000), (200, 200, 200))
    print(f"tmesim {tmesim.__version__}; GPU {dev.name}; CPU: numba {numba.get_num_threads()} "
          f"threads; voxel-updates/s (median of {args.reps})", flush=True)
    for g in () if args.no_fields else (g2, g3):
        lod = [bench_lod(dev, (4, *g), args.reps, tr) for tr in (False, True)]
        oxy = bench_oxygen(dev, g, args.reps)
        bench_step(dev, g, args.reps)
        print(f"{'':<34} oxygen solve / LOD throughput: cpu {oxy[0] / max(v[0] for v in lod):.1%}, "
              f"gpu {oxy[1] / max(v[1] for v in lod):.1%} (from zero; the engine warm-starts)",
              flush=True)
    if args.engine:
        bench_engine(dev, args.engine, 3, args.engine_steps)


if __name__ == "__main__":
    main()
