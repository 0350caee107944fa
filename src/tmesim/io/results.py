"""Shipped results that stay true: what each file in ``benchmarks/results/`` was made with.

``benchmarks/results/MANIFEST.json`` holds one entry per result file (or result folder): the tmesim version, the
presets it simulated, the content hash of those models (all of the model, or only the parts
named, e.g. everything but ``body`` for a table that never reads the body level), the command
that made it and the file's own sha256. :func:`stale` compares an entry with the current
models and file — cheap (it loads presets, it runs nothing) — so a test fails when a model
edit has left a shipped result behind. Documentation tables are generated from the result
files between ``<!-- results:<name> -->`` and ``<!-- /results:<name> -->`` markers
(:func:`fill_markers`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tmesim.model import Model

from .atomic import atomic_write_text

MANIFEST = "MANIFEST.json"


# Optional model sections added after results were recorded: absent (None), they leave the hash
# as it was, so a new opt-in mechanism does not mark every shipped result stale.
_LATER_OPTIONAL = frozenset({"barrier", "field_solve"})


def model_hash(models: Sequence[Model], exclude: Sequence[str] = ()) -> str:
    """sha256 (16 hex digits) of the models' resolved content, without the top-level ``exclude`` keys."""
    h = hashlib.sha256()
    for m in models:
        d = {k: v for k, v in m.model_dump(mode="json").items()
             if k not in set(exclude) and not (k in _LATER_OPTIONAL and v is None)}
        h.update(json.dumps(d, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def file_hash(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, in sorted order)."""
    p = Path(path)
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _presets(names: Sequence[str]) -> list[Model]:
    from tmesim._resources import data_path
    from tmesim.model import load_model

    return [load_model(data_path("tmesim.presets", f"{n}.yaml")) for n in names]


def record(folder: str | Path, files: Sequence[str], presets: Sequence[str], command: str,
           exclude: Sequence[str] = (), extra: dict[str, Any] | None = None) -> None:
    """Add or replace the manifest entries of ``files`` (names inside ``folder``)."""
    from filelock import FileLock

    from tmesim._version import __version__

    folder = Path(folder)
    f = folder / MANIFEST
    mh = model_hash(_presets(presets), exclude)
    # benchmarks finishing at the same moment would otherwise drop each other's entries
    with FileLock(folder / f".{MANIFEST}.lock"):
        man = json.loads(f.read_text()) if f.exists() else {}
        for name in files:
            man[name] = {"tmesim_version": __version__, "presets": list(presets), "exclude": list(exclude),
                         "model_hash": mh, "command": command, "sha256": file_hash(folder / name),
                         **(extra or {})}
        atomic_write_text(f, json.dumps(dict(sorted(man.items())), indent=2) + "\n")


def stale(folder: str | Path) -> list[str]:
    """Why shipped results are out of date: one line per problem (empty: all current)."""
    folder = Path(folder)
    f = folder / MANIFEST
    man = json.loads(f.read_text()) if f.exists() else {}
    out = []
    hashes: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
    for p in sorted(folder.iterdir()):
        if p.name == MANIFEST or p.name.startswith("."):
            continue
        e = man.get(p.name)
        if e is None:
            out.append(f"{p.name}: not in {MANIFEST} (write it through tmesim.io.results.record)")
            continue
        key = (tuple(e["presets"]), tuple(e.get("exclude", ())))
        if key not in hashes:
            hashes[key] = model_hash(_presets(key[0]), key[1])
        if hashes[key] != e["model_hash"]:
            out.append(f"{p.name}: made with model {e['model_hash']}, the presets {', '.join(key[0])} are now "
                       f"{hashes[key]}; re-run: {e['command']}")
        if file_hash(p) != e["sha256"]:
            out.append(f"{p.name}: edited after it was made (sha256 differs); re-run: {e['command']}")
    out += [f"{name}: in {MANIFEST} but missing" for name in man if not (folder / name).exists()]
    return out


def fill_markers(text: str, tables: dict[str, str]) -> str:
    """``text`` with each ``<!-- results:name -->…<!-- /results:name -->`` block replaced by ``tables[name]``."""
    for name, table in tables.items():
        pat = re.compile(rf"(<!-- results:{re.escape(name)} -->\n).*?(<!-- /results:{re.escape(name)} -->)", re.S)
        text = pat.sub(lambda m, t=table: m.group(1) + t.rstrip("\n") + "\n" + m.group(2), text)
    return text


__all__ = ["MANIFEST", "file_hash", "fill_markers", "model_hash", "record", "stale"]
