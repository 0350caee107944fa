"""Running many virtual patients on dask.distributed, with per-patient results on disk.

* Cluster: a ``LocalCluster(n_workers, threads_per_worker=1, processes=True)`` by default
  (nothing to start by hand); ``scheduler="tcp://host:8786"`` uses an existing cluster
  (e.g. one started by dask-jobqueue's ``SLURMCluster``/``PBSCluster``: pass its
  ``scheduler_address``). Workers need tmesim installed, not the output folder: the client
  process writes every file.
* Results: ``<out>/patients/<arm>/patient_<id>.parquet``, one row each, written atomically
  (temp file + rename) as each patient finishes (the folder format: :mod:`tmesim.io.trial`). A re-run with the same configuration skips
  patients whose file exists (resume); a different configuration in the same folder is an error.
* Batches: a large run goes to the workers a few patients per task (:func:`batches`), each
  patient still written to its own file.
* Failures: a task whose worker dies is re-run by the scheduler elsewhere (``retries``);
  since a patient's file name is its identity, a patient is never lost or written twice.
* Reproducibility: patient ``i``'s parameters and seed come from child ``i`` of
  ``SeedSequence(seed)`` and the engines are deterministic given that seed, so results do
  not depend on the number of workers or on the order in which patients finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tmesim.io.trial import check_config, config_hash, patient_path, write_atomic
from tmesim.io.trial import collect as _collect
from tmesim.model import Model, ModelError

if TYPE_CHECKING:
    from tmesim.meanfield import ContactCourse

from .endpoints import EndpointConfig
from .patient import reference_kill_rate, run_patient
from .warmup import warm_workers

Progress = Callable[[int, int], None]


@dataclass
class Job:
    """One patient in one arm."""

    arm: str
    row: dict[str, Any]
    therapies: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return int(self.row["patient_id"])


@contextlib.contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None, connect_timeout: float = 5.0) -> Iterator[Any]:
    """A dask.distributed Client: to ``scheduler`` if given (an error after ``connect_timeout``
    seconds if it cannot be reached), else to a new local process cluster whose workers exit
    when this process does."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ModelError("--scheduler", f"cannot reach the dask scheduler {scheduler!r} within "
                                            f"{connect_timeout:g} s ({type(exc).__name__}); give a running "
                                            "scheduler's address, e.g. tcp://host:8786, or none for local workers") from None
        try:
            yield client
        finally:
            with _quiet_shutdown():
                client.close()
        return
    if int(workers) < 1:
        raise ModelError("--workers", f"must be at least 1, got {workers}")
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    from ._exit_plugin import ExitWithParent

    # Workers of a local cluster die with this process (even on kill -9, which runs no cleanup).
    client.register_plugin(ExitWithParent(os.getpid()), name="tmesim-exit-with-parent")
    try:
        yield client
    finally:
        with _quiet_shutdown():
            client.close()
            cluster.close()


