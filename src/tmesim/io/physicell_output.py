"""A run directory written as PhysiCell's MultiCellDS output (what pcdl and PhysiCell Studio read).

For each output time of the run: ``outputNNNNNNNN.xml`` (MultiCellDS 2 metadata: time, mesh,
substrates with diffusion and decay, the cell labels and cell types),
``outputNNNNNNNN_cells.mat`` (``cells``: one column per cell, one row per label) and
``outputNNNNNNNN_microenvironment0.mat`` (``multiscale_microenvironment``: rows x, y, z, voxel
volume, then one row per substrate; one column per voxel, x fastest), plus
``initial_mesh0.mat`` and empty neighbour/attachment graph files. The ``.mat`` files are MATLAB
level-4 files as PhysiCell writes them (``scipy.io.savemat(format="4")``).

Lattice → PhysiCell: a cell sits at its site's centre with its type's volume; substrates live
on the lattice (voxel = site, z = 0 in 2D with a site-thick voxel). Cell type IDs are the model's
order. Live cells are in PhysiCell's "live" cycle (model 5, phase 14); dead cells in the
apoptosis (100) or necrosis (101) death model with phase 100 (apoptotic) or 103 (necrotic).
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from tmesim.model import ModelError

from .atomic import atomic_write, atomic_write_text
from .rundir import RunDirectory

LIVE_CYCLE, LIVE_PHASE = 5, 14
APOPTOSIS_MODEL, NECROSIS_MODEL = 100, 101
APOPTOTIC_PHASE, NECROTIC_PHASE = 100, 103
DEAD_STATUS = {"apoptotic": (APOPTOSIS_MODEL, APOPTOTIC_PHASE), "killed": (APOPTOSIS_MODEL, APOPTOTIC_PHASE),
               "necrotic": (NECROSIS_MODEL, NECROTIC_PHASE)}


def _savemat(path: Path, name: str, array: np.ndarray) -> None:
    from scipy.io import savemat

    atomic_write(path, lambda p: savemat(str(p), {name: np.ascontiguousarray(array, dtype=np.float64)}, format="4"))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _labels(custom: list[str], damage: bool) -> list[tuple[str, int, str]]:
    out = [("ID", 1, "none"), ("position", 3, "microns"), ("total_volume", 1, "cubic microns"),
           ("cell_type", 1, "none"), ("cycle_model", 1, "none"), ("current_phase", 1, "none"),
           ("elapsed_time_in_phase", 1, "min"), ("dead", 1, "none"), ("current_death_model", 1, "none"),
           ("chemotaxis_index", 1, "none")]
    if damage:
        out.append(("damage", 1, "none"))
    out += [(c, 1, "dimensionless") for c in custom]
    return out


def export_physicell(run_dir: str | Path, out: str | Path) -> list[Path]:
    """Write every output time of ``run_dir`` as MultiCellDS into ``out``; returns the XML files."""
    rd = RunDirectory(run_dir)
    model = rd.model()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = rd.fields()
    dx = model.domain.site_size.value
    nz, ny, nx = model.domain.grid
    xs, ys = (np.arange(nx) + 0.5) * dx, (np.arange(ny) + 0.5) * dx
    zs = (np.arange(nz) + 0.5) * dx if model.domain.dims == 3 else np.zeros(1)
    zz, yy, xx = np.meshgrid(zs, ys, xs, indexing="ij")  # x fastest when flattened
    voxel = dx**3
    mesh = np.vstack([xx.ravel(), yy.ravel(), zz.ravel(), np.full(xx.size, voxel)])
    _savemat(out / "initial_mesh0.mat", "mesh", mesh)
    types = model.cell_type_names
    volume = {ct.name: (ct.volume.value if ct.volume is not None else voxel) for ct in model.cell_types}
    subs = model.substrate_names
    custom = list(model.custom_variables)
    field_times = np.asarray(ds["time"].values, float)
    written: list[Path] = []
    for k, day in enumerate(rd.snapshot_times()):
        stem = f"output{k:08d}"
        cells = rd.cells(day)
        damage = "damage" in cells.columns
        labels = _labels(custom, damage)
        cells_arr = _cell_matrix(cells, types, volume, custom, damage, model.domain.dims, sum(n for _, n, _ in labels))
        _savemat(out / f"{stem}_cells.mat", "cells", cells_arr)
        t = int(np.argmin(np.abs(field_times - day)))
        rows = [np.asarray(ds[s].isel(time=t).values, np.float64).ravel() for s in subs]
        _savemat(out / f"{stem}_microenvironment0.mat", "multiscale_microenvironment",
                 np.vstack([mesh, *rows]) if rows else mesh)
        for graph in ("cell_neighbor_graph", "attached_cells_graph", "spring_attached_cells_graph"):
            atomic_write_text(out / f"{stem}_{graph}.txt", "".join(f"{int(u)}:\n" for u in cells["uid"]))
        xml = _xml(model, stem, day * 1440.0, xs, ys, zs, labels, len(cells), types)
        path = out / f"{stem}.xml"
        atomic_write_text(path, xml)
        written.append(path)
    if not written:
        raise ModelError("run", f"{str(run_dir)!r} has no outputs to export")
    return written


def _cell_matrix(cells: pd.DataFrame, types: list[str], volume: dict[str, float], custom: list[str],
                 damage: bool, dims: int, n_rows: int) -> np.ndarray:
    n = len(cells)
    status = cells["status"].astype(str).to_numpy()
    ctype = cells["cell_type"].astype(str).to_numpy()
    dead = status != "live"
    death = np.array([DEAD_STATUS.get(s, (APOPTOSIS_MODEL, APOPTOTIC_PHASE)) for s in status]).reshape(-1, 2)
    cols = [
        cells["uid"].to_numpy(float),
        cells["x_um"].to_numpy(float), cells["y_um"].to_numpy(float),
        cells["z_um"].to_numpy(float) if dims == 3 else np.zeros(n),
        np.array([volume[t] for t in ctype], float),
        np.array([types.index(t) for t in ctype], float),
        np.where(dead, death[:, 0], LIVE_CYCLE).astype(float),
        np.where(dead, death[:, 1], LIVE_PHASE).astype(float),
        np.zeros(n),
        dead.astype(float),
        np.where(dead, death[:, 0], APOPTOSIS_MODEL).astype(float),
        np.zeros(n),
    ]
    if damage:
        cols.append(cells["damage"].to_numpy(float))
    cols += [cells[f"custom:{c}"].to_numpy(float) if f"custom:{c}" in cells else np.zeros(n) for c in custom]
    arr = np.vstack(cols) if n else np.zeros((len(cols), 0))
    assert arr.shape[0] == n_rows
    return arr


def _xml(model, stem: str, minutes: float, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray,  # noqa: ANN001
         labels: list[tuple[str, int, str]], n_cells: int, types: list[str]) -> str:
    from tmesim._version import __version__

    dx = model.domain.site_size.value
    root = ET.Element("MultiCellDS", version="2", type="snapshot/simulation")
    meta = _sub(root, "metadata")
    sw = _sub(meta, "software")
    _sub(sw, "name", "PhysiCell")  # pcdl reads the writer's name and version from here
    _sub(sw, "version", f"tmesim-{__version__}")
    _sub(meta, "created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(meta, "last_modified", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(meta, "current_time", f"{minutes:.6f}", units="min")
    _sub(meta, "current_runtime", "0", units="sec")
    dom = _sub(_sub(root, "microenvironment"), "domain", name="microenvironment")
    mesh = _sub(dom, "mesh", type="Cartesian", uniform="true", regular="true", units="micron")
    z_lo, z_hi = (0.0, dx) if model.domain.dims == 3 else (-dx / 2, dx / 2)
    z_hi = float(zs[-1] + dx / 2) if model.domain.dims == 3 else z_hi
    _sub(mesh, "bounding_box", f"0 0 {z_lo:g} {xs[-1] + dx / 2:g} {ys[-1] + dx / 2:g} {z_hi:g}", type="axis-aligned",
         units="micron", delimiter=" ")
    for axis, vals in (("x", xs), ("y", ys), ("z", zs)):
        _sub(mesh, f"{axis}_coordinates", " ".join(f"{v:g}" for v in vals), delimiter=" ")
    _sub(_sub(mesh, "voxels", type="matlab"), "filename", "initial_mesh0.mat")
    variables = _sub(dom, "variables")
    for i, s in enumerate(model.substrates):
        v = _sub(variables, "variable", name=s.name, units=s.unit, ID=str(i))
        pp = _sub(v, "physical_parameter_set")
        _sub(pp, "conditions")
        _sub(pp, "diffusion_coefficient", f"{s.diffusion.value:g}", units="micron^2/min")
        _sub(pp, "decay_rate", f"{s.decay.value:g}", units="1/min")
    _sub(_sub(dom, "data", type="matlab"), "filename", f"{stem}_microenvironment0.mat")
    pop = _sub(_sub(_sub(root, "cellular_information"), "cell_populations"), "cell_population", type="individual")
    custom = _sub(pop, "custom")
    sd = _sub(custom, "simplified_data", type="matlab", source="PhysiCell", data_version="2")
    ct = _sub(sd, "cell_types")
    for i, t in enumerate(types):
        _sub(ct, "type", t, ID=str(i), type=str(i))
    lab = _sub(sd, "labels")
    index = 0
    for name, size, units in labels:
        _sub(lab, "label", name, index=str(index), size=str(size), units=units)
        index += size
    _sub(sd, "filename", f"{stem}_cells.mat")
    for graph in ("neighbor_graph", "attached_cells_graph", "spring_attached_cells_graph"):
        fname = f"{stem}_cell_neighbor_graph.txt" if graph == "neighbor_graph" else f"{stem}_{graph}.txt"
        _sub(_sub(custom, graph, type="text", source="PhysiCell", data_version="2"), "filename", fname)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
