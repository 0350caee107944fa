"""The Python entry points: :func:`simulate` a model with either engine into a run directory
that one reader (:class:`tmesim.io.Run`) reads, resume a run, run the whole body.

Long module: the entry points share the run-directory recording (locks, recorder, seed and
days checks); split the tissue and body entry points out if it grows further.

This module joins the engines (which compute) and ``tmesim.io`` (which stores); neither
knows about the other.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tmesim.units import MINUTES_PER_DAY

from .body import Patient, PatientOptions, PatientResult
from .engine import Engine, Simulation
from .engine.kernels import (
    E_DIVISION,
    E_FUSION,
    E_INTRAVASATION,
    E_KILLED,
    E_PHAGOCYTOSIS,
    E_TRANSITION,
    EVENT_NAMES,
    N_STATUS,
)
from .engine.summary import DEAD_NAMES, cell_states, population_rows, tissue_metrics
from .io import (
    NoCheckpoint,
    Run,
    RunDirectory,
    RunWriter,
    locked,
    read_checkpoint,
    read_config,
    resolved_config,
    write_table_run,
)
from .model import Model, ModelError, model_from_dict
from .units import MAX_SEED

# Names of the engine's status codes (ALIVE..GONE) for the cell tables.
STATUS_NAMES = np.array([DEAD_NAMES.get(code, "gone") for code in range(N_STATUS)], dtype=object)


class _Recorder:
    """Engine observer that turns engine state into run-directory records."""

    def __init__(self, writer: RunWriter) -> None:
        self.writer = writer

    def events(self, sim: Simulation) -> pd.DataFrame:
        ev = sim.take_events()
        cm = sim.cm
        names = np.array(cm.type_names, dtype=object)
        kind = ev["kind"].astype(int)
        arg = ev["arg"]
        intra = kind == E_INTRAVASATION
        by_other = (kind == E_KILLED) | (kind == E_TRANSITION) | (kind == E_PHAGOCYTOSIS) | (kind == E_FUSION)
        other = np.where(by_other, names[np.clip(arg, 0, len(names) - 1)], "")
        return pd.DataFrame({
            "time_days": (ev["step"] + 1) * cm.dt / MINUTES_PER_DAY,
            "event": np.array([EVENT_NAMES[k] for k in kind], dtype=object),
            "uid": ev["uid"].astype(np.int64), "cell_type": names[ev["ctype"]],
            "other_type": other.astype(object), "daughter_uid": np.where(kind == E_DIVISION, arg, -1).astype(np.int64),
            "x_um": (ev["x"] + 0.5) * cm.dx, "y_um": (ev["y"] + 0.5) * cm.dx, "z_um": (ev["z"] + 0.5) * cm.dx,
            "cluster_id": np.where(intra, arg, -1).astype(np.int64),
            **{v: np.where(intra, ev["state"][:, k], np.nan).astype(np.float32)
               for k, v in enumerate(cm.var_names)},
        })

    def on_output(self, sim: Simulation) -> None:
        cells = sim.cells()
        cm = sim.cm
        extra = [k for k in cells if k.startswith("custom:") or k == "damage"]
        df = pd.DataFrame({
            "time_days": np.full(len(cells["uid"]), sim.time / 1440.0),
            "uid": cells["uid"],
            "cell_type": pd.Categorical.from_codes(cells["type"], cm.type_names),
            "status": STATUS_NAMES[cells["dead"]].astype(str),
            "state": cell_states(sim, cells).astype(str),
            "x_um": (cells["x"] + 0.5) * cm.dx, "y_um": (cells["y"] + 0.5) * cm.dx,
            "z_um": (cells["z"] + 0.5) * cm.dx,
            **{v: cells[v] for v in cm.var_names},
            **{k: cells[k] for k in extra},
        })
        fields = {name: sim.fields[s] for s, name in enumerate(cm.substrate_names)}
        units = {s.name: s.unit for s in sim.model.substrates}
        self.writer.write_events(self.events(sim))
        self.writer.write_output(sim.time / MINUTES_PER_DAY, population_rows(sim), tissue_metrics(sim), df,
                                 fields, cm.dx, units)

    def on_checkpoint(self, sim: Simulation) -> None:
        self.writer.write_events(self.events(sim))
        self.writer.checkpoint(sim.get_state(), sim.time / MINUTES_PER_DAY, sim.step_index, sim.n)

    def finish(self, sim: Simulation) -> None:
        self.writer.write_events(self.events(sim))
        self.writer.finish(sim.get_state(), sim.time / MINUTES_PER_DAY, sim.step_index, sim.n)


def load_model_or_preset(model: str | Path | None = None, preset: str | None = None) -> Model:
    """The model in file ``model`` or the shipped preset ``preset`` (default: the TNBC model)."""
    from .model import load_model
    from .presets import DEFAULT, preset_path

    if model is not None and preset is not None:
        raise ModelError("MODEL", "give either a model file or --preset, not both")
    return load_model(model if model is not None else preset_path(preset or DEFAULT))


def new_run_path(model: Model | None, seed: int, out: str | Path | None = None) -> Path:
    """Where a new run goes: ``out`` if it is absent or empty, else an error; by default
    ``runs/<model>-seed<seed>-<local time>``."""
    import time

    from .io import LOCK_FILES

    if out is None:
        if model is None:
            raise ModelError("--out", "give a folder (or a model to name the default one)")
        out = Path("runs") / f"{model.name}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(out)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise ModelError("--out", f"{str(out)!r} cannot be a run directory: {str(p)!r} is a file")
    if out.exists() and any(p.name not in LOCK_FILES for p in out.iterdir()):
        raise ModelError("--out", f"{str(out)!r} exists and is not empty; choose another --out or use --resume {out}")
    return out


ENGINES: tuple[str, ...] = ("spatial", "meanfield")


def simulate(model: Model, engine: str = "spatial", days: float | None = None, seed: int = 0,
             out: str | Path | None = None, *, progress: Callable[[Simulation], None] | None = None,
             report: bool = False, contacts: object = None, origin: dict | None = None,
             notice: Callable[[str], None] | None = None, backend: str = "cpu") -> Run:
    """Simulate ``model`` with ``engine`` and return the run's reader.

    ``engine``: ``"spatial"`` (lattice agents and fields: one tumor section) or
    ``"meanfield"`` (the same rules as population ODEs; seconds for long runs). Both write a
    run directory at ``out`` (default: a temporary one, removed when the returned ``Run``
    is garbage-collected) that the same :class:`tmesim.io.Run` reads: ``summary()``,
    ``metrics()``, ``info``, ``config``, ``model()``; spatial runs also have ``cells()``,
    ``events()`` and ``fields()``. ``days`` defaults to the model's ``time.days``; the
    same ``seed`` and model give identical results. ``progress`` (spatial) is called with the
    engine as it runs; ``report`` writes ``report.html`` (spatial); ``contacts`` (mean-field)
    is a contact-enrichment table (:mod:`tmesim.cohort.contacts`); ``origin`` is recorded as
    ``origin:`` in config.yaml (where the initial tissue came from, see :func:`run_from_tissue`).
    ``backend`` (spatial): ``"cpu"`` (default) or ``"gpu"`` (the fields step on a CUDA device
    through CuPy, ``pip install 'tmesim[gpu]'``; same results, see docs/gpu.md).

    >>> import tmesim
    >>> m = tmesim.load_model(tmesim.preset_path("tnbc-core"))
    >>> run = tmesim.simulate(m, engine="meanfield", days=1)
    >>> run.engine, run.info["status"], sorted(run.summary().columns)[:3]
    ('meanfield', 'complete', ['cell_type', 'count', 'mean_emt'])
    """
    if isinstance(engine, int | float) and not isinstance(engine, bool):  # simulate(model, seed, days) of 0.x
        warnings.warn("tmesim.simulate(model, seed, days) returning a Simulation is deprecated; use "
                      "tmesim.simulate(model, days=..., seed=...) for a Run, or tmesim.engine.Simulation "
                      "for step-by-step control", DeprecationWarning, stacklevel=2)
        return Simulation(model, seed=int(engine)).run(days=days)  # type: ignore[return-value]
    if engine not in ENGINES:
        raise ModelError("engine", f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    check_backend(backend, engine)
    days = _days(model, days)
    seed = check_seed(seed)
    if out is None:
        path = Path(tempfile.mkdtemp(prefix=f"tmesim-{model.name}-"))
    else:
        from .io import LOCK_FILES

        path = Path(out)  # a folder holding only a lock: the lock says who is writing it
        if path.exists() and (not path.is_dir() or any(p.name not in LOCK_FILES for p in path.iterdir())):
            raise ModelError("out", f"{str(path)!r} exists and is not an empty folder; choose another")
    eng = new_engine(engine, model, seed, contacts, backend)
    if eng.kind == "spatial":
        _run_spatial(model, path, seed, days, progress, report, origin, notice, backend, sim=eng)  # type: ignore[arg-type]
    else:
        _record_table(eng, path, seed, days)
    result = Run(path)
    if out is None:
        weakref.finalize(result, shutil.rmtree, str(path), True)
    return result


def check_backend(backend: str, engine: str) -> None:
    """A known backend; "gpu" only for the spatial engine and only where CuPy sees a GPU
    (checked before any output is written)."""
    from .engine.gpu import BACKENDS, cuda_device

    if backend not in BACKENDS:
        raise ModelError("backend", f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "gpu":
        if engine != "spatial":
            raise ModelError("backend", "'gpu' runs the spatial engine's fields; the meanfield "
                                        "engine runs on the CPU (use backend 'cpu')")
        cuda_device()


def _days(model: Model, days: float | None) -> float:
    days = model.time.days if days is None else float(days)
    if not math.isfinite(days) or days <= 0:
        raise ModelError("days", f"must be a finite number > 0, got {days}")
    return days


def new_engine(kind: str, model: Model, seed: int = 0, contacts: object = None, backend: str = "cpu") -> Engine:
    """The engine ``kind`` (one of :data:`ENGINES`) for ``model``: what :func:`simulate` runs.
    ``seed`` seeds the spatial engine (the mean-field engine is deterministic); ``contacts``
    is the mean-field engine's contact enrichment; ``backend`` the spatial engine's
    (:func:`check_backend`)."""
    if kind == "spatial":
        return Simulation(model, seed=seed, backend=backend)
    if kind == "meanfield":
        from .meanfield import MeanField

        return MeanField(model, contacts=contacts)  # type: ignore[arg-type]
    raise ModelError("engine", f"unknown engine {kind!r}; allowed: {', '.join(ENGINES)}")


def _record_table(eng: Engine, out: Path, seed: int, days: float) -> None:
    """An engine that computes its whole time course at once (the mean-field engine),
    recorded as a run directory."""
    from ._version import __version__

    t0 = time.perf_counter()
    trajectory = eng.run(days=days)
    write_table_run(out, resolved_config(eng.model, seed, days, __version__, engine=eng.kind),
                    eng.summary(), trajectory, time.perf_counter() - t0)  # type: ignore[attr-defined]


def run(model: Model, out: str | Path, seed: int = 0, days: float | None = None,
        progress: Callable[[Simulation], None] | None = None, report: bool = True,
        origin: dict | None = None, notice: Callable[[str], None] | None = None) -> Run:
    """Deprecated: use ``tmesim.simulate(model, out=out, seed=seed, days=days, report=True)``."""
    warnings.warn("tmesim.run(model, out, ...) is deprecated; use tmesim.simulate(model, out=out, ...)",
                  DeprecationWarning, stacklevel=2)
    _run_spatial(model, Path(out), check_seed(seed), _days(model, days), progress, report, origin, notice)
    return Run(out)


def check_seed(seed: int, field: str = "seed") -> int:
    """A seed is a whole number in [0, 2^63 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise ModelError(field, f"must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def _run_spatial(model: Model, out: Path, seed: int, days: float,
                 progress: Callable[[Simulation], None] | None, report: bool, origin: dict | None = None,
                 notice: Callable[[str], None] | None = None, backend: str = "cpu",
                 sim: Simulation | None = None) -> None:
    """The spatial engine, recorded into a complete run directory at ``out``.

    The run directory is locked while written (a second writer gets an error naming this
    process); ``notice`` hears of a stale lock left by a killed run.
    """
    from ._version import __version__

    with locked(out, "run directory", "out", notice):
        sim = Simulation(model, seed=seed, backend=backend) if sim is None else sim
        config = resolved_config(model, seed, days, __version__)
        if origin:
            config["origin"] = origin  # where the initial tissue came from (e.g. a real section)
        writer = RunWriter(out, config)
        _finish(sim, writer, days, progress, report, out)


def _finish(sim: Simulation, writer: RunWriter, days: float, progress: Callable[[Simulation], None] | None,
            report: bool, out: str | Path) -> None:
    rec = _Recorder(writer)
    sim.run(days=days, observer=rec, progress=progress)
    rec.finish(sim)
    if report:
        from .viz.report import write_report

        write_report(out)



def resume_config(out: str | Path, days: float | None = None, seed: int | None = None) -> dict:
    """The configuration of the run in ``out`` that ``resume`` would continue; an error if
    ``days`` or ``seed`` (when given) differ from the run's own."""
    config = read_config(out, "resume")
    for name, given, have in (("days", days, float(config["days"])), ("seed", seed, int(config["seed"]))):
        if given is not None and float(given) != have:
            raise ModelError(name, f"the run in {str(out)!r} was started with --{name} {have:g}; --resume "
                                   f"continues that run, so give --{name} {have:g} or none (a different "
                                   f"--{name} needs a new run: --out another folder)")
    return config


def resume(out: str | Path, progress: Callable[[Simulation], None] | None = None,
           report: bool = True, days: float | None = None, seed: int | None = None,
           notice: Callable[[str], None] | None = None, backend: str = "cpu") -> RunDirectory:
    """Continue a killed run from its last checkpoint; the result equals an uninterrupted run.

    A run killed before its first checkpoint restarts from the beginning (same model, seed
    and days). ``days``/``seed``, when given, must equal the run's own: a resumed run is the
    run it continues, never a different one (start a new run for other settings).
    """
    out = Path(out)
    check_backend(backend, "spatial")
    config = resume_config(out, days, seed)
    with locked(out, "run directory", "resume", notice):
        model = model_from_dict(config["model"])
        sim = Simulation(model, seed=int(config["seed"]), backend=backend)
        try:
            config, meta, state = read_checkpoint(out)
        except NoCheckpoint:
            writer = RunWriter(out, config)  # killed before its first checkpoint: start again
        else:
            sim.set_state(state)
            writer = RunWriter(out, config, resume_state=meta)
        _finish(sim, writer, float(config["days"]), progress, report, out)
    return RunDirectory(out)


def run_body(out: str | Path, seed: int | None = None, options: PatientOptions | None = None,
             days: float | None = None) -> PatientResult:
    """The whole-body level on a finished run directory: its primary section's intravasation
    drives one patient's dissemination; tables are written to ``out/body/``.

    The run's own seed is used unless ``seed`` is given; ``days`` is the follow-up after
    diagnosis (default: the model's ``body.follow_up``).
    """
    rd = RunDirectory(out)
    with locked(out, "run directory", "body"):
        return _run_body(rd, Path(out), seed, options, days)


def _run_body(rd: RunDirectory, out: Path, seed: int | None, options: PatientOptions | None,
              days: float | None) -> PatientResult:
    from .body.primary import SheddingProfile, tumor_types
    from .io.body import write_body

    model = rd.model()
    if model.body is None:
        raise ModelError("body", "the model has no body: section; use a preset with one "
                                 "(tnbc, her2, luminal-a, luminal-b) or add one (see the README)")
    seed = int(rd.config["seed"]) if seed is None else int(seed)
    if model.body.coupling is not None:  # the run's own section sets the cascade
        section = rd.section(tuple(model.body.coupling.groups["tumor"]))
        res = Patient(model, seed, options, section=section).run(days)
    else:
        shed = SheddingProfile.from_run(rd.events(), rd.summary(), tumor_types(model))
        res = Patient(model, seed, options, shedding=shed).run(days)
    info = {
        "seed": seed, "diagnosis_day": res.diagnosis_day, "coupled": model.body.coupling is not None,
        "metastatic_sites": res.metastatic_sites(),
        "expected_metastases": res.expected_metastases,
        "shedding": res.shedding.as_dict(),
        "niches": {o: {"niche": n.niche, "engine": n.engine, "initial": n.initial, "final": n.final,
                       "days": n.days, "growth_per_day": n.growth_rate} for o, n in res.niches.items()},
    }
    write_body(out, res.tables(), info)
    return res


def tissue_start(model: Model, tissue: str | Path, labels: str | Path | None = None,
                 sample: str | None = None, site_um: float | None = None,
                 max_shift_um: float | None = None) -> tuple[Model, dict]:
    """``model`` started from a real section (see :mod:`tmesim.model.tissue`); returns the model
    and the origin record (file, checksum, sample, mapping, placement report)."""
    from .io.tissue import file_sha256, read_label_mapping, read_tissue
    from .model.tissue import DEFAULT_MAX_SHIFT_UM, DEFAULT_SITE_UM, tissue_model

    mapping = read_label_mapping(labels)
    cells = read_tissue(tissue, mapping, sample)
    m, report = tissue_model(model, cells["x_um"].to_numpy(), cells["y_um"].to_numpy(), cells["label"].to_numpy(),
                             mapping.map, site_um=site_um or DEFAULT_SITE_UM,
                             max_shift_um=DEFAULT_MAX_SHIFT_UM if max_shift_um is None else max_shift_um,
                             name=f"{model.name}-from-tissue")
    origin = {"kind": "tissue", "file": str(Path(tissue).resolve()), "sha256": file_sha256(tissue),
              "sample": str(cells["sample"].iloc[0]), "labels": mapping.path, "label_mapping": mapping.name,
              "base_model": model.name, "placement": report}
    return m, origin


def run_from_tissue(model: Model, tissue: str | Path, out: str | Path, labels: str | Path | None = None,
                    sample: str | None = None, seed: int = 0, days: float | None = None,
                    site_um: float | None = None, progress: Callable[[Simulation], None] | None = None,
                    report: bool = True) -> RunDirectory:
    """Simulate ``model`` forward from a real section; the run's config records its origin."""
    m, origin = tissue_start(model, tissue, labels, sample, site_um)
    _run_spatial(m, Path(out), check_seed(seed), _days(m, days), progress, report, origin)  # not the deprecated run()
    return Run(out)


def import_physicell(settings: str | Path, rules: str | Path | None = None,
                     cells: str | Path | None = None) -> tuple[Model, str, list[str]]:
    """A PhysiCell project as a tmesim model: (model, mapping report text, rule warnings).

    ``rules`` and ``cells`` default to the files the settings name (relative to the
    directory holding the settings file, or its parent, as PhysiCell runs from the project
    root). The report says what maps exactly, approximately or not at all.
    """
    from .io.physicell_settings import read_cells_csv, read_settings
    from .knowledge import import_physicell_rules

    settings = Path(settings)
    data, report, info = read_settings(settings)

    def locate(given: str | Path | None, named: Path | None) -> Path | None:
        if given is not None:
            return Path(given)
        if named is None:
            return None
        for base in (settings.parent.parent, settings.parent, Path.cwd()):
            if (base / named).is_file():
                return base / named
            if (base / named.name).is_file():
                return base / named.name
        report.unsupported.append(f"file {named} named by the settings was not found (pass it explicitly)")
        return None

    cells_path = locate(cells, info["cells_file"])
    if cells_path is not None:
        data["initial"] = read_cells_csv(cells_path, info["origin"], info["type_ids"], data["domain"]["dims"], report)
    else:
        report.unsupported.append("initial cells: none given (the model starts empty; add placements)")
    model = model_from_dict(data)
    warnings: list[str] = []
    rules_path = locate(rules, info["rules_file"])
    if rules_path is not None:
        if not rules_path.is_file():
            raise ModelError("rules", f"rules file {str(rules_path)!r} does not exist")
        res = import_physicell_rules(rules_path.read_text(), model, origin=str(rules_path),
                                     type_ids=info["type_ids"], exchange_scale=info["exchange_scale"])
        model, warnings = res.model, res.warnings
        n = len(res.rules)
        report.exact.append(f"rules: {n} rows of {rules_path.name} imported"
                            + (f", {len(res.warnings)} dropped or warned" if res.warnings else ""))
        report.approximate += res.approximate
        report.unsupported += [w for w in res.warnings if ": dropped " in w]
    if info["seed"] not in (None, ""):
        report.exact.append(f"random seed {info['seed']} -> pass --seed {info['seed']} to `tmesim run` "
                            "(streams differ from PhysiCell's)")
    return model, report.text(), warnings
