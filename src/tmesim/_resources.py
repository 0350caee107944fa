"""Shipped data files located through :mod:`importlib.resources` (ground floor).

tmesim's package data (presets, catalogs, tables) is read by path by pandas, YAML and
pyarrow; the package is installed as a directory (not zipped), so ``files()`` gives real
paths. Locating data this way, rather than from ``__file__``, keeps one owner per data
folder (its package) and works for any installation layout setuptools produces.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(package: str, *parts: str) -> Path:
    """Path of ``parts`` inside the shipped package ``package`` (e.g. ``"tmesim.presets"``)."""
    res = files(package).joinpath(*parts)
    if not isinstance(res, Path):  # pragma: no cover - zipped installs are not supported
        raise RuntimeError(f"tmesim's data in {package} is not on the file system ({res!r}); "
                           "install tmesim unzipped")
    return res
