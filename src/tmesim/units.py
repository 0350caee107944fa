"""Constants every floor of tmesim shares (the ground floor: imports nothing of tmesim).

tmesim's canonical time unit is the minute (see ``tmesim.model.units`` for parsing
quantities with units in model files).
"""

from __future__ import annotations

MINUTES_PER_DAY: float = 1440.0
"""Minutes in a day: engine time is in minutes, every table reports days."""

MAX_SEED: int = 2**63 - 1
"""Largest seed: seeds are stored as int64 (checkpoints, Parquet tables)."""
