"""Contact enrichment for mean-field cohorts: the spatial structure, measured once per trial.

The mean-field engine assumes random mixing. A short spatial run of the trial's model
measures how much more or less often each pair of cell types touches than random mixing
would give (:mod:`tmesim.engine.contacts`; e.g. CD8 T cells touch cancer cells at ~0.4×
random mixing in the TNBC preset: T-cell exclusion from the tumor nest). Passing that table
to every patient's mean-field section keeps the speed of the mean-field while contact-borne
effects (killing, contact suppression) act at the strength the spatial tumor gives them.

A trial's ``contacts`` field chooses:

* ``well-mixed``: no correction (every enrichment 1);
* ``measured``: a spatial run of the base model (``contact_days`` days, seed ``contact_seed``),
  written to ``<out>/contacts.csv`` and read back on resume. Tables measured for the shipped
  presets (``cohort/data/contacts/<preset>.csv.gz``, made by ``python benchmarks/contacts.py``) are used
  when the model, days and seed are the same (a content hash), so only changed or new models
  need the spatial run (~3.5 min for the TNBC preset's 35 days on one core);
* a path to a CSV with columns ``cell_type, neighbour, enrichment`` (e.g. one written by an
  earlier trial, or measured on a larger domain).

The same table is used for every virtual patient (their variants of the model share its
layout; patient-specific structure is not re-measured).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tmesim._resources import data_path
from tmesim.io.atomic import atomic_write_csv
from tmesim.model import Model, ModelError

CONTACT_MODES: tuple[str, ...] = ("well-mixed", "measured")
CONTACT_FILE = "contacts.csv"
SHIPPED = data_path("tmesim.cohort", "data", "contacts")  # measured tables of the shipped presets
_CACHE: dict[str, pd.DataFrame] = {}


def contact_key(model: Model, days: float, seed: int) -> str:
    """Identity of a measured table: the model's content without its ``body`` section (the
    whole-body level never acts on the section's contacts), the run's days and seed."""
    return hashlib.sha256(f"{model.model_dump_json(exclude={'body'})}|{float(days)}|{int(seed)}".encode()).hexdigest()[:16]


def _shipped(key: str) -> pd.DataFrame | None:
    for f in sorted(SHIPPED.glob("*.csv.gz")):
        head = pd.read_csv(f, nrows=1)
        if "model_key" in head and str(head["model_key"].iloc[0]) == key:
            return pd.read_csv(f)
    return None


def measure_contacts(model: Model, days: float = 7.0, seed: int = 0) -> pd.DataFrame:
    """Contact enrichment of ``model`` from a spatial run of ``days`` days (cached per process)."""
    from tmesim.engine import Simulation
    from tmesim.engine.contacts import contact_enrichment

    key = contact_key(model, days, seed)
    if key not in _CACHE:
        table = contact_enrichment(Simulation(model, seed=int(seed)), days=float(days))
        table.insert(0, "model_key", key)
        _CACHE[key] = table
    return _CACHE[key].copy()


def read_contacts(path: str | Path, model: Model) -> pd.DataFrame:
    """A contacts CSV, checked against ``model``'s cell types (errors name the file and field)."""
    from tmesim.meanfield import contact_course

    p = Path(path)
    if not p.exists():
        raise ModelError("contacts", f"{p} does not exist; allowed: {', '.join(CONTACT_MODES)} or a CSV path")
    try:
        table = pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ModelError("contacts", f"{p} is not a readable CSV: {exc}") from None
    try:
        contact_course(model.cell_type_names, table)
    except ValueError as exc:
        raise ModelError("contacts", f"{p}: {exc}") from None
    return table


def resolve_contacts(choice: str, model: Model, out: str | Path | None = None, days: float = 7.0,
                     seed: int = 0, notice: Callable[[str], None] | None = None) -> pd.DataFrame | None:
    """The table a trial's ``contacts`` setting stands for (``None`` for well-mixed).

    ``notice`` is told before a spatial run has to measure the table (it takes minutes)."""
    if choice == "well-mixed":
        return None
    if choice == "measured":
        f = Path(out) / CONTACT_FILE if out is not None else None
        key = contact_key(model, days, seed)
        if f is not None and f.exists():
            old = pd.read_csv(f)
            if "model_key" in old and len(old) and str(old["model_key"].iloc[0]) == key:
                return old
        table = _shipped(key)
        if table is None:
            if notice is not None:
                notice(f"measuring contact enrichment: a {days:g}-day spatial run of the model (once; "
                       f"kept in {f if f is not None else 'memory'})")
            table = measure_contacts(model, days, seed)
        if f is not None:
            atomic_write_csv(table, f)
        return table
    return read_contacts(choice, model)


__all__ = ["CONTACT_FILE", "CONTACT_MODES", "SHIPPED", "contact_key", "measure_contacts", "read_contacts", "resolve_contacts"]
