"""Engine throughput: agent-updates/s and voxel-updates/s on synthetic models.

A synthetic model with 4 substrates (oxygen, VEGF, TGF-β, IFN-γ), 5 cell types and the full
rule machinery (substrate, contact, pressure and state-variable signals; division, death,
transformation, migration with chemotaxis, secretion/uptake, attack) is filled to ~80 % of
the lattice with N cells, N = 1e4, 1e5, 1e6, in 2D and 3D.

* agent-update: one cell advanced one whole step (all processes, fields included);
* voxel-update: one voxel of one substrate advanced one step (the diffusion process alone).

Ceilings measured in the same run, on the same lattice and cell arrays, so their ratios are
meaningful on a loaded machine where absolute rates are not:

* bare lattice kernel (:func:`bare_kernel`): the least work any agent engine does per cell and
  step, as one numba ``prange`` loop over the cells: read every substrate at the cell's site,
  count its occupied Moore neighbours, one Hill response of oxygen with a float power (as the
  rules use), one counter-based uniform against ``1 − exp(−rate·dt)`` and one uptake write.
  "agent / bare" is the engine's agent phase (cells only: every process but the fields step)
  over this kernel's cell-updates/s.
* "coupled / LOD": voxel-updates/s of the coupled oxygen solve (multigrid) over those of the
  operator-split LOD diffusion path of the other substrates; "fast": the same for the model
  option ``field_solve: fast`` (tolerance 1e-3), measured by a second field solver that is
  fed the same cells' exchange every step and advances its own copy of the fields.

Usage: python benchmarks/engine.py [--sizes 1e4,1e5,1e6] [--dims 2,3] [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

import tmesim  # noqa: E402
from tmesim.engine import (
    Simulation,  # noqa: E402
    rng,  # noqa: E402
)
from tmesim.engine.fields import FieldSolver, coupled_accept, coupled_tolerance  # noqa: E402
from tmesim.model import model_from_dict  # noqa: E402


def synthetic_model(n_cells: float, dims: int) -> tmesim.Model:
    side = int(round((n_cells / 0.8) ** (1 / dims)))
    cyt = {"diffusion": "3000 um^2/min", "decay": "0.02 1/min", "boundary": "dirichlet"}
    rules = [
        ("tumor", "oxygen", "increases", "cycle entry", 8e-4, 10, 4),
        ("tumor", "pressure", "decreases", "cycle entry", 0, 0.85, 4),
        ("tumor", "oxygen", "decreases", "necrosis", 0, 3.75, 8),
        ("tumor", "oxygen", "decreases", "vegf secretion", 0, 10, 4),
        ("tumor", "tgfb", "increases", "emt increase", 2e-3, 1, 2),
        ("tumor", "emt", "increases", "migration speed", 0.5, 0.5, 4),
        ("tumor", "ifng", "increases", "pdl1 increase", 2e-3, 1, 2),
        ("tumor", "pdl1", "decreases", "immunogenicity to tcell", 0.1, 0.5, 2),
        ("endothelium", "vegf", "increases", "cycle entry", 5e-4, 2, 2),
        ("fibroblast", "contact with tumor", "increases", "transform to caf", 2e-4, 0.1, 1),
        ("fibroblast", "tgfb", "increases", "transform to caf", 5e-4, 1, 2),
        ("tcell", "neighbour pdl1", "increases", "exhaustion increase", 5e-3, 0.3, 2),
        ("tcell", "exhaustion", "decreases", "attack tumor", 0, 0.5, 4),
    ]
    d = {
        "name": f"bench{dims}d",
        "domain": {"dims": dims, "shape": [side] * dims, "site_size": "20 um"},
        "time": {"dt": "6 min", "days": 1},
        "state_variables": ["emt", "pdl1", "exhaustion"],
        "substrates": [
            {"name": "oxygen", "unit": "mmHg", "diffusion": "1e5 um^2/min", "decay": "0.1 1/min",
             "boundary": "dirichlet", "boundary_value": 38, "initial": 38},
            {"name": "vegf", **cyt}, {"name": "tgfb", **cyt}, {"name": "ifng", **cyt},
        ],
        "cell_types": [
            {"name": "tumor", "initial_state": {"emt": 0.05, "pdl1": 0.2},
             "behaviours": {"cycle entry": 7e-5, "apoptosis": 5e-5, "necrosis": 2.8e-3, "oxygen uptake": 10,
                            "vegf secretion": 0.03, "vegf secretion target": 50, "emt decrease": 1e-4,
                            "pdl1 decrease": 2e-4, "chemotactic response to tgfb": 0.3}},
            {"name": "endothelium", "vessel": True,
             "behaviours": {"oxygen secretion": 50, "oxygen secretion target": 38, "vegf uptake": 0.02}},
            {"name": "fibroblast", "behaviours": {"migration speed": 0.1}},
            {"name": "caf", "behaviours": {"tgfb secretion": 0.02, "tgfb secretion target": 50, "migration speed": 0.2}},
            {"name": "tcell", "behaviours": {"migration speed": 3, "attack tumor": 5e-3, "ifng secretion": 0.02,
                                             "ifng secretion target": 50, "apoptosis": 1e-4, "recruitment": 1e-6}},
        ],
        "rules": [dict(zip(("cell_type", "signal", "direction", "behaviour", "saturation", "half_max", "hill_power"), r,
                           strict=True)) for r in rules],
        "initial": [
            {"cell_type": "endothelium", "density": 60 if dims == 2 else 3000},
            {"cell_type": "tumor", "region": "disc", "radius": side * 20 * 0.35, "fraction": 1.0},
            {"cell_type": "fibroblast", "fraction": 0.5},
            {"cell_type": "caf", "fraction": 0.3},
            {"cell_type": "tcell", "fraction": 0.3},
        ],
    }
    return model_from_dict(d)


@njit(parallel=True, cache=True)
def _bare_step(n, cx, cy, cz, dead, occ, offs, fields, loss, nx, ny, nz, seed, step, uid, fate, dt, power):
    S = fields.shape[0]
    for i in prange(n):
        if dead[i] != 0:
            continue
        x, y, z = cx[i], cy[i], cz[i]
        site = (z * ny + y) * nx + x
        tot = 0.0
        for s in range(S):
            tot += fields[s, site]
        nbr = 0
        for k in range(offs.shape[0]):
            xx, yy, zz = x + offs[k, 0], y + offs[k, 1], z + offs[k, 2]
            if 0 <= xx < nx and 0 <= yy < ny and 0 <= zz < nz and occ[(zz * ny + yy) * nx + xx] >= 0:
                nbr += 1
        o2 = fields[0, site]
        q = (o2 / 10.0) ** power if o2 > 0.0 else 0.0  # a run-time float power, as in the rules
        rate = 1e-4 * q / (1.0 + q) + 1e-6 * nbr + 1e-9 * tot
        fate[i] = rng.uniform(seed, step, uid[i], rng.FATE) < 1.0 - np.exp(-rate * dt)
        loss[site] = 10.0 + rate


def bare_kernel(sim: Simulation) -> Callable[[int], float]:
    """One pass of ``_bare_step`` on the simulation's own lattice and cells; returns seconds.
    ``bench`` runs it after every engine step, so both see the same machine load."""
    fate = np.zeros(sim.nsites, np.int8)
    loss = np.zeros(sim.nsites, np.float32)
    L, cm = sim.lattice, sim.cm
    fields = sim.fields.reshape(cm.n_sub, -1)

    def run(k: int) -> float:
        t = time.perf_counter()
        _bare_step(sim.n, sim.cx, sim.cy, sim.cz, sim.dead, sim.occ, L.offs, fields, loss, L.nx, L.ny, L.nz,
                   sim.seed, k, sim.uid, fate, cm.dt, 4.0)
        return time.perf_counter() - t

    run(0)  # compile / warm up
    return run


def bench(n: float, dims: int, steps: int) -> dict[str, float]:
    model = synthetic_model(n, dims)
    sim = Simulation(model, seed=1)
    sim.step()  # compile / warm up
    sim.step()
    per: dict[str, float] = dict.fromkeys(sim.SCHEDULE, 0.0)
    sim.solver.stats.update(split_s=0.0, split_voxels=0, coupled_s=0.0, coupled_voxels=0)
    cells = 0
    bare_run = bare_kernel(sim)
    bare_s = 0.0
    bare_cells = 0
    wall = 0.0
    fast = FieldSolver(sim.cm)  # field_solve: fast, on the same cells' exchange
    fast.tolerance = coupled_tolerance("fast")
    fast.accept = coupled_accept("fast")
    fast.gain, fast.loss = sim.solver.gain, sim.solver.loss
    fast_fields = sim.fields.copy()
    fast.advance(fast_fields)  # warm up
    fast.stats.update(split_s=0.0, split_voxels=0, coupled_s=0.0, coupled_voxels=0)
    fast_cycles = 0
    for _ in range(steps):
        t0 = time.perf_counter()
        sim._ne = 0
        cells += sim.n
        for name in sim.SCHEDULE:
            t = time.perf_counter()
            getattr(sim, name)()
            per[name] += time.perf_counter() - t
        sim.step_index += 1
        sim.time = sim.step_index * sim.cm.dt
        wall += time.perf_counter() - t0
        bare_cells += sim.n
        bare_s += bare_run(sim.step_index)
        fast.advance(fast_fields)
        fast_cycles += int(fast.last_iterations[fast.coupled].sum())
    voxels = sim.nsites * sim.cm.n_sub * steps
    st = sim.solver.stats
    bare = bare_cells / bare_s
    cells_only = cells / (wall - per["exchange_and_diffuse"])
    split = st["split_voxels"] / max(st["split_s"], 1e-12)
    coupled = st["coupled_voxels"] / max(st["coupled_s"], 1e-12)
    fst = fast.stats
    coupled_fast = fst["coupled_voxels"] / max(fst["coupled_s"], 1e-12)
    return {"bare_kernel_updates_per_s": bare, "agent_over_bare": cells_only / bare,
            "coupled_over_lod": coupled / split if st["split_voxels"] else float("nan"),
            "fast_coupled_over_lod": coupled_fast / split if st["split_voxels"] else float("nan"),
            "fast_cycles_per_solve": fast_cycles / max(steps * int(fast.coupled.sum()), 1),
            "n_cells": sim.n, "sites": sim.nsites, "agent_updates_per_s": cells / wall,
            "agent_updates_per_s_cells_only": cells_only,
            "voxel_updates_per_s": voxels / per["exchange_and_diffuse"], "ms_per_step": 1e3 * wall / steps,
            **{f"ms_{k}": 1e3 * v / steps for k, v in per.items()},
            "coupled_substrates": int(sim.solver.coupled.sum()),
            "split_voxel_updates_per_s": split, "coupled_voxel_updates_per_s": coupled}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1e4,1e5,1e6")
    ap.add_argument("--dims", default="2,3")
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    last = None
    ratios = []
    for dims in (int(x) for x in args.dims.split(",")):
        for n in (float(x) for x in args.sizes.split(",")):
            r = bench(n, dims, args.steps)
            ratios.append(f"{dims}D {r['sites']:,} sites {100 * r['coupled_over_lod']:.1f}% / "
                          f"{100 * r['fast_coupled_over_lod']:.1f}%")
            print(f"{dims}D N={r['n_cells']:>9,} sites={r['sites']:>9,}  {r['ms_per_step']:8.1f} ms/step  "
                  f"agent-updates/s {r['agent_updates_per_s']:.2e} (cells only {r['agent_updates_per_s_cells_only']:.2e})  "
                  f"voxel-updates/s {r['voxel_updates_per_s']:.2e} (LOD path {r['split_voxel_updates_per_s']:.2e}, "
                  f"coupled oxygen {r['coupled_voxel_updates_per_s']:.2e})  "
                  f"bare kernel {r['bare_kernel_updates_per_s']:.2e}  agent/bare {100 * r['agent_over_bare']:.1f}%  "
                  f"coupled/LOD {100 * r['coupled_over_lod']:.1f}% (fast {100 * r['fast_coupled_over_lod']:.1f}%, "
                  f"{r['fast_cycles_per_solve']:.2f} V-cycles/solve)  [" + " ".join(
                      f"{k[3:]} {v:.1f}" for k, v in r.items() if k.startswith("ms_") and k != "ms_per_step") + " ms]",
                  flush=True)
            if dims == 2:
                last = r
    if last is not None:
        print(f"SUMMARY 2D N={last['n_cells']:,}: agent-updates/s {last['agent_updates_per_s']:.3e}, "
              f"voxel-updates/s {last['voxel_updates_per_s']:.3e} (LOD path {last['split_voxel_updates_per_s']:.3e}, "
              f"coupled {last['coupled_voxel_updates_per_s']:.3e}); agent phase (cells only) / bare kernel "
              f"{100 * last['agent_over_bare']:.1f}% (target >= 35%); coupled oxygen / LOD "
              f"{100 * last['coupled_over_lod']:.1f}%, field_solve fast {100 * last['fast_coupled_over_lod']:.1f}% "
              f"(target >= 25%)")
    print("coupled oxygen / LOD, default / field_solve fast: " + "; ".join(ratios))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
