"""Scale: a large section of a shipped model — wall time per simulated day, memory per cell and voxel.

A shipped preset (default ``tnbc``) is scaled the way a user would build a larger section: a
model YAML that ``extends`` the preset, with a larger ``domain.shape`` and every placement's
lengths (radius, inner radius, box corners, centre) multiplied by the same factor, so the
larger section has the preset's composition and occupancy (about 46 % of sites for tnbc).
``--dims 3`` lifts the 2D layout to a cube: discs become spheres, boxes span the whole depth,
and a density per mm² becomes per mm³ by dividing by one site's thickness (a 2D section is one
site thick). The YAML is written next to the results (``--out``) so the section can be run with
``tmesim run``.

Printed (one run, one process, so the peak RSS is this section's alone):

* wall time per simulated day, steps/s, agent-updates/s (one cell advanced one whole step);
  30 simulated days **projected** from the measured steps (the cell count drifts over 30 days,
  so the projection assumes the measured per-step cost) and measured when ``--days >= 30``;
* memory: peak RSS (``resource.getrusage``), the numpy/Python heap peak (``tracemalloc``,
  with ``--tracemalloc``), and the engine's own arrays by owner (:func:`engine_bytes`):
  cell state (per cell slot, one per site: the arrays never grow), lattice and scratch
  (per site), fields and solver (per voxel), events — as bytes per cell and bytes per voxel;
* per-process shares of the step (the same schedule ``Simulation.step`` runs);
* ``--backend gpu``: the fields solved on a CUDA GPU (the cells stay on the CPU threads,
  ``NUMBA_NUM_THREADS``), with the host–device transfer time of the field step; without CuPy or
  a GPU the run stops before building anything, with one ``error: backend: ...`` line.

Usage::

    python benchmarks/scale.py --cells 1e6 --hours 6          # 2D, ~10^6 cells
    python benchmarks/scale.py --dims 3 --side 200 --steps 3   # 3D 200^3
    python benchmarks/scale.py --cells 2e4 --steps 2 --out /tmp/scale   # seconds
    python benchmarks/scale.py --cells 1e6 --steps 20 --backend gpu      # fields on a CUDA GPU

``--out DIR`` writes ``DIR/scale-<dims>d-<side>.json`` (tmesim version, model hash, command,
machine, every figure) and the section's YAML. Timings depend on the machine and its load:
nothing is shipped in ``benchmarks/results`` (the docs quote a labelled measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

import tmesim  # noqa: E402
from tmesim.engine import Simulation  # noqa: E402
from tmesim.engine.gpu import BACKENDS, cuda_device  # noqa: E402
from tmesim.errors import ModelError  # noqa: E402
from tmesim.io.results import model_hash  # noqa: E402
from tmesim.units import MINUTES_PER_DAY  # noqa: E402

MiB = 1024.0**2


def rss_peak_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def rss_now_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return rss_peak_bytes()


def section_yaml(preset: str, dims: int, side: int, field_solve: str | None = None) -> dict[str, Any]:
    """A model that extends ``preset`` with a ``side``-sites-wide lattice (``dims`` D) and the
    preset's placements scaled to it (and the model option ``field_solve`` when given)."""
    base = tmesim.load_model(tmesim.preset_path(preset))
    bdims = base.domain.dims
    if dims < bdims:
        raise SystemExit(f"error: --dims: {preset} is a {bdims}D model; a section of it has {bdims} or more dimensions")
    shape0 = np.array(base.domain.shape[:bdims], float)
    k = side / float(shape0.max())
    dx_um = base.domain.site_size.value
    depth_um = side * dx_um
    out = []
    for p in base.initial:
        d = p.model_dump(mode="json", exclude_none=True)
        for key in ("radius", "inner_radius"):
            if key in d:
                d[key]["value"] = d[key]["value"] * k
        for key in ("low", "high", "center"):
            if key in d:
                d[key] = [v * k for v in d[key]]
                if dims == 3 and bdims == 2:
                    d[key].append(0.0 if key == "low" else depth_um if key == "high" else depth_um / 2)
        if "positions" in d:
            raise SystemExit(f"error: --preset: {preset} places cells at explicit positions; scale a preset "
                             "with regions instead")
        if dims == 3 and bdims == 2 and "density" in d:
            d["density"] = d["density"] / (dx_um / 1000.0)  # per mm² of a one-site-thick section → per mm³
        if not d.get("state"):
            d.pop("state", None)
        out.append(d)
    spec = {"name": f"{preset}-scaled-{dims}d-{side}", "extends": preset,
            "domain": {"dims": dims, "shape": [side] * dims}, "initial": out}
    if field_solve is not None:
        spec["field_solve"] = field_solve
    return spec


