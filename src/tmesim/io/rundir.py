"""The run directory: the on-disk contract between engines, readouts and users.

Long module: the writer and the reader of one format, kept side by side so they change
together.

Layout (format version 1, recorded in ``config.yaml`` and ``run.json``; see ``versions``)::

    config.yaml        resolved model + run settings (seed, days, tmesim version)
    run.json           status, format version, wall time, outputs written
    summary.parquet    time_days, cell_type, state, count, mean_<state variable>
    metrics.parquet    time_days and tissue readouts (substrate means, hypoxic fraction, ...)
    events.parquet     time_days, event, uid, cell_type, arg, x_um, y_um, z_um
    cells/             one parquet snapshot per output time (cells_day_<dddd.dd>.parquet), with a
                       time_days column
    fields.zarr        xarray Dataset: one variable per substrate, dims (time, z, y, x), µm/days;
                       consolidated metadata
    checkpoint/        CURRENT names the committed checkpoint folder step-<n>-<id>/ holding the
                       engine state (state.npz) and writer state (writer.json)
    report.html        the run report

Every file is written atomically; a killed run resumed from its last checkpoint rewrites
the outputs after that checkpoint and ends with the same files as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tmesim.model import Model, ModelError, model_from_dict

from .atomic import atomic_write, atomic_write_json, atomic_write_text
from .versions import RUN_FORMAT, check_format

FORMAT_VERSION = RUN_FORMAT
CURRENT = "CURRENT"  # checkpoint/CURRENT names the committed checkpoint folder
# libyaml's safe loader and dumper where PyYAML was built with it: config.yaml holds the whole
# resolved model, which the pure-Python parser takes seconds to read.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False))


def resolved_config(model: Model, seed: int, days: float, version: str, engine: str = "spatial") -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tmesim_version": version,
        "engine": engine,
        "seed": int(seed),
        "days": float(days),
        "model": model.model_dump(mode="json"),
    }


class RunWriter:
    """Writes a simulation's outputs into a run directory (an engine Observer)."""

    def __init__(self, path: str | Path, config: dict[str, Any], resume_state: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.started = time.time()
        self.summary_rows: list[dict] = []
        self.metric_rows: list[dict] = []
        self.event_parts = 0
        self.outputs = 0  # field/cell snapshots written
        self.wall_before = 0.0
        if resume_state is None:
            self.path.mkdir(parents=True, exist_ok=True)
            # config.yaml first: from then on the folder is a run directory that --resume can
            # continue (or restart, if no checkpoint was written yet); a restart starts clean.
            atomic_write_text(self.path / "config.yaml", yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True))
            for name in ("cells", "events", "checkpoint", "fields.zarr"):
                shutil.rmtree(self.path / name, ignore_errors=True)
            for name in ("summary.parquet", "metrics.parquet", "events.parquet"):
                (self.path / name).unlink(missing_ok=True)
            for name in ("cells", "events", "checkpoint"):
                (self.path / name).mkdir(exist_ok=True)
            self._status("running")
        else:
            self._restore(resume_state)

    # ------------------------------------------------------------------ writes
    def write_output(self, time_days: float, summary_rows: list[dict], metrics: dict[str, float],
                     cells: pd.DataFrame, fields: dict[str, np.ndarray], dx: float,
                     units: dict[str, str]) -> None:
        """Store one output time: population rows, tissue metrics, a cell snapshot, fields."""
        self.summary_rows += summary_rows
        self.metric_rows.append(metrics)
        _write_parquet(cells, self.path / "cells" / f"cells_day_{time_days:07.2f}.parquet")
        self._append_fields(time_days, fields, dx, units)
        self.outputs += 1
        _write_parquet(pd.DataFrame(self.summary_rows), self.path / "summary.parquet")
        _write_parquet(pd.DataFrame(self.metric_rows), self.path / "metrics.parquet")

    def write_events(self, events: pd.DataFrame) -> None:
        """Store the events since the last call as one more part (merged at the end)."""
        if len(events):
            _write_parquet(events, self.path / "events" / f"part-{self.event_parts:06d}.parquet")
            self.event_parts += 1

    def checkpoint(self, state: dict[str, np.ndarray], time_days: float, step: int, n_cells: int) -> None:
        """Write a new checkpoint beside the current one, then switch ``checkpoint/CURRENT`` to
        it in one atomic rename (the commit point), then delete the older ones."""
        folder = self.path / "checkpoint"
        folder.mkdir(exist_ok=True)
        name = f"step-{step:09d}-{uuid.uuid4().hex[:8]}"
        tmp = folder / f".{name}.tmp"
        tmp.mkdir()
        np.savez(tmp / "state.npz", **state)
        (tmp / "writer.json").write_text(json.dumps({
            "event_parts": self.event_parts, "outputs": self.outputs,
            "time_days": time_days, "step": step,
            "wall_seconds": self.wall_before + time.time() - self.started,
        }, allow_nan=False))
        os.replace(tmp, folder / name)
        atomic_write_text(folder / CURRENT, name + "\n")
        for old in folder.iterdir():
            if old.name not in (name, CURRENT):  # older checkpoints, a killed one's temporary folder
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)  # a pre-pointer layout's state.npz / writer.json
        self._status("running", time_days, n_cells)

    def finish(self, state: dict[str, np.ndarray], time_days: float, step: int, n_cells: int) -> None:
        parts = sorted((self.path / "events").glob("part-*.parquet"))
        frames = [pd.read_parquet(p) for p in parts]
        events = pd.concat(frames, ignore_index=True) if frames else _empty_events()
        _write_parquet(events, self.path / "events.parquet")
        self.checkpoint(state, time_days, step, n_cells)
        self._status("complete", time_days, n_cells)

    # --------------------------------------------------------------- helpers
    def _append_fields(self, day: float, fields: dict[str, np.ndarray], dx: float, units: dict[str, str]) -> None:
        import xarray as xr

        nz, ny, nx = next(iter(fields.values())).shape
        ds = xr.Dataset(
            {name: (("time", "z", "y", "x"), arr[None].copy(), {"units": units[name]}) for name, arr in fields.items()},
            coords={"time": ("time", [day], {"units": "days"}),
                    "z": ("z", (np.arange(nz) + 0.5) * dx, {"units": "µm"}),
                    "y": ("y", (np.arange(ny) + 0.5) * dx, {"units": "µm"}),
                    "x": ("x", (np.arange(nx) + 0.5) * dx, {"units": "µm"})},
        )
        store = self.path / "fields.zarr"
        # Consolidated metadata: readers (xarray, zarr, cloud stores) open the store with one read.
        with _quiet_zarr():
            if self.outputs == 0 or not store.exists():
                ds.to_zarr(store, mode="w", consolidated=True)
            else:
                ds.to_zarr(store, append_dim="time", consolidated=True)

    def _status(self, status: str, time_days: float | None = None, n_cells: int | None = None) -> None:
        info: dict[str, Any] = {"status": status, "format_version": FORMAT_VERSION, "outputs": self.outputs,
                                "wall_seconds": round(self.wall_before + time.time() - self.started, 3)}
        if time_days is not None:
            info["time_days"] = time_days
            info["n_cells"] = n_cells
        atomic_write_json(self.path / "run.json", info)

    def _restore(self, meta: dict[str, Any]) -> None:
        """Roll the outputs back to the checkpoint: later rows, parts and snapshots go."""
        t = meta["time_days"]
        self.event_parts = int(meta["event_parts"])
        self.outputs = int(meta["outputs"])
        self.wall_before = float(meta.get("wall_seconds", 0.0))
        for p in (self.path / "events").glob("part-*.parquet"):
            if int(p.stem.split("-")[1]) >= self.event_parts:
                p.unlink()
        (self.path / "events.parquet").unlink(missing_ok=True)
        eps = 1e-9
        for name, rows in (("summary", "summary_rows"), ("metrics", "metric_rows")):
            f = self.path / f"{name}.parquet"
            if f.exists():
                df = pd.read_parquet(f)
                setattr(self, rows, df[df.time_days <= t + eps].to_dict("records"))
        for p in (self.path / "cells").glob("cells_day_*.parquet"):
            if float(p.stem.removeprefix("cells_day_")) > t + eps:
                p.unlink()
        import zarr

        store = self.path / "fields.zarr"
        if store.exists():
            group = zarr.open_group(str(store), mode="r+")
            for name, arr in group.arrays():
                if name == "time" or arr.ndim == 4:  # the substrates and the time coordinate
                    arr.resize((self.outputs,) + arr.shape[1:])
            with _quiet_zarr():
                zarr.consolidate_metadata(str(store))


