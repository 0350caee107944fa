"""numba's on-disk cache of tmesim's kernels, keyed on every compiled source, not one file.

numba reuses a cached function while its own source file is unchanged (its time stamp, or from
numba 0.68 its content); it does not look at the files of the functions it calls or of the
module constants it reads.  After a change to such a file only (an edit, a ``git pull`` into
the editable install the README uses, a ``git bisect``), cached machine code built from the
old file keeps running: silently old results.  Seen here: bisecting with one worktree gave a
commit's spatial run other cell counts than a fresh checkout of the same commit, because the
kernels of ``engine/kernels.py`` were reused while a file they call had changed.

So every tmesim function's cache entry is also stamped with :func:`digest`, a hash of the
files that define compiled code (the modules that import numba) and of the tmesim modules
those import (constants read at compile time); any change to one of them makes numba compile
afresh, once, into the same cache locations.  Other packages' numba caches are untouched: the
locators below decline any function outside tmesim.  A user-given
``NUMBA_CACHE_LOCATOR_CLASSES`` wins (nothing is installed then).

Hand-written because numba offers no option to widen the stamp; it uses numba's cache locator
classes (``numba.core.caching``), and ``tests/test_numba_cache.py`` fails if a numba release
changes them so that the stamp no longer applies.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from numba.core import caching, config

ROOT = Path(__file__).resolve().parent
_IMPORT = re.compile(r"^\s*from\s+(\.+|tmesim\.?)([\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_digests: dict[Path, str] = {}


def _module_files(root: Path, here: Path, dots: str, dotted: str, names: str) -> list[Path]:
    """Files of the tmesim modules one ``from ... import ...`` line of ``here`` reads."""
    base = root if dots.startswith("tmesim") else here.parent
    for _ in range(max(len(dots) - 1, 0) if not dots.startswith("tmesim") else 0):
        base = base.parent
    target = base.joinpath(*dotted.split(".")) if dotted else base
    out = [target.with_suffix(".py"), target / "__init__.py"]
    for name in names.strip("()").split(","):
        words = name.split("#")[0].split()  # "x as y", a trailing comment
        if words:
            out.append(target / f"{words[0]}.py")
    return [p for p in out if p.is_file()]


def sources(root: Path = ROOT) -> list[Path]:
    """The files whose change invalidates tmesim's cached kernels (module doc), sorted."""
    files = sorted(root.rglob("*.py"))
    compiled = [f for f in files if "numba" in f.read_text(encoding="utf-8")]
    found = set(compiled)
    for f in compiled:
        for dots, dotted, names in _IMPORT.findall(f.read_text(encoding="utf-8")):
            found.update(_module_files(root, f, dots, dotted, names))
    return sorted(p for p in found if root in p.parents)


def digest(root: Path = ROOT) -> str:
    """sha256 of :func:`sources` (their paths relative to ``root`` and their bytes), per process."""
    if root not in _digests:
        h = hashlib.sha256()
        for p in sources(root):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
        _digests[root] = h.hexdigest()
    return _digests[root]


class _Stamped:
    """Locator mixin: only tmesim's functions, and their stamp carries :func:`digest`."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if ROOT not in Path(py_file).resolve().parents:
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), digest())  # type: ignore[misc]


def _base(name: str) -> type:
    return getattr(caching, name, None) or getattr(caching, "_" + name)


LOCATORS = tuple(type("Tmesim" + name, (_Stamped, _base(name)), {})
                 for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator"))


def install() -> bool:
    """Put the stamped locators first for tmesim's functions; False if the user chose locators."""
    if getattr(config, "CACHE_LOCATOR_CLASSES", None):
        return False
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # type: ignore[attr-defined]
    classes = impl._locator_classes
    if classes[: len(LOCATORS)] != list(LOCATORS):
        classes[:0] = LOCATORS
    return True
