"""Progress for logs: one line per simulated day when stdout is not a terminal (or with --verbose).

A live progress bar is invisible in a log file or CI output; a line per day is what such a
reader needs. Lines go to stderr like every status line, so --quiet silences them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from ..units import MINUTES_PER_DAY
from ._common import VERBOSITY, console


def wants_day_lines() -> bool:
    return VERBOSITY["level"] >= 2 or not sys.stdout.isatty()


def day_logger(total_days: float, start_days: float = 0.0) -> tuple[Any, Callable[[Any], None]]:
    """(context manager, update(sim)) printing ``day d/total: n cells (...) [elapsed]`` once per day."""
    last = [int(start_days)]
    t0 = time.monotonic()

    def update(sim) -> None:  # noqa: ANN001
        day = sim.time / MINUTES_PER_DAY
        whole = int(day + 1e-9)
        if whole <= last[0] and day < total_days:
            return
        last[0] = whole
        top = sorted(sim.counts().items(), key=lambda kv: -kv[1])[:4]
        console.print(f"day {day:g}/{total_days:g}: {sim.n_cells:,} cells ("
                      + ", ".join(f"{k} {v:,}" for k, v in top) + f") [{time.monotonic() - t0:.0f} s]",
                      highlight=False, markup=False, soft_wrap=True)

    return contextlib.nullcontext(), update
