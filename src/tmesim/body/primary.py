"""The primary tumor as a source of circulating cells.

The spatial engine simulates a section of the primary tumor and records every cell that
intravasates, with the EMT state it carries and its cluster id (touching cells that leave
together). :func:`measure_shedding` turns that into rates per tumor cell and minute, by EMT
class, for single cells and for clusters. The whole tumor is larger than the section: its
size follows a Gompertz law through diagnosis to surgery, and shedding scales with it (the
section is taken as representative of the tumor; shedding of 3-4e6 cells per gram per day
was measured by Butler & Gullino, Cancer Res 1975;35:512, which the default catalog's
intravasation rules reproduce in order of magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmesim.engine import Simulation
from tmesim.engine.kernels import E_INTRAVASATION
from tmesim.engine.summary import EMT_BANDS
from tmesim.model import Model
from tmesim.model.body import EMT_CLASSES, Primary
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY


def emt_class(emt: np.ndarray) -> np.ndarray:
    """0 epithelial, 1 hybrid E/M, 2 mesenchymal (the report's EMT bands)."""
    return (np.asarray(emt) >= EMT_BANDS[1][0]).astype(int) + (np.asarray(emt) >= EMT_BANDS[2][0]).astype(int)


@dataclass
class SheddingProfile:
    """Intravasation per tumor cell and minute, measured on the spatial section.

    ``single[c]``: cells leaving alone, by EMT class; ``cluster[c]``: clusters, by the EMT
    class of the cell that led them out; ``cluster_size``: mean cells per cluster.
    """

    single: np.ndarray
    cluster: np.ndarray
    cluster_size: float
    tumor_cell_minutes: float
    events: int
    class_share: np.ndarray = field(default_factory=lambda: np.full(3, 1 / 3))

    @classmethod
    def from_events(cls, emt: np.ndarray, cluster_id: np.ndarray, tumor_cell_minutes: float,
                    class_share: np.ndarray | None = None) -> SheddingProfile:
        """Rates from intravasation events (EMT score and cluster id of each departing cell)."""
        emt = np.asarray(emt, float)
        cid = np.asarray(cluster_id)
        single = np.zeros(3)
        cluster = np.zeros(3)
        sizes = []
        if len(cid):
            cls_of = pd.Series(emt_class(emt))
            size = cls_of.groupby(cid).transform("size").to_numpy()
            np.add.at(single, cls_of.to_numpy()[size == 1], 1.0)
            # A cluster's class is the median EMT class of its members.
            grouped = cls_of[size > 1].groupby(cid[size > 1])
            np.add.at(cluster, grouped.median().round().to_numpy(int), 1.0)
            sizes = grouped.size().tolist()
        minutes = max(float(tumor_cell_minutes), 1e-12)
        share = np.full(3, 1 / 3) if class_share is None else np.asarray(class_share, float)
        return cls(single / minutes, cluster / minutes, float(np.mean(sizes)) if sizes else 2.0,
                   float(tumor_cell_minutes), int(len(cid)), share)

    @classmethod
    def from_run(cls, events, summary, tumor_types: list[str]) -> SheddingProfile:  # noqa: ANN001
        """Rates from a run directory's events and summary tables (pandas)."""
        ev = events[events["event"] == "intravasation"]
        emt = ev["emt"].to_numpy(float) if "emt" in ev else np.zeros(len(ev))
        cid = ev["cluster_id"].to_numpy() if "cluster_id" in ev else ev["uid"].to_numpy()
        live = summary[summary["cell_type"].isin(tumor_types) & ~summary["state"].isin(
            ["apoptotic", "necrotic", "killed", "gone"])]
        per_time = live.groupby("time_days")["count"].sum().sort_index()
        x, y = per_time.index.to_numpy(float), per_time.to_numpy(float)
        minutes = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x))) * MIN_PER_DAY if len(x) > 1 else 0.0
        share = np.array([live[live["state"] == c]["count"].sum() for c in EMT_CLASSES], float)
        return cls.from_events(emt, cid, minutes, share / share.sum() if share.sum() > 0 else None)

    @classmethod
    def from_rate(cls, cells_per_cell_day: float, class_share: np.ndarray, cluster_fraction: float = 0.1,
                  cluster_size: float = 2.0) -> SheddingProfile:
        """A profile from a population-level rate (e.g. the mean-field engine's
        ``intravasation_per_day`` / tumor cells): ``class_share`` splits it over epithelial,
        hybrid and mesenchymal cells; ``cluster_fraction`` of the cells leave in clusters."""
        share = np.asarray(class_share, float)
        share = share / share.sum() if share.sum() > 0 else np.full(3, 1 / 3)
        per_min = float(cells_per_cell_day) / MIN_PER_DAY
        single = per_min * (1.0 - cluster_fraction) * share
        cluster = per_min * cluster_fraction * share / cluster_size
        return cls(single, cluster, float(cluster_size), 0.0, 0, share)

    def cells_per_cell_minute(self) -> float:
        return float(self.single.sum() + self.cluster.sum() * self.cluster_size)

    def as_dict(self) -> dict[str, float]:
        out = {f"single_{c}_per_cell_day": float(v * MIN_PER_DAY) for c, v in zip(EMT_CLASSES, self.single, strict=True)}
        out |= {f"cluster_{c}_per_cell_day": float(v * MIN_PER_DAY) for c, v in zip(EMT_CLASSES, self.cluster, strict=True)}
        out |= {"cluster_size": self.cluster_size, "events": float(self.events),
                "tumor_cell_days": self.tumor_cell_minutes / MIN_PER_DAY}
        return out


