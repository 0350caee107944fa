"""Numba's on-disk cache and threaded kernels: no cached function that contains a threaded kernel
is compiled into another function (numba #8578, #10128: a process that loads such a function,
compiled where its threaded code came from the cache, can crash; see
``tmesim.engine.multigrid._solve_entry``).  And every cached tmesim kernel is stamped with the
digest of tmesim's compiled sources (``tmesim._numba_cache``), so a change to a file it calls
makes numba compile it afresh."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher

import tmesim.engine

ROOT = Path(__file__).resolve().parents[1]


def _dispatchers() -> dict[int, CPUDispatcher]:
    found: dict[int, CPUDispatcher] = {}
    for info in pkgutil.walk_packages(tmesim.engine.__path__, "tmesim.engine."):
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # an optional backend (the GPU) without its library
            continue
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher):
                found[id(obj)] = obj
    return found


def _callees(d: CPUDispatcher) -> list[CPUDispatcher]:
    g = d.py_func.__globals__
    return [g[name] for name in d.py_func.__code__.co_names if isinstance(g.get(name), CPUDispatcher)]


def _cached(d: CPUDispatcher) -> bool:
    return type(d._cache).__name__ != "NullCache"


def test_no_cached_function_with_threaded_code_is_called_by_other_compiled_code() -> None:
    disp = _dispatchers()
    assert len(disp) > 50  # the walk found the engine's kernels
    threaded: dict[int, bool] = {}

    def contains_threaded(d: CPUDispatcher, seen: frozenset[int] = frozenset()) -> bool:
        if id(d) not in threaded:
            own = bool(d.targetoptions.get("parallel"))
            threaded[id(d)] = own or any(contains_threaded(c, seen | {id(d)}) for c in _callees(d)
                                         if id(c) not in seen)
        return threaded[id(d)]

    called = {id(c): d.py_func.__qualname__ for d in disp.values() for c in _callees(d)}
    bad = [f"{d.py_func.__module__}.{d.py_func.__qualname__} (called by {called[id(d)]})"
           for d in disp.values() if _cached(d) and contains_threaded(d) and id(d) in called]
    assert not bad, bad
    # the rule is not vacuous: the multigrid's threaded code is reached through cached entries
    from tmesim.engine import multigrid
    assert contains_threaded(multigrid._solve_entry) and _cached(multigrid._solve_entry)


@pytest.mark.slow
def test_solve_then_vcycle_twice_on_a_fresh_cache_does_not_crash(tmp_path: Path) -> None:
    """The sequence that crashed with the earlier layout: mg_solve in one process, mg_vcycle in a
    second, mg_vcycle in a third (exit −11), each a fresh process on one numba cache."""
    code = ("import sys, numpy as np\n"
            "from tmesim.engine.multigrid import mg_solve, mg_vcycle\n"
            "n = 200; b = np.ones(n * n); d = np.full(n * n, 2.0); x = np.zeros(n * n)\n"
            "(mg_solve if sys.argv[1] == 'solve' else mg_vcycle)(x, b, d, 100.0, (1, n, n), True)\n"
            "print(round(float(x.sum()), 6))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT / "src")}
    outs = []
    for mode in ("solve", "vcycle", "vcycle"):
        p = subprocess.run([sys.executable, "-c", code, mode], env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (mode, p.returncode, p.stderr[-2000:])
        outs.append(p.stdout.strip())
    assert outs[1] == outs[2]  # the cached V-cycle gives what the compiled one gave


def test_every_cached_kernel_is_stamped_with_the_compiled_sources_digest() -> None:
    """If a numba release changes its cache locators so that the stamp no longer applies, this
    fails (and tmesim._numba_cache needs updating)."""
    import tmesim.meanfield.rhs
    from tmesim import _numba_cache

    disp = [d for d in _dispatchers().values() if _cached(d)]
    disp += [d for d in vars(tmesim.meanfield.rhs).values() if isinstance(d, CPUDispatcher) and _cached(d)]
    assert len(disp) > 30
    for d in disp:
        locator = d._cache._impl.locator
        assert isinstance(locator, _numba_cache.LOCATORS), (d.py_func.__qualname__, type(locator))
        assert locator.get_source_stamp()[1] == _numba_cache.digest()


def test_other_packages_keep_numbas_own_cache_stamp(tmp_path: Path) -> None:
    from tmesim import _numba_cache

    (tmp_path / "outside_mod.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("outside_mod")
        assert mod.f(1) == 2
        assert not isinstance(mod.f._cache._impl.locator, _numba_cache.LOCATORS)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("outside_mod", None)


def test_digest_covers_compiled_files_and_the_modules_they_import(tmp_path: Path) -> None:
    """A change to a compiled file, or to a module it imports constants from, changes the digest;
    a change to a module no compiled file imports does not."""
    from tmesim import _numba_cache

    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "kernel.py").write_text("from numba import njit\nfrom ..consts import K\nfrom . import helper\n")
    (pkg / "sub" / "helper.py").write_text("H = 1\n")
    (pkg / "consts.py").write_text("K = 1\n")
    (pkg / "cli.py").write_text("X = 1\n")
    names = {p.relative_to(pkg).as_posix() for p in _numba_cache.sources(pkg)}
    assert {"sub/kernel.py", "consts.py", "sub/helper.py"} <= names and "cli.py" not in names

    def fresh() -> str:
        _numba_cache._digests.pop(pkg, None)
        return _numba_cache.digest(pkg)

    first = fresh()
    (pkg / "cli.py").write_text("X = 2\n")
    assert fresh() == first
    for name in ("consts.py", "sub/helper.py", "sub/kernel.py"):
        before = fresh()
        (pkg / name).write_text((pkg / name).read_text() + "# changed\n")
        assert fresh() != before, name
