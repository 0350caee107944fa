"""Virtual 3D co-culture: a tumor spheroid embedded in a matrix gel, with optional CAFs or macrophages.

The model is the shipped preset ``spheroid`` (``presets/spheroid.yaml`` + ``spheroid_rules.csv``):
cancer cells (and, when asked for, CAFs and/or macrophages mixed into the spheroid) sit in a
gel whose protein density is the substrate ``matrix`` (µg/mL, no diffusion, no decay). Cells
degrade the gel at their site (``matrix uptake``, raised by the MMPs around them) and the gel
slows their migration (a decreasing Hill rule with half-max ``1500 µg/mL × factor`` for cancer
cells). The matrix kind (``presets/spheroid_matrices.csv``) sets the default density, the
factor on the half-max of the slowing rules and a degradability factor on every degradation
rate. CAFs and macrophages make the spheroid invade more through MMPs (degraded tracks),
TGF-β and EGF (faster cancer cells).

Read-outs at every output time (``time.output_interval``, 0.25 day), on live cancer cells, with
``r`` the distance of a cell's site centre from the spheroid centre and ``R0`` the initial
spheroid radius:

* ``invasion_distance_um``: 95th percentile of ``r`` minus ``R0`` (how far the invasive front
  has moved; 0 when it has not);
* ``invasion_max_um``: the furthest cancer cell, ``max r − R0``;
* ``area_um2``: area of the spheroid's outline (sites of cancer cells, 1-site closing, holes
  filled; for 3D runs the projection onto the x–y plane), as image analysis measures it;
* ``invading_cells``: cancer cells beyond ``R0`` + one site;
* ``n_cancer`` and ``matrix_remaining``: the mean matrix density left inside the disc of radius
  ``R0 + 200 µm`` relative to the initial density.

:func:`spheroid_model` builds the model, :func:`run_spheroid` runs it in memory and returns the
time course (pandas), :func:`invasion_metrics` measures one cell table.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tmesim.engine import Simulation
from tmesim.model import Model, ModelError, model_from_dict
from tmesim.model.roles import Role
from tmesim.model.rules_csv import read_rules_csv
from tmesim.units import MINUTES_PER_DAY

PRESET = "spheroid"
# co-culture option → role of the cell type it adds (the options are named after the roles)
COCULTURE_ROLES = {"caf": Role.CAF, "macrophage": Role.MACROPHAGE}
COCULTURE = tuple(COCULTURE_ROLES)
MATRIX = "matrix"
FRONT_QUANTILE = 0.95  # invasion distance: this quantile of the cancer cells' radial distance


def _preset_dir() -> Path:
    from tmesim.presets import preset_path

    return preset_path(PRESET).parent


def matrices() -> pd.DataFrame:
    """The matrix kinds: default density (mg/mL), half-max factor, degradability, source."""
    with open(_preset_dir() / "spheroid_matrices.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    df = pd.DataFrame(rows).set_index("matrix")
    for c in ("density_mg_per_ml", "speed_half_max_factor", "degradability"):
        df[c] = df[c].astype(float)
    return df


def spheroid_model(cocultured: tuple[str, ...] | list[str] = (), matrix: str = "collagen",
                   density: float | None = None, dims: int = 2, days: float | None = None) -> Model:
    """The spheroid assay model.

    ``cocultured``: any of ``caf``, ``macrophage``; ``matrix``: collagen, fibronectin,
    laminin or gelatin; ``density``: mg/mL (default: the matrix's usual density);
    ``dims``: 2 (a section, default) or 3 (a 32³ lattice); ``days``: default duration.
    """
    table = matrices()
    if matrix not in table.index:
        raise ModelError("matrix", f"unknown matrix {matrix!r}; allowed: {', '.join(table.index)}")
    unknown = [c for c in cocultured if c not in COCULTURE]
    if unknown:
        raise ModelError("cocultured", f"unknown co-cultured cell {unknown[0]!r}; allowed: {', '.join(COCULTURE)}")
    if dims not in (2, 3):
        raise ModelError("dims", f"dims must be 2 or 3, got {dims}")
    row = table.loc[matrix]
    dens = float(row["density_mg_per_ml"] if density is None else density)
    if not dens > 0:
        raise ModelError("density", f"matrix density must be > 0 mg/mL, got {density}")
    base = _preset_dir()
    data: dict[str, Any] = yaml.safe_load((base / f"{PRESET}.yaml").read_text())
    data = copy.deepcopy(data)
    data["name"] = f"spheroid-{matrix}-{dens:g}mgml" + "".join(f"-{c}" for c in sorted(set(cocultured)))
    factor, degr = float(row["speed_half_max_factor"]), float(row["degradability"])
    src = f"assay setting: {matrix} gel at {dens:g} mg/mL ({row['source']})"
    for s in data["substrates"]:
        if s["name"] == MATRIX:
            s["initial"] = dens * 1000.0  # µg/mL
            s["description"] = f"{matrix} gel, {dens:g} mg/mL"
    for ct in data["cell_types"]:
        up = ct["behaviours"].get(f"{MATRIX} uptake")
        if up is not None:
            up = dict(up)
            up["value"] = float(up["value"]) * degr
            ct["behaviours"][f"{MATRIX} uptake"] = up
    rules = read_rules_csv(base / data["rules"])
    for r in rules:
        if r["signal"] == MATRIX and r["behaviour"] == "migration speed":
            r["half_max"] = float(r["half_max"]) * factor
            r["source"] = f"{r['source']}; x{factor:g} for {matrix} ({row['source']})"
        if r["behaviour"] == f"{MATRIX} uptake":
            r["saturation"] = float(r["saturation"]) * degr
    data["rules"] = rules
    roles = {ct["name"]: ct.get("role") for ct in data["cell_types"]}
    keep = {Role.CANCER, *(COCULTURE_ROLES[c] for c in cocultured)}
    data["initial"] = [p for p in data["initial"] if roles.get(p["cell_type"]) in keep]
    if dims == 3:
        data["domain"] = dict(data["domain"], dims=3, shape=[32, 32, 32])
    if days is not None:
        data["time"] = dict(data["time"], days=float(days))
    data.setdefault("description", "")
    data["description"] = f"{data['description'].strip()} Matrix: {src}."
    return model_from_dict(data, base_dir=base)


def _initial_radius(model: Model) -> float:
    for p in model.initial:
        if p.cell_type in model.types_with_role(Role.CANCER) and p.region == "disc":
            return float(getattr(p.radius, "value", p.radius))
    raise ModelError("initial", "the spheroid model needs a cancer disc placement")


def invasion_metrics(cells: pd.DataFrame, model: Model, matrix_field: np.ndarray | None = None,
                     initial_density: float | None = None) -> dict[str, float]:
    """Invasion read-outs of one cell table (columns ``cell_type, status, x_um, y_um, z_um``)."""
    from scipy import ndimage

    dom = model.domain
    site = float(getattr(dom.site_size, "value", dom.site_size))
    shape = [int(s) for s in dom.shape]
    dims = int(dom.dims)
    centre = np.array([s * site / 2.0 for s in shape])
    r0 = _initial_radius(model)
    live = cells[(cells["status"] == "live") & cells["cell_type"].astype(str).isin(model.types_with_role(Role.CANCER))]
    pos = live[["x_um", "y_um", "z_um"][:dims]].to_numpy(dtype=float)
    r = np.sqrt(((pos - centre) ** 2).sum(axis=1)) if len(pos) else np.zeros(0)
    mask = np.zeros((shape[1], shape[0]), bool)
    if len(pos):
        ix = np.clip((pos[:, 0] // site).astype(int), 0, shape[0] - 1)
        iy = np.clip((pos[:, 1] // site).astype(int), 0, shape[1] - 1)
        mask[iy, ix] = True
        mask = ndimage.binary_fill_holes(ndimage.binary_closing(mask, iterations=1, border_value=0) | mask)
    out = {
        "n_cancer": float(len(live)),
        "invasion_distance_um": float(max(np.quantile(r, FRONT_QUANTILE) - r0, 0.0)) if len(r) else 0.0,
        "invasion_max_um": float(max(r.max() - r0, 0.0)) if len(r) else 0.0,
        "area_um2": float(mask.sum()) * site * site,
        "invading_cells": float((r > r0 + site).sum()),
    }
    if matrix_field is not None and initial_density:
        grid = np.indices(matrix_field.shape[::-1]).reshape(len(matrix_field.shape), -1).T  # x, y(, z)
        cen = (grid + 0.5) * site
        rr = np.sqrt(((cen[:, :dims] - centre[:dims]) ** 2).sum(axis=1))
        vals = matrix_field.transpose().reshape(-1)
        out["matrix_remaining"] = float(vals[rr <= r0 + 200.0].mean() / initial_density)
    return out


def _cells_frame(sim: Simulation) -> pd.DataFrame:
    c, cm = sim.cells(), sim.cm
    names = np.array(cm.type_names, dtype=object)
    return pd.DataFrame({
        "cell_type": names[c["type"]], "status": np.where(c["dead"] == 0, "live", "dead"),
        "x_um": (c["x"] + 0.5) * cm.dx, "y_um": (c["y"] + 0.5) * cm.dx, "z_um": (c["z"] + 0.5) * cm.dx,
    })


class _Timecourse:
    """Engine observer collecting :func:`invasion_metrics` at every output time."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.rows: list[dict[str, float]] = []
        self.m_idx = [s.name for s in model.substrates].index(MATRIX)
        self.initial = float(model.substrates[self.m_idx].initial)

    def on_output(self, sim: Simulation) -> None:
        field = sim.fields[self.m_idx]
        field2 = field[0] if field.shape[0] == 1 else field  # (y, x) or (z, y, x)
        row = {"time_days": sim.time / MINUTES_PER_DAY}
        row.update(invasion_metrics(_cells_frame(sim), self.model, field2, self.initial))
        self.rows.append(row)

    def on_checkpoint(self, sim: Simulation) -> None:  # noqa: ARG002 - no checkpoints in memory
        return None


def run_spheroid(cocultured: tuple[str, ...] | list[str] = (), matrix: str = "collagen",
                 density: float | None = None, days: float = 3.0, seed: int = 0, dims: int = 2,
                 model: Model | None = None) -> pd.DataFrame:
    """Run the spheroid assay in memory; one row of invasion read-outs per output time.

    ``days`` must be > 0. The table's ``attrs`` hold the settings (matrix, density,
    co-cultured cells, seed, model name).
    """
    if not 0 < days < float("inf"):
        raise ModelError("days", f"must be a finite number of days > 0, got {days}")
    m = model if model is not None else spheroid_model(cocultured, matrix, density, dims)
    obs = _Timecourse(m)
    Simulation(m, seed=seed).run(days=days, observer=obs)
    df = pd.DataFrame(obs.rows)
    df.attrs.update({"model": m.name, "matrix": matrix, "density_mg_per_ml": obs.initial / 1000.0,
                     "cocultured": ",".join(sorted(set(cocultured))), "seed": int(seed), "days": float(days)})
    return df
