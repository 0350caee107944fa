"""Cohort and trial folders: per-patient results, the recorded configuration, the analysis.

Layout (format version in ``cohort.json`` and ``summary.json``)::

    cohort.json                      format_version, configuration hash, configuration
    patients/<arm>/patient_<id>.parquet   one row per finished patient (resume skips these)
    patients.parquet                 all patients
    km_<endpoint>.parquet            Kaplan–Meier tables
    hazard_ratios.csv, marker_hazard_ratios.csv
    summary.json                     format_version, medians, hazard ratios, throughput
    km.png, report.html

Every file is written atomically (temporary file, then rename), so a killed run leaves
whole files and resumes by skipping the patients whose file exists.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from tmesim.model import ModelError

from .atomic import atomic_write, atomic_write_json, atomic_write_parquet, atomic_write_text
from .versions import TRIAL_FORMAT, check_format


def patient_path(out: Path, arm: str, pid: int) -> Path:
    return Path(out) / "patients" / arm / f"patient_{pid:06d}.parquet"


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    """A table as Parquet, atomically."""
    atomic_write_parquet(df, Path(path))


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_config(out: Path, config: dict[str, Any]) -> None:
    """Record the run's configuration; refuse to mix results of a different one or format."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / "cohort.json"
    h = config_hash(config)
    if f.exists():
        old = json.loads(f.read_text())
        check_format("cohort/trial folder", old.get("format_version"), f)
        if old.get("hash") != h:
            raise ModelError("--out", f"{out} holds results of a different cohort/trial configuration "
                                      f"(hash {old.get('hash')} != {h}); use another --out folder or delete it")
        return
    atomic_write_json(f, {"format_version": TRIAL_FORMAT, "hash": h, "config": config}, default=str)


def write_table(out: Path, name: str, df: pd.DataFrame) -> None:
    """``<out>/<name>``: ``.parquet`` or ``.csv`` by the name's suffix, atomically."""
    path = Path(out) / name
    if path.suffix == ".csv":
        atomic_write(path, lambda p: df.to_csv(p, index=False))
    else:
        write_atomic(df, path)


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """Strict JSON: a ``null`` where a number belongs means not defined (a median survival that
    is never reached, a hazard ratio of an arm without events); see docs/reliability.md."""
    atomic_write_json(Path(out) / "summary.json", {"format_version": TRIAL_FORMAT, **summary}, default=float)


def write_bytes(out: Path, name: str, data: bytes) -> None:
    atomic_write(Path(out) / name, lambda p: p.write_bytes(data))


def write_page(out: Path, name: str, text: str) -> None:
    atomic_write_text(Path(out) / name, text)


def read_summary(out: str | Path) -> dict[str, Any]:
    """``summary.json`` of a finished cohort/trial folder (format version checked)."""
    f = Path(out) / "summary.json"
    if not f.exists():
        raise ModelError("out", f"{str(Path(out))!r} is not a finished cohort/trial folder (no summary.json)")
    summary = json.loads(f.read_text())
    check_format("cohort/trial folder", summary.get("format_version"), f)
    return summary


def read_patients(out: str | Path) -> pd.DataFrame:
    """The combined per-patient table of a finished cohort/trial folder."""
    read_summary(out)
    return pd.read_parquet(Path(out) / "patients.parquet")


def collect(out: str | Path, paths: list[Path] | None = None) -> pd.DataFrame:
    """Per-patient files (``paths``, or every file) as one table sorted by arm and patient."""
    out = Path(out)
    paths = paths if paths is not None else sorted((out / "patients").glob("*/patient_*.parquet"))
    frames = [pd.read_parquet(p) for p in paths if p.exists()]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(["arm", "patient_id"], kind="stable").reset_index(drop=True)


__all__ = ["check_config", "collect", "config_hash", "patient_path", "read_patients", "read_summary",
           "write_atomic", "write_bytes", "write_page", "write_summary", "write_table"]
