"""The primary tumor section of one patient, with either engine, as one daily time course.

Both engines give the same columns: ``time_days``, one live count per cell type,
``dead_<type>`` (corpses not yet cleared; spatial: dead cells on the lattice),
``intravasation_per_day``, ``killed_per_day_<type>`` for the types that attacks kill,
``mean_<state>_<type>`` (each state variable of the model — emt, pdl1, stemness, … — per cell
type; spatial: for the types whose role is ``cancer``) and one column per substrate (the mean
concentration; spatial: over the lattice). Over the cell types whose role is ``cancer``:
``tumor_cells`` (live), ``killed_per_day_tumor`` (killed by attacks — CD8 T cells, NK cells, M1
macrophages, N1 neutrophils — per day) and ``mean_emt_tumor`` (when the model has ``emt``). The body level reads this table to couple a
patient's metastatic cascade to its own section (:mod:`tmesim.body.coupling`).
The mean-field engine reads the model's drugs itself (their PK exposure is the signal
``drug <name>``), as the spatial engine does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.model.roles import Role
from tmesim.units import MINUTES_PER_DAY

if TYPE_CHECKING:
    from tmesim.meanfield import ContactCourse

Engine = Literal["meanfield", "spatial"]
ENGINES: tuple[str, ...] = ("meanfield", "spatial")
TUMOR = "tumor_cells"
KILLED = "killed_per_day_tumor"
MEAN_EMT = "mean_emt_tumor"


def _tumor_columns(out: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Add the tumor columns: sums (counts, kills) and count-weighted means (EMT) over the
    model's cell types whose role is ``cancer``."""
    tumor = [t for t in model.types_with_role(Role.CANCER) if t in out]
    out[TUMOR] = out[tumor].sum(axis=1) if tumor else 0.0
    if KILLED not in out:
        kills = [f"killed_per_day_{t}" for t in tumor if f"killed_per_day_{t}" in out]
        out[KILLED] = out[kills].sum(axis=1) if kills else 0.0  # 0: no type of this model attacks them
    emt = [t for t in tumor if f"mean_emt_{t}" in out]
    if emt and MEAN_EMT not in out:
        w = out[emt].to_numpy(float)
        m = np.column_stack([out[f"mean_emt_{t}"].to_numpy(float) for t in emt])
        tot = w.sum(axis=1)
        out[MEAN_EMT] = np.where(tot > 0, np.nansum(w * np.nan_to_num(m), axis=1) / np.maximum(tot, 1e-300), np.nan)
    return out


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
        return _tumor_columns(out, model)
    if engine == "spatial":
        return _tumor_columns(_spatial(model, days, seed), model)
    raise ValueError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")


def _spatial(model: Model, days: float, seed: int) -> pd.DataFrame:
    from tmesim.engine import Simulation
    from tmesim.engine.kernels import ALIVE, E_INTRAVASATION, E_KILLED

    sim = Simulation(model, seed=int(seed))
    names = sim.cm.type_names
    per_day = sim.steps_for(MINUTES_PER_DAY)
    rows = []

    tumor = model.types_with_role(Role.CANCER)
    cancer = np.array([names.index(t) for t in tumor], dtype=np.int64)

    def record(day: float, intra: float, killed: float, clustered: float = 0.0) -> None:
        n = sim.n
        live = sim.dead[:n] == ALIVE
        ct = sim.ctype[:n]
        row = {"time_days": day, **{k: float(v) for k, v in sim.counts().items()}}
        dead = np.bincount(ct[~live], minlength=len(names))
        row |= {f"dead_{nm}": float(dead[i]) for i, nm in enumerate(names)}
        row["intravasation_per_day"] = intra
        row["intravasation_cluster_cells_per_day"] = clustered
        row[KILLED] = killed
        for t, k in zip(tumor, cancer, strict=True):
            sel = live & (ct == k)
            for v, vname in enumerate(sim.cm.var_names):
                row[f"mean_{vname}_{t}"] = float(sim.var[:n, v][sel].mean()) if sel.any() else float("nan")
        row |= {s: float(sim.fields[k].mean()) for k, s in enumerate(sim.cm.substrate_names)}
        rows.append(row)

    record(0.0, 0.0, 0.0)
    for d in range(1, int(np.ceil(days)) + 1):
        intra = killed = clustered = 0
        for _ in range(per_day):
            sim.step()
            ev = sim.take_events()
            out = ev["kind"] == E_INTRAVASATION
            intra += int(np.count_nonzero(out))
            clustered += int(np.count_nonzero(out & (ev["arg"] != ev["uid"])))  # left with a cluster
            killed += int(np.count_nonzero((ev["kind"] == E_KILLED) & np.isin(ev["ctype"], cancer)))
        record(float(d), float(intra), float(killed), float(clustered))
    return pd.DataFrame(rows)


__all__ = ["ENGINES", "KILLED", "MEAN_EMT", "TUMOR", "Engine", "run_section"]
