"""Atomic writes of result tables (parquet, CSV) and JSON records, for analysis folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .atomic import atomic_write, atomic_write_text, dumps_json


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """``df`` to ``path`` as parquet (no index), atomically."""
    atomic_write(path, lambda p: df.to_parquet(p, index=False))
    return Path(path)


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    atomic_write(path, lambda p: df.to_csv(p, index=False))
    return Path(path)


def write_json(data: Any, path: str | Path) -> Path:
    atomic_write_text(path, dumps_json(data, indent=2, default=float) + "\n")  # strict: inf/NaN as null
    return Path(path)


def write_bytes(data: bytes, path: str | Path) -> Path:
    atomic_write(path, lambda p: p.write_bytes(data))
    return Path(path)


__all__ = ["write_bytes", "write_csv", "write_json", "write_parquet"]
