"""The primary tumor section of one patient, with either engine, as one daily time course.

Both engines give the same columns: ``time_days``, one live count per cell type,
``dead_<type>`` (corpses not yet cleared; spatial: dead cells on the lattice),
``intravasation_per_day``, ``killed_per_day_cancer`` (cancer cells killed by attacks — CD8 T
cells, NK cells, M1 macrophages, N1 neutrophils — per day) and ``mean_emt_cancer`` (when the
model has an ``emt`` state).
The mean-field engine reads the model's drugs itself (their PK exposure is the signal
``drug <name>``), as the spatial engine does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.units import MINUTES_PER_DAY

if TYPE_CHECKING:
    from tmesim.meanfield import ContactCourse

Engine = Literal["meanfield", "spatial"]
ENGINES: tuple[str, ...] = ("meanfield", "spatial")
CANCER = "cancer"
KILLED = f"killed_per_day_{CANCER}"


def run_section(model: Model, days: float, engine: str = "meanfield", seed: int = 0,
                contacts: pd.DataFrame | ContactCourse | None = None) -> pd.DataFrame:
    """Daily time course of the section for ``days`` (0, 1, …, days).

    ``contacts`` (mean-field only): the contact-enrichment table of the model's spatial
    structure (:mod:`tmesim.cohort.contacts`); ``None`` assumes random mixing.
    """
    if engine == "meanfield":
        from tmesim.meanfield import MeanField

        t = np.arange(0.0, float(days) + 1e-9, 1.0)
        out = MeanField(model, contacts=contacts).run(days=float(days), t_eval=t)
        if KILLED not in out:  # no type of this model attacks cancer cells
            out[KILLED] = 0.0
        return out
    if engine == "spatial":
        return _spatial(model, days, seed)
    raise ValueError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")


def _spatial(model: Model, days: float, seed: int) -> pd.DataFrame:
    from tmesim.engine import Simulation
    from tmesim.engine.kernels import ALIVE, E_INTRAVASATION, E_KILLED

    sim = Simulation(model, seed=int(seed))
    names = sim.cm.type_names
    emt = sim.cm.var_names.index("emt") if "emt" in sim.cm.var_names else -1
    per_day = sim.steps_for(MINUTES_PER_DAY)
    rows = []

    cancer = names.index(CANCER) if CANCER in names else -1

    def record(day: float, intra: float, killed: float) -> None:
        n = sim.n
        live = sim.dead[:n] == ALIVE
        ct = sim.ctype[:n]
        row = {"time_days": day, **{k: float(v) for k, v in sim.counts().items()}}
        dead = np.bincount(ct[~live], minlength=len(names))
        row |= {f"dead_{nm}": float(dead[i]) for i, nm in enumerate(names)}
        row["intravasation_per_day"] = intra
        row[KILLED] = killed
        if emt >= 0 and cancer >= 0:
            sel = live & (ct == cancer)
            row["mean_emt_cancer"] = float(sim.var[:n, emt][sel].mean()) if sel.any() else float("nan")
        rows.append(row)

    record(0.0, 0.0, 0.0)
    for d in range(1, int(np.ceil(days)) + 1):
        intra = killed = 0
        for _ in range(per_day):
            sim.step()
            ev = sim.take_events()
            intra += int(np.count_nonzero(ev["kind"] == E_INTRAVASATION))
            killed += int(np.count_nonzero((ev["kind"] == E_KILLED) & (ev["ctype"] == cancer)))
        record(float(d), float(intra), float(killed))
    return pd.DataFrame(rows)


__all__ = ["ENGINES", "Engine", "run_section"]