@contextlib.contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """Closing a cluster makes distributed log connection errors of comms already closed
    (CommClosedError and a traceback) although nothing failed; silence them for the close."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)



SETTINGS = ("primary", "metastatic")


def _task(model: Model, job: Job, cfg: EndpointConfig, engine: str, contacts: pd.DataFrame | ContactCourse | None,
          setting: str = "primary") -> pd.DataFrame:
    if setting == "metastatic":
        from .metastatic import run_metastatic_patient

        return run_metastatic_patient(model, job.row, job.arm, job.therapies, cfg, engine, contacts)
    return run_patient(model, job.row, job.arm, job.therapies, cfg, engine, contacts)


def _batch_task(model: Model, jobs: list[Job], cfg: EndpointConfig, engine: str,
                contacts: pd.DataFrame | ContactCourse | None, setting: str = "primary") -> list[pd.DataFrame]:
    return [_task(model, j, cfg, engine, contacts, setting) for j in jobs]


# Patients per dask task: a task costs the scheduler and this process ~10 ms, ~5% of a mean-field
# patient, so a large cohort goes in batches; small enough that every worker gets several
# (load balance, and a killed worker re-runs at most this many patients).
MAX_BATCH = 8
BATCHES_PER_WORKER = 4


def batches(todo: list[Job], workers: int) -> list[list[Job]]:
    """``todo`` in consecutive batches of at most :data:`MAX_BATCH` jobs, at least
    :data:`BATCHES_PER_WORKER` batches per worker where there are jobs enough (1 job each for small runs)."""
    size = max(1, min(MAX_BATCH, len(todo) // max(1, BATCHES_PER_WORKER * workers)))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def _screen_task(model: Model, row: dict[str, Any], cfg: EndpointConfig, engine: str,
                 contacts: pd.DataFrame | ContactCourse | None) -> float:
    from .metastatic import screen_patient

    return screen_patient(model, row, cfg, engine, contacts)


def _course(c: Any, model: Model, contacts: pd.DataFrame | ContactCourse | None) -> Any:
    """The contact enrichment as a course, scattered once to the workers (None stays None)."""
    if contacts is None:
        return None
    from tmesim.meanfield import ContactCourse

    course = contacts if isinstance(contacts, ContactCourse) else ContactCourse.from_table(model.cell_type_names, contacts)
    return c.scatter(course, broadcast=True, hash=False)


def screen_rows(model: Model, rows: list[dict[str, Any]], cfg: EndpointConfig, client: Any, engine: str = "meanfield",
                retries: int = 3, contacts: pd.DataFrame | ContactCourse | None = None,
                therapies: list[list[str]] | None = None) -> list[float]:
    """Entry day from diagnosis of each candidate (NaN: not eligible) for the metastatic setting
    (:func:`tmesim.cohort.metastatic.screen_patient`), computed on ``client``'s workers.
    ``therapies``: the arms' therapies, compiled with the rest before screening starts
    (:func:`tmesim.cohort.warmup.warm_workers`)."""
    if not rows:
        return []
    mfut = client.scatter(model, broadcast=True, hash=False)
    course = _course(client, model, contacts)
    warm_workers(client, mfut, engine, therapies or [], course)  # numba once, split over the workers
    futs = client.map(_screen_task, [mfut] * len(rows), rows, [cfg] * len(rows), [engine] * len(rows),
                      [course] * len(rows), pure=False, retries=retries)
    return [float(x) for x in client.gather(futs)]


def run_jobs(model: Model, jobs: list[Job], out: str | Path, cfg: EndpointConfig, engine: str = "meanfield",
             workers: int = 2, scheduler: str | None = None, client: Any = None, retries: int = 3,
             progress: Progress | None = None, contacts: pd.DataFrame | ContactCourse | None = None,
             setting: str = "primary") -> pd.DataFrame:
    """Run ``jobs`` (skipping those with a result file), write each result as it finishes, and
    return all results (finished earlier or now) as one table sorted by arm and patient.

    ``contacts``: contact enrichment for mean-field sections (:mod:`tmesim.cohort.contacts`);
    ``setting``: ``primary`` (:func:`run_patient`) or ``metastatic``
    (:func:`tmesim.cohort.metastatic.run_metastatic_patient`)."""
    if setting not in SETTINGS:
        raise ModelError("setting", f"{setting!r}; allowed: {', '.join(SETTINGS)}")
    out = Path(out)
    todo = [j for j in jobs if not patient_path(out, j.arm, j.pid).exists()]
    done = len(jobs) - len(todo)
    if progress:
        progress(done, len(jobs))
    if todo:
        ctx = contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)
        with ctx as c:
            from distributed import as_completed

            mfut = c.scatter(model, broadcast=True, hash=False)  # a fresh key: a released earlier scatter of the same model cannot take it away
            contacts = _course(c, model, contacts)  # read the table once, send it once
            warm_workers(c, mfut, engine, [j.therapies for j in todo], contacts)  # numba once, split over the workers
            if cfg.immune_control and cfg.reference_kill_rate is None:  # k_ref once, not per patient
                k_ref = reference_kill_rate(model, cfg, engine, contacts, mapper=lambda f, models, *args: c.gather(
                    c.map(f, [mfut] * len(models), *args, pure=False, retries=retries)))  # the scattered model
                cfg = replace(cfg, reference_kill_rate=k_ref)
            n_workers = len(c.scheduler_info().get("workers", {})) or int(workers)
            futs = {c.submit(_batch_task, mfut, bj, cfg, engine, contacts, setting,
                             key=f"patients-{bj[0].arm}-{bj[0].pid}-{len(bj)}-{os.urandom(4).hex()}",
                             retries=retries, pure=False): bj for bj in batches(todo, n_workers)}
            for fut in as_completed(futs):
                for j, df in zip(futs[fut], fut.result(), strict=True):
                    write_atomic(df, patient_path(out, j.arm, j.pid))
                    done += 1
                    if progress:
                        progress(done, len(jobs))
                fut.release()
    return collect(out, jobs)


def collect(out: str | Path, jobs: list[Job] | None = None) -> pd.DataFrame:
    """All per-patient files (of ``jobs``, or every file) as one table."""
    return _collect(out, [patient_path(Path(out), j.arm, j.pid) for j in jobs] if jobs is not None else None)


__all__ = ["SETTINGS", "Job", "check_config", "screen_rows", "collect", "config_hash", "dask_client", "patient_path", "run_jobs", "write_atomic"]
