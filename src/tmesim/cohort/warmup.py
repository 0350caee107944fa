"""Compiling a cohort's numba kernels once, split over the workers, before any patient runs.

Every kernel of the engines is ``@njit(cache=True)``: numba writes the machine code to its
on-disk cache (``__pycache__/*.nbi`` index and ``*.nbc`` code beside the source, or under
``NUMBA_CACHE_DIR``), keyed by source file, function and argument types, and a process that
calls the kernel with the same types later loads it from there (milliseconds) instead of
compiling it (minutes for the largest). On a fresh checkout that cache is empty, and each dask
worker compiled every kernel itself, all workers the same kernels at the same time, before
its first patient.

:func:`warm_workers` splits the compilation into :data:`PARTS`, shares them out over the workers
(:func:`assign`, by compile cost) and runs them all at the same time, each part once, before the
runner submits any patient; each part runs
an engine on a tiny problem built from the cohort's own models (the mean-field section with the
arms' drugs and the trial's contact course; the spatial engine on the body model's organ
niches, and on the model itself for spatial sections), so exactly the argument types a patient
uses are compiled and written to the cache. The workers then load whatever they did not
compile from the cache. With a warm cache a part only loads its kernels. Results do not change:
the tiny runs are thrown away, and compiled code is the same whichever process compiles it.

Why hand-written rather than numba's ahead-of-time compilation (``numba.pycc``, deprecated) or
explicit signatures: the argument types (array layouts, tuples of tables) are whatever the
engines pass, and a real call is the one way to get them exact.

Limits: workers that do not share the client's file system (a remote ``--scheduler``) find only
the parts they compiled themselves and compile the rest when they need it, as before; a
``NUMBA_CACHE_DIR`` on a shared file system shares the cache. ``TMESIM_WARMUP=0`` turns the
step off.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tmesim.model import Model

if TYPE_CHECKING:
    import pandas as pd

    from tmesim.meanfield import ContactCourse

ENGINES = ("meanfield", "spatial")
MEANFIELD_DAYS = 2.0
SPATIAL_STEPS = 3
# Part → the spatial engine's schedule processes it runs ("meanfield": the mean-field section and
# the endpoints' rule response). COST: relative compile time of each part (the impassion130
# trial's models, empty cache, each schedule process's first call timed in one process on a
# loaded core: evaluate ~200, meanfield ~100, fields ~90, recruit ~50, act ~30 s); kernels.evaluate
# alone is ~40% of all, so it is shared out first (with two workers: evaluate + act | the rest).
PARTS: dict[str, tuple[str, ...]] = {
    "evaluate": ("evaluate_behaviours",),
    "meanfield": (),
    "fields": ("perfuse", "exchange_and_diffuse", "remodel_matrix"),
    "recruit": ("recruit",),
    "act": ("act", "exchange", "clear_dead"),
}
COST = {"evaluate": 2.0, "meanfield": 1.0, "fields": 0.9, "recruit": 0.5, "act": 0.3}
_WARMED: weakref.WeakKeyDictionary[Any, set[tuple[Any, ...]]] = weakref.WeakKeyDictionary()


def enabled() -> bool:
    return os.environ.get("TMESIM_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def _meanfield(model: Model, therapies: Iterable[list[str]], contacts: pd.DataFrame | ContactCourse | None) -> None:
    from tmesim.meanfield import MeanField

    from .endpoints import angiogenic_support
    from .patient import treated_model
    from .section import run_section

    treated = next((list(t) for t in therapies if t), None)
    for m in [model] + ([treated_model(model, treated, 0.0)] if treated else []):  # with drugs: the exposure kernel
        section = run_section(m, MEANFIELD_DAYS, "meanfield", contacts=contacts)
        angiogenic_support(section, m, 1.0)  # the rule response called from Python
        # BDF asks for the Jacobian on its first step (LSODA may not within two days)
        MeanField(m, contacts=contacts, method="BDF").run(days=0.1, t_eval=[0.0, 0.1])


def spatial_models(model: Model, engine: str) -> list[Model]:
    """The models a patient of ``model`` runs spatially: the body model's organ niches, and the
    model itself when the section is spatial."""
    models = [model] if engine == "spatial" else []
    if model.body is not None:
        from tmesim.body.niche import niche_model

        models += [niche_model(n) for n in sorted({o.niche for o in model.body.organs.values()})]
    return models


def _spatial(models: list[Model], processes: tuple[str, ...]) -> None:
    from tmesim.engine import Simulation
    from tmesim.engine.fields import SPLIT_THRESHOLD

    for m in models:
        sim = Simulation(m, seed=0)
        for step in range(SPATIAL_STEPS):  # a process's kernels, called as Simulation.step calls them
            sim._ne = 0  # events of the step so far (Simulation.step resets it the same way)
            sim.update_drugs()
            if "evaluate_behaviours" not in processes and step:
                # Without the rule evaluation no cell takes anything up, and every substrate took
                # the split scheme; an uptake above the split threshold also runs the coupled
                # (multigrid) solves of a patient's niches: on step 1 every substrate's (two side
                # by side on small grids, as oxygen and VEGF), on step 2 one substrate's alone.
                sim.solver.loss[:] = 0.0
                sim.solver.loss[: None if step == 1 else 1] = 2.0 * SPLIT_THRESHOLD / sim.cm.dt
            for name in sim.SCHEDULE:
                if name in processes:
                    getattr(sim, name)()
            sim.step_index += 1
            sim.time = sim.step_index * sim.cm.dt


def warm_part(model: Model, part: str, engine: str = "meanfield", therapies: Iterable[list[str]] = (),
              contacts: pd.DataFrame | ContactCourse | None = None) -> float:
    """Compile, or load from numba's cache, the kernels of one of :data:`PARTS` that a patient of
    ``model`` runs with ``engine`` (arms' ``therapies``, the trial's ``contacts``); seconds spent."""
    if engine not in ENGINES:
        raise ValueError(f"engine: {engine!r}; allowed: {', '.join(ENGINES)}")
    if part not in PARTS:
        raise ValueError(f"part: {part!r}; allowed: {', '.join(PARTS)}")
    t0 = time.perf_counter()
    if part == "meanfield":
        if engine == "meanfield":
            _meanfield(model, therapies, contacts)
    else:
        models = spatial_models(model, engine)
        if models:
            _spatial(models, PARTS[part])
    return time.perf_counter() - t0


def warm_up(model: Model, engine: str = "meanfield", therapies: Iterable[list[str]] = (),
            contacts: pd.DataFrame | ContactCourse | None = None) -> dict[str, float]:
    """Every part in this process, one after the other; seconds per part."""
    therapies = list(therapies)
    return {p: warm_part(model, p, engine, therapies, contacts) for p in PARTS}


def assign(parts: Iterable[str], workers: list[str]) -> dict[str, list[str]]:
    """Parts per worker: the costliest part first, each to the worker with the least so far."""
    load = {w: 0.0 for w in workers}
    out: dict[str, list[str]] = {w: [] for w in workers}
    for p in sorted(parts, key=lambda p: -COST[p]):
        w = min(workers, key=lambda w: load[w])
        out[w].append(p)
        load[w] += COST[p]
    return {w: ps for w, ps in out.items() if ps}


def _parts_task(model: Model, parts: list[str], engine: str, therapies: list[list[str]],
                contacts: pd.DataFrame | ContactCourse | None) -> dict[str, float]:
    return {p: warm_part(model, p, engine, therapies, contacts) for p in parts}


def warm_workers(client: Any, model: Any, engine: str = "meanfield", therapies: Iterable[list[str]] = (),
                 contacts: Any = None) -> dict[str, float]:
    """Run :data:`PARTS` on ``client``'s workers, split between them (:func:`assign`), and wait for
    them; seconds per part (empty when done before on this client for ``engine`` and ``therapies``, or turned off).
    ``model`` and ``contacts`` may be futures of scattered data."""
    if not enabled():
        return {}
    therapies = sorted({tuple(t) for t in therapies if t})
    done = _WARMED.setdefault(client, set())
    if (engine, *therapies) in done:
        return {}
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:
        return {}
    # Loose restrictions: a part whose worker died runs on another one (never waits for a worker
    # that is gone); a failed warm-up costs only its time, the patients report any real error.
    futs = [client.submit(_parts_task, model, parts, engine, [list(t) for t in therapies], contacts,
                          workers=[w], allow_other_workers=True, retries=1, pure=False,
                          key=f"warm-up-{'-'.join(parts)}-{os.urandom(4).hex()}")
            for w, parts in assign(PARTS, workers).items()]
    spent: dict[str, float] = {}
    try:
        for r in client.gather(futs):
            spent |= r
    except Exception as exc:  # noqa: BLE001 - an optimisation only; the run goes on without it
        logging.getLogger(__name__).warning("numba warm-up failed (%s: %s); workers compile on first use",
                                            type(exc).__name__, exc)
        return spent
    done.add((engine, *therapies))
    return spent


__all__ = ["COST", "ENGINES", "PARTS", "assign", "enabled", "spatial_models", "warm_part", "warm_up", "warm_workers"]
