"""Helpers shared by the AnnData and region readouts: run directories, snapshot days, seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory

DAY_TOLERANCE = 1e-6  # days; a requested day must match a snapshot time to this precision


def open_run(run_dir: str | Path | RunDirectory) -> RunDirectory:
    """The run directory, or a ``ModelError`` naming ``run_dir`` when there is none."""
    if isinstance(run_dir, RunDirectory):
        return run_dir
    path = Path(run_dir)
    if not path.exists():
        raise ModelError("run_dir", f"{str(path)!r} does not exist")
    return RunDirectory(path)


def _days_text(times: list[float]) -> str:
    return ", ".join(f"{t:g}" for t in times)


def snapshot_day(rd: RunDirectory, day: float | None, field: str = "day") -> float:
    """The snapshot time equal to ``day`` (default: the last one); error naming ``field`` otherwise."""
    times = rd.snapshot_times()
    if not times:
        raise ModelError("run_dir", f"{str(rd.path)!r} has no cell snapshots")
    if day is None:
        return times[-1]
    best = min(times, key=lambda t: abs(t - day))
    if abs(best - day) > DAY_TOLERANCE:
        raise ModelError(field, f"no cell snapshot at day {day:g} in {str(rd.path)!r}; "
                                f"available days: {_days_text(times)}")
    return best


def live_cells(rd: RunDirectory, day: float) -> pd.DataFrame:
    """Live cells of the snapshot at ``day`` (an exact snapshot time), index reset."""
    cells = rd.cells(day)
    return cells[cells["status"] == "live"].reset_index(drop=True)


def state_variables(rd: RunDirectory, cells: pd.DataFrame) -> list[str]:
    declared = list(rd.config["model"].get("state_variables", []) or [])
    return [v for v in declared if v in cells.columns]


def provenance(rd: RunDirectory, readout: str, day: float, **extra: Any) -> dict[str, Any]:
    """``uns["tmesim"]``: where an AnnData file or table came from (HDF5-storable values only)."""
    from tmesim._version import __version__ as tv

    cfg = rd.config
    out: dict[str, Any] = {
        "readout": readout, "tmesim_version": tv, "run_dir": str(rd.path.resolve()),
        "run_tmesim_version": str(cfg.get("tmesim_version", "")), "run_seed": int(cfg.get("seed", 0)),
        "run_engine": str(cfg.get("engine", "")), "model": str(cfg["model"].get("name", "")),
        "format_version": int(cfg.get("format_version", 0)), "snapshot_day": float(day),
    }
    out.update(extra)
    return out


def generator(seed: int, purpose: int) -> np.random.Generator:
    """An independent, reproducible stream per (seed, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(purpose)]))