@contextlib.contextmanager
def _quiet_zarr() -> Iterator[None]:
    """zarr 3 warns that consolidated metadata is not in its v3 spec yet; xarray and zarr read it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def write_table_run(path: str | Path, config: dict[str, Any], summary: pd.DataFrame, metrics: pd.DataFrame,
                    wall_seconds: float) -> None:
    """A run directory from whole tables (the mean-field engine): ``config.yaml``,
    ``summary.parquet``, ``metrics.parquet`` and ``run.json`` (written last: it marks the run complete)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    _write_parquet(summary, path / "summary.parquet")
    _write_parquet(metrics, path / "metrics.parquet")
    last = summary[(summary["state"] == "live") & (summary["time_days"] == summary["time_days"].max())]
    info = {"status": "complete", "format_version": FORMAT_VERSION, "engine": config.get("engine", ""),
            "outputs": int(summary["time_days"].nunique()), "wall_seconds": round(float(wall_seconds), 3),
            "time_days": float(config["days"]), "n_cells": int(round(float(last["count"].sum())))}
    atomic_write_json(path / "run.json", info)


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
        ("time_days", float), ("event", object), ("uid", np.int64), ("cell_type", object),
        ("other_type", object), ("daughter_uid", np.int64), ("x_um", float), ("y_um", float), ("z_um", float))})


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """(config, writer meta, engine state) of a run directory's last checkpoint."""
    path = Path(path)
    config = read_config(path, "resume")
    ckpt = checkpoint_dir(path)
    if ckpt is None:
        raise NoCheckpoint("resume", f"{str(path)!r} has no checkpoint yet; run it again from the start")
    try:
        meta = json.loads((ckpt / "writer.json").read_text())
        with np.load(ckpt / "state.npz") as f:
            state = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError("resume", f"checkpoint {str(ckpt)!r} cannot be read ({exc}); run it again from the start") from None
    return config, meta, state


