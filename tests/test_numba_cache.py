"""Numba's on-disk cache and threaded kernels: no cached function that contains a threaded kernel
is compiled into another function (numba #8578, #10128: a process that loads such a function,
compiled where its threaded code came from the cache, can crash; see
``tmesim.engine.multigrid._solve_entry``)."""

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