def side_for_cells(preset: str, cells: float, dims: int) -> int:
    """Lattice side that gives about ``cells`` cells: the preset's occupancy times the sites."""
    base = tmesim.load_model(tmesim.preset_path(preset))
    sim = Simulation(base, seed=0)
    occupancy = sim.n / sim.nsites
    return int(round((cells / occupancy) ** (1.0 / dims)))


def _arrays(obj: Any, seen: set[int], depth: int = 0) -> list[tuple[str, np.ndarray]]:
    """Every numpy array reachable from ``obj`` (attributes, tuples, lists, dicts), with its path."""
    found: list[tuple[str, np.ndarray]] = []
    if depth > 6 or id(obj) in seen:
        return found
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return [("", obj)]
    if isinstance(obj, dict):
        items = [(str(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        fields = getattr(obj, "_fields", None)  # NamedTuple structs of the kernels
        items = list(zip(fields, obj, strict=True)) if fields else [(str(i), v) for i, v in enumerate(obj)]
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("tmesim"):
        items = list(vars(obj).items())
    else:
        return found
    for name, v in items:
        for sub, a in _arrays(v, seen, depth + 1):
            found.append((f"{name}.{sub}" if sub else name, a))
    return found


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


# Owners of the engine's arrays: cell state is one slot per site (a site holds at most one cell);
# everything of the fields and their solver is per voxel; the rest is lattice bookkeeping.
CELL_STATE = {"uid", "ctype", "cx", "cy", "cz", "dead", "dead_time", "var", "var_new"}


def engine_bytes(sim: Simulation) -> dict[str, int]:
    """Bytes of the engine's persistent arrays, by owner, each buffer counted once.

    ``cells``: the cell-state arrays; ``fields``: substrate (and drug-delivery) grids and the
    field solver's arrays (exchange rates, multigrid levels); ``lattice``: occupancy, per-site
    scratch of the kernels, perfusion; ``events``: the per-step event buffer; ``rules``: the
    compiled model. Temporaries allocated inside a step are not here (peak RSS shows them).
    """
    groups = {"cells": 0, "fields": 0, "lattice": 0, "events": 0, "rules": 0}
    counted: set[tuple[int, int]] = set()
    seen: set[int] = set()
    for top, obj in vars(sim).items():
        if top == "model":
            continue
        for _, a in [("", obj)] if isinstance(obj, np.ndarray) else _arrays(obj, seen):
            r = _root(a)
            key = (r.__array_interface__["data"][0], r.nbytes)
            if key in counted:
                continue
            counted.add(key)
            if top in CELL_STATE:
                g = "cells"
            elif top in ("solver", "_field_rows", "fields"):
                g = "fields"
            elif top == "ev":
                g = "events"
            elif top in ("rules", "cm", "vals", "_can_exchange"):
                g = "rules"
            else:
                g = "lattice"
            groups[g] += r.nbytes
    return groups


def _timed(fn: Any, acc: dict[str, float], name: str) -> Any:
    def run(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            acc[name] += time.perf_counter() - t

    return run


def bench(preset: str, dims: int, side: int, steps: int, seed: int, trace: bool,
          deadline_s: float | None = None, field_solve: str | None = None,
          backend: str = "cpu") -> dict[str, Any]:
    spec = section_yaml(preset, dims, side, field_solve)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "section.yaml"
        p.write_text(yaml.safe_dump(spec, sort_keys=False))
        model = tmesim.load_model(p)
    rss0 = rss_now_bytes()
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    sim = Simulation(model, seed=seed, backend=backend)
    build_s = time.perf_counter() - t
    rss_built = rss_now_bytes()
    n0 = sim.n
    t = time.perf_counter()
    sim.step()  # compiles (or loads the numba cache) on first use; not counted below
    first_step_s = time.perf_counter() - t
    per = dict.fromkeys((*sim.SCHEDULE, "update_drugs", "_check_finite"), 0.0)
    for name in per:
        setattr(sim, name, _timed(getattr(sim, name), per, name))  # step() looks them up on the instance
    st = sim.solver.stats
    st.update(split_s=0.0, split_voxels=0, coupled_s=0.0, coupled_voxels=0)
    cell_steps = 0
    wall = cpu = 0.0
    done = 0
    for _ in range(steps):
        cell_steps += sim.n
        t, c = time.perf_counter(), time.process_time()
        sim.step()
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
        done += 1
        if deadline_s is not None and wall > deadline_s:
            break
    heap_peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    groups = engine_bytes(sim)
    dt = sim.cm.dt
    per_step = wall / max(done, 1)
    steps_per_day = MINUTES_PER_DAY / dt
    day_s = per_step * steps_per_day
    sim_days = done * dt / MINUTES_PER_DAY
    total = sum(groups.values())
    nsites = sim.nsites
    return {
        "preset": preset, "backend": backend, "threads": numba.get_num_threads(),
        "field_solve": field_solve or "converged", "section_model_hash": model_hash([model]), "dims": dims, "side": side, "sites": nsites, "substrates": int(sim.cm.n_sub),
        "state_columns": int(sim.var.shape[1]), "seed": seed, "dt_min": dt,
        "cells_start": int(n0), "cells_end": int(sim.n), "steps": done, "simulated_days": sim_days,
        "build_s": build_s, "first_step_s": first_step_s, "wall_s": wall, "s_per_step": per_step,
        "cpu_s": cpu, "cpu_s_per_step": cpu / max(done, 1), "cpu_s_per_simulated_day": cpu / max(done, 1) * steps_per_day,
        "steps_per_s": done / wall if wall else float("nan"),
        "agent_updates_per_s": cell_steps / wall if wall else float("nan"),
        "wall_s_per_simulated_day": day_s, "projected_30_days_s": 30 * day_s,
        "measured_30_days_s": wall if sim_days >= 30 else None,
        "rss_before_build_bytes": rss0, "rss_after_build_bytes": rss_built, "rss_peak_bytes": rss_peak_bytes(),
        "tracemalloc_peak_bytes": heap_peak,
        "engine_bytes": groups, "engine_total_bytes": total,
        "cell_state_bytes_per_cell_slot": groups["cells"] / nsites,
        "engine_bytes_per_cell": total / max(sim.n, 1),
        "engine_bytes_per_voxel": total / nsites,
        "field_bytes_per_voxel": groups["fields"] / nsites,
        "rss_peak_bytes_per_cell": rss_peak_bytes() / max(sim.n, 1),
        "ms_per_process": {k.lstrip("_"): 1e3 * v / max(done, 1) for k, v in per.items()},
        # inside exchange_and_diffuse: substrates split (pointwise exchange + LOD) vs solved coupled (multigrid)
        "ms_fields_split": 1e3 * st["split_s"] / max(done, 1), "ms_fields_coupled": 1e3 * st["coupled_s"] / max(done, 1),
        "split_voxel_updates_per_s": st["split_voxels"] / st["split_s"] if st["split_s"] else None,
        "coupled_voxel_updates_per_s": st["coupled_voxels"] / st["coupled_s"] if st["coupled_s"] else None,
        "ms_fields_transfer": 1e3 * st.get("transfer_s", 0.0) / max(done, 1),
    }


def field_solver_check(backend: str) -> None:
    """Raise ModelError (field ``backend``) when ``backend`` cannot run here, before any work."""
    if backend == "gpu":
        cuda_device()


def report(r: dict[str, Any]) -> str:
    g = r["engine_bytes"]
    lines = [
        f"{r['preset']} {r['dims']}D {r['side']}^{r['dims']} = {r['sites']:,} sites, {r['substrates']} substrates, "
        f"field_solve {r['field_solve']}, backend {r['backend']}, {r['threads']} thread(s), "
        f"seed {r['seed']}: {r['cells_start']:,} -> {r['cells_end']:,} cells over {r['steps']} steps "
        f"({24 * r['simulated_days']:.1f} simulated h); build {r['build_s']:.1f} s, first step {r['first_step_s']:.1f} s",
        f"  time: {r['s_per_step']:.3f} s/step, {r['steps_per_s']:.2f} steps/s, agent-updates/s "
        f"{r['agent_updates_per_s']:.3e}; {r['wall_s_per_simulated_day'] / 60:.1f} min per simulated day; "
        f"30 days projected {r['projected_30_days_s'] / 60:.1f} min"
        + (f", measured {r['measured_30_days_s'] / 60:.1f} min" if r["measured_30_days_s"] else " (not run)"),
        f"  CPU time of this process: {r['cpu_s_per_step']:.3f} s/step ({r['cpu_s_per_simulated_day'] / 60:.1f} min per "
        f"simulated day, {30 * r['cpu_s_per_simulated_day'] / 60:.1f} min for 30 days): wall > CPU means the machine is shared",
        f"  memory: peak RSS {r['rss_peak_bytes'] / MiB:,.0f} MiB ({r['rss_before_build_bytes'] / MiB:,.0f} of it before "
        f"the section was built: Python, numpy, numba, compiled kernels)"
        + (f", numpy/Python heap peak {r['tracemalloc_peak_bytes'] / MiB:,.0f} MiB" if r["tracemalloc_peak_bytes"] else ""),
        f"  engine arrays {r['engine_total_bytes'] / MiB:,.0f} MiB = " + ", ".join(
            f"{k} {v / MiB:,.0f}" for k, v in g.items()) + " MiB",
        f"  bytes per cell: {r['engine_bytes_per_cell']:.0f} (engine arrays / live cells), cell state "
        f"{r['cell_state_bytes_per_cell_slot']:.0f} per cell slot, peak RSS / cells {r['rss_peak_bytes_per_cell']:.0f}; "
        f"bytes per voxel: {r['engine_bytes_per_voxel']:.0f} (all engine arrays), fields+solver "
        f"{r['field_bytes_per_voxel']:.0f}",
        "  ms per step: " + ", ".join(f"{k} {v:.0f}" for k, v in r["ms_per_process"].items())
        + f" (fields: split substrates {r['ms_fields_split']:.0f}, coupled {r['ms_fields_coupled']:.0f}"
        + (f", host-device transfers {r['ms_fields_transfer']:.0f}" if r["backend"] != "cpu" else "")
        + (f"; coupled / LOD voxel-updates/s {100 * r['coupled_voxel_updates_per_s'] / r['split_voxel_updates_per_s']:.1f}%"
           if r["coupled_voxel_updates_per_s"] and r["split_voxel_updates_per_s"] else "") + ")",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tnbc")
    ap.add_argument("--dims", type=int, choices=(2, 3), default=2)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--cells", type=float, help="about this many cells (sets the side from the preset's occupancy)")
    size.add_argument("--side", type=int, help="lattice sites per axis")
    span = ap.add_mutually_exclusive_group()
    span.add_argument("--steps", type=int, help="time steps to measure after the first")
    span.add_argument("--hours", type=float, help="simulated hours to measure after the first step")
    span.add_argument("--days", type=float, help="simulated days to measure after the first step")
    ap.add_argument("--max-wall", type=float, default=None, help="stop measuring after this many wall seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--field-solve", choices=("converged", "fast"), default=None,
                    help="the model option field_solve of the section (default: the preset's)")
    ap.add_argument("--backend", choices=BACKENDS, default="cpu",
                    help="where the fields are solved (gpu: CuPy and a CUDA GPU; the cells stay on the CPU)")
    ap.add_argument("--tracemalloc", action="store_true", help="also trace the numpy/Python heap peak (slower)")
    ap.add_argument("--out", type=Path, help="folder for the results JSON and the section YAML")
    a = ap.parse_args(argv)
    if a.backend != "cpu":
        try:
            field_solver_check(a.backend)
        except ModelError as exc:
            raise SystemExit(f"error: {exc}") from None
    side = a.side if a.side is not None else side_for_cells(a.preset, a.cells or 1e6, a.dims)
    dt = tmesim.load_model(tmesim.preset_path(a.preset)).time.dt.value
    if a.steps is not None:
        steps = a.steps
    else:
        minutes = 60 * a.hours if a.hours is not None else MINUTES_PER_DAY * (a.days if a.days is not None else 0.25)
        steps = max(1, int(round(minutes / dt)))
    r = bench(a.preset, a.dims, side, steps, a.seed, a.tracemalloc, a.max_wall, a.field_solve, a.backend)
    print(report(r), flush=True)
    if a.out is not None:
        from tmesim.io.atomic import atomic_write_text

        spec = section_yaml(a.preset, a.dims, side, a.field_solve)
        a.out.mkdir(parents=True, exist_ok=True)
        with_hash = {"tmesim_version": tmesim.__version__,  # model_hash: the preset's, as benchmarks/results records it
                     "model_hash": model_hash([tmesim.load_model(tmesim.preset_path(a.preset))]),
                     "command": "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                     "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
                                 "numba_threads": os.environ.get("NUMBA_NUM_THREADS")}, **r}
        stem = f"scale-{a.dims}d-{side}"
        atomic_write_text(a.out / f"{stem}.json", json.dumps(with_hash, indent=2) + "\n")
        atomic_write_text(a.out / f"{stem}.yaml", yaml.safe_dump(spec, sort_keys=False))
    return r


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