class NoCheckpoint(ModelError):
    """A run directory whose run was stopped before its first checkpoint."""


def checkpoint_dir(path: str | Path) -> Path | None:
    """The folder of a run directory's committed checkpoint (None if there is none)."""
    folder = Path(path) / "checkpoint"
    try:
        name = (folder / CURRENT).read_text().strip()
    except OSError:
        # the layout before CURRENT existed (format 1 without pointer): state in checkpoint/
        return folder if (folder / "state.npz").exists() and (folder / "writer.json").exists() else None
    if not name or "/" in name or name.startswith(".") or not (folder / name / "state.npz").exists():
        return None
    return folder / name


def read_config(path: str | Path, field: str = "run") -> dict[str, Any]:
    """A run directory's config.yaml, or one error saying the folder is not a run directory."""
    path = Path(path)
    cfg_file = path / "config.yaml"
    if not path.is_dir():
        raise ModelError(field, f"{str(path)!r} is not a folder")
    if not cfg_file.exists():
        raise ModelError(field, f"{str(path)!r} is not a run directory (no config.yaml)")
    try:
        config = yaml.load(cfg_file.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(field, f"{str(cfg_file)!r} cannot be read ({type(exc).__name__})") from None
    if not isinstance(config, dict) or not {"model", "seed", "days"} <= set(config):
        raise ModelError(field, f"{str(cfg_file)!r} is not a tmesim run configuration")
    check_format("run directory", config.get("format_version"), cfg_file)
    return config


class RunDirectory:
    """Read access to a run directory (tables as pandas, fields as xarray)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config: dict[str, Any] = read_config(self.path)

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "run.json").read_text())

    def model(self) -> Model:
        return model_from_dict(self.config["model"])

    def summary(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "summary.parquet")

    def metrics(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "metrics.parquet")

    def events(self) -> pd.DataFrame:
        f = self.path / "events.parquet"
        if f.exists():
            return pd.read_parquet(f)
        parts = sorted((self.path / "events").glob("part-*.parquet"))
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else _empty_events()

    def snapshot_times(self) -> list[float]:
        return sorted(float(p.stem.removeprefix("cells_day_")) for p in (self.path / "cells").glob("cells_day_*.parquet"))

    def cells(self, day: float | None = None) -> pd.DataFrame:
        """Cell snapshot nearest to ``day`` (default: the last one)."""
        times = self.snapshot_times()
        if not times:
            raise ModelError("run", f"{str(self.path)!r} has no cell snapshots"
                                    + (" (mean-field runs have none)" if self.engine == "meanfield" else ""))
        t = times[-1] if day is None else min(times, key=lambda x: abs(x - day))
        return pd.read_parquet(self.path / "cells" / f"cells_day_{t:07.2f}.parquet")

    @property
    def has_body(self) -> bool:
        """Whether the run has whole-body output (made with ``--body``)."""
        return (self.path / "body" / "ctc.parquet").exists()

    def body(self, table: str = "first_metastasis") -> pd.DataFrame:
        """A whole-body table (ctc, arrivals, seeding, burden, first_metastasis, primary,
        seeding_per_cell) of a run made with ``--body``."""
        from .body import read_body_table

        return read_body_table(self.path, table)

    def body_info(self) -> dict[str, Any]:
        """``body/body.json``: seed, diagnosis day, metastatic sites, niches, shedding."""
        from .body import read_body_info

        return read_body_info(self.path)

    @property
    def engine(self) -> str:
        """The engine that wrote the run (``spatial`` or ``meanfield``)."""
        return str(self.config.get("engine", "spatial"))

    def section(self, tumor_types: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The run as a section time course, the table :func:`tmesim.body.section.run_section`
        gives: per summary time, live count and ``dead_<type>`` per cell type, ``mean_<var>_<t>``
        for ``tumor_types``, mean concentration per substrate (from ``fields.zarr``), and
        ``intravasation_per_day`` / ``intravasation_cluster_cells_per_day`` from the events
        (cells leaving since the previous summary time, per day)."""
        if tumor_types is None:  # the model's tumor cells (role cancer)
            from tmesim.model.roles import Role

            tumor_types = tuple(self.model().types_with_role(Role.CANCER))
        sm = self.summary()
        dead_states = {"apoptotic", "necrotic", "killed", "gone"}
        live = sm[~sm["state"].isin(dead_states)]
        out = live.pivot_table(index="time_days", columns="cell_type", values="count", aggfunc="sum", fill_value=0.0)
        dead = sm[sm["state"].isin(dead_states)].pivot_table(index="time_days", columns="cell_type", values="count",
                                                              aggfunc="sum", fill_value=0.0)
        out = out.join(dead.add_prefix("dead_"), how="left").fillna(0.0)
        for t in tumor_types:
            sel = live[live["cell_type"] == t]
            for col in [c for c in sel.columns if c.startswith("mean_")]:
                w = sel["count"].to_numpy(float)
                g = pd.DataFrame({"time_days": sel["time_days"], "wx": w * sel[col].fillna(0.0).to_numpy(float), "w": w})
                agg = g.groupby("time_days")[["wx", "w"]].sum()
                out[f"{col}_{t}"] = (agg["wx"] / agg["w"].where(agg["w"] > 0)).reindex(out.index)
        times = out.index.to_numpy(float)
        if (self.path / "fields.zarr").exists():
            ds = self.fields()
            for v in ds.data_vars:
                mean = ds[v].mean([d for d in ds[v].dims if d != "time"]).to_numpy()
                out[str(v)] = np.interp(times, np.asarray(ds["time"].to_numpy(), float), np.asarray(mean, float))
        ev = self.events()
        ev = ev[ev["event"] == "intravasation"] if len(ev) else ev
        edges = np.concatenate([[-np.inf], times])
        gaps = np.diff(np.concatenate([[0.0], times]))
        n_all = np.histogram(ev["time_days"], edges)[0] if len(ev) else np.zeros(len(times))
        clustered = ev[ev["cluster_id"] != ev["uid"]] if len(ev) and "cluster_id" in ev else ev.iloc[:0]
        n_cl = np.histogram(clustered["time_days"], edges)[0] if len(clustered) else np.zeros(len(times))
        with np.errstate(divide="ignore", invalid="ignore"):
            out["intravasation_per_day"] = np.where(gaps > 0, n_all / gaps, 0.0)
            out["intravasation_cluster_cells_per_day"] = np.where(gaps > 0, n_cl / gaps, 0.0)
        out.columns.name = None
        return out.reset_index()

    def fields(self):  # noqa: ANN201 - xarray.Dataset
        import xarray as xr

        if not (self.path / "fields.zarr").exists():
            raise ModelError("run", f"{str(self.path)!r} has no fields (the {self.engine} engine wrote it; "
                                    "spatial runs have fields.zarr)")
        # Runs written before consolidated metadata was added open without it.
        with _quiet_zarr():
            return xr.open_zarr(self.path / "fields.zarr", consolidated=None)


Run = RunDirectory
"""The reader of a finished run, whichever engine wrote it (what :func:`tmesim.simulate` returns)."""