def tumor_types(model: Model) -> list[str]:
    """Cell types that can intravasate (base rate > 0 or a rule on intravasation)."""
    ruled = {r.cell_type for r in model.rules if r.behaviour == "intravasation"}
    out = []
    for ct in model.cell_types:
        base = ct.behaviours.get("intravasation")
        if ct.name in ruled or (base is not None and float(getattr(base, "value", base) or 0) > 0):
            out.append(ct.name)
    return out


def measure_shedding(sim: Simulation, days: float, progress=None) -> SheddingProfile:  # noqa: ANN001
    """Run the spatial section for ``days`` and measure its intravasation."""
    types = tumor_types(sim.model)
    if not types:
        from tmesim.model import ModelError

        raise ModelError("body", "no cell type can intravasate (no 'intravasation' base value or rule), "
                                 "so the primary tumor sheds no cells; add intravasation rules to the tumor cell type")
    steps = sim.steps_for(days * MIN_PER_DAY)
    dt = sim.cm.dt
    cell_minutes = 0.0
    share = np.zeros(3)
    emt_idx = sim.cm.var_names.index("emt") if "emt" in sim.cm.var_names else -1
    emts, cids = [], []
    for k in range(steps):
        n_t = sum(sim.count(t) for t in types)
        cell_minutes += n_t * dt
        if emt_idx >= 0 and k % 10 == 0:
            live = sim.cells()
            tumor = np.isin(live["type"], [sim.cm.type_names.index(t) for t in types]) & (live["dead"] == 0)
            share += np.bincount(emt_class(live["emt"][tumor]), minlength=3)
        sim.step()
        ev = sim.take_events()
        intra = ev["kind"] == E_INTRAVASATION
        if intra.any():
            emts.append(ev["state"][intra, emt_idx] if emt_idx >= 0 else np.zeros(intra.sum()))
            cids.append(ev["arg"][intra])
        if progress is not None:
            progress(sim)
    emt = np.concatenate(emts) if emts else np.zeros(0)
    cid = np.concatenate(cids) if cids else np.zeros(0, np.int64)
    share = share / share.sum() if share.sum() > 0 else None
    return SheddingProfile.from_events(emt, cid, cell_minutes, share)


@dataclass(frozen=True)
class Gompertz:
    """N(t) = K exp(ln(N0/K) exp(-beta t)), t in days, fitted to the doubling time at diagnosis."""

    n0: float
    k: float
    beta: float

    @classmethod
    def for_primary(cls, p: Primary) -> Gompertz:
        n0, nd, k = p.initial_cells.value, p.diagnosis_cells.value, p.carrying_capacity.value
        rate_at_diagnosis = np.log(2.0) / (p.doubling_time.value / MIN_PER_DAY)  # 1/day
        return cls(n0, k, rate_at_diagnosis / np.log(k / nd))

    def size(self, t: np.ndarray | float) -> np.ndarray:
        return self.k * np.exp(np.log(self.n0 / self.k) * np.exp(-self.beta * np.asarray(t, float)))

    def time_to(self, n: float) -> float:
        return float(-np.log(np.log(n / self.k) / np.log(self.n0 / self.k)) / self.beta)


__all__ = ["Gompertz", "SheddingProfile", "emt_class", "measure_shedding", "tumor_types"]
