"""Body output: the whole-body tables of one run, in ``<run>/body/`` (format version in ``body.json``).

Layout::

    body/body.json              format_version, seed, diagnosis day, metastatic sites, niches, shedding
    body/<table>.parquet        ctc, arrivals, seeding, burden, first_metastasis, primary, seeding_per_cell,
                                units (fates per unit kind and EMT class), coupling (each factor the
                                patient's section set, the section quantity and its value, the source)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tmesim.model import ModelError

from .atomic import atomic_write, atomic_write_json
from .versions import BODY_FORMAT, check_format

BODY_DIR = "body"


def write_body(run_path: str | Path, tables: dict[str, pd.DataFrame], info: dict[str, Any]) -> Path:
    """Write the body tables and ``body.json`` (tables first: ``body.json`` marks a complete output)."""
    base = Path(run_path) / BODY_DIR
    base.mkdir(exist_ok=True)
    for name, df in tables.items():
        atomic_write(base / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False))
    atomic_write_json(base / "body.json", {"format_version": BODY_FORMAT, **info})
    return base


def read_body_info(run_path: str | Path) -> dict[str, Any]:
    """``body.json`` of a run made with ``--body`` (its format version checked)."""
    f = Path(run_path) / BODY_DIR / "body.json"
    if not f.exists():
        raise ModelError("body", f"{str(Path(run_path))!r} has no body output (run with --body)")
    info = json.loads(f.read_text())
    check_format("body output", info.get("format_version"), f)
    return info


def read_body_table(run_path: str | Path, table: str) -> pd.DataFrame:
    """One body table (``ctc``, ``arrivals``, ``seeding``, ``burden``, ``first_metastasis``, ...)."""
    base = Path(run_path) / BODY_DIR
    f = base / f"{table}.parquet"
    if not f.exists():
        have = sorted(p.stem for p in base.glob("*.parquet"))
        raise ModelError("table", f"no body table {table!r} in {str(Path(run_path))!r}; available: "
                                  f"{', '.join(have) or 'none (run with --body)'}")
    if (base / "body.json").exists():
        read_body_info(run_path)
    return pd.read_parquet(f)


__all__ = ["BODY_DIR", "read_body_info", "read_body_table", "write_body"]
