"""Format versions of everything tmesim writes, checked whenever it is read back.

Each on-disk format records the version it was written in; a reader accepts exactly the
versions it understands and otherwise stops with one ``ModelError`` that names the file,
the version found and the versions this tmesim reads. A format's version goes up when a
change would make an older reader misread it (a renamed column, a changed unit), never
for an added optional file or column.

| format | recorded in | current |
|---|---|---|
| model file | ``format_version:`` at the top of the YAML (optional, default current) | 1 |
| run directory | ``config.yaml`` and ``run.json`` (``format_version``) | 1 |
| body output | ``<run>/body/body.json`` (``format_version``) | 1 |
| cohort / trial folder | ``<out>/cohort.json`` and ``<out>/summary.json`` (``format_version``) | 1 |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmesim.model import ModelError

RUN_FORMAT = 1
BODY_FORMAT = 1
TRIAL_FORMAT = 1

# Versions each reader understands (older formats are listed here once a reader handles them).
READABLE: dict[str, tuple[int, ...]] = {
    "run directory": (RUN_FORMAT,),
    "body output": (BODY_FORMAT,),
    "cohort/trial folder": (TRIAL_FORMAT,),
}


def check_format(kind: str, found: Any, where: str | Path, field: str = "format_version") -> int:
    """``found`` if this tmesim reads format ``kind`` in that version, else a ``ModelError``."""
    readable = READABLE[kind]
    if found is None:
        raise ModelError(field, f"{str(where)!r} records no format version: a {kind} written by a tmesim "
                                f"older than the versioned formats; this tmesim reads {kind} format "
                                f"{', '.join(map(str, readable))} (re-create it with this tmesim)")
    try:
        version = int(found)
    except (TypeError, ValueError):
        version = None
    if version is None or version not in readable:
        newer = version is not None and version > max(readable)
        hint = "upgrade tmesim to read it" if newer else "re-create it with this tmesim"
        raise ModelError(field, f"{str(where)!r} is a {kind} in format version {found!r}; this tmesim reads "
                                f"version {', '.join(map(str, readable))} ({hint})")
    return version


__all__ = ["BODY_FORMAT", "READABLE", "RUN_FORMAT", "TRIAL_FORMAT", "check_format"]
