"""Atomic file writes: write beside the target, then rename over it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then move the result to ``path`` in one rename.

    A reader (or a resumed run) therefore sees either the old file or the new one, never a
    half-written file, even if the process is killed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every inf/NaN float (also numpy scalars) replaced by None.

    tmesim's JSON files are strict JSON (RFC 8259 has no Infinity or NaN): a ``null`` where a
    number is expected means "not defined" — an estimate that does not exist (a hazard ratio
    of an arm with no events, a median survival never reached) or a value that overflowed.
    """
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return finite_or_none(obj.tolist())
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    return obj


def dumps_json(obj: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``obj`` (non-finite numbers as null, see ``finite_or_none``)."""
    return json.dumps(finite_or_none(obj), allow_nan=False, **kwargs)


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, default: Any = None) -> None:
    atomic_write_text(path, dumps_json(obj, indent=indent, default=default))


def atomic_write_parquet(df: Any, path: str | Path) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False))


def atomic_write_csv(df: Any, path: str | Path) -> None:
    atomic_write(path, lambda p: df.to_csv(p, index=False))


def atomic_replace_dir(path: str | Path, build: Callable[[Path], None]) -> None:
    """Build a directory in a temporary sibling and swap it in (a reader sees the old or the
    new directory, never a half-built one)."""
    import os
    import shutil
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        build(tmp)
        os.chmod(tmp, 0o755)
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
