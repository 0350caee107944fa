"""A run snapshot as a SpatialData object (scverse), and a Vitessce configuration to browse it.

:func:`run_spatialdata` builds, for one snapshot day of a run:

* ``points/cell_points``: every cell (live and dead) at its position in µm, with ``cell_type``,
  ``status``, ``state`` and ``uid``;
* ``shapes/cells``: the same cells as circles of radius half a lattice site (what a viewer
  draws and what the table annotates);
* ``images/fields``: the substrate fields at that day as one image with a channel per
  substrate (the middle z-plane of a 3D run), scaled to µm;
* ``tables/table``: the spatial AnnData of :func:`tmesim.readouts.spatial_anndata` (counts of
  every live cell), annotating ``shapes/cells`` through ``instance_id``.

All elements share the ``global`` coordinate system in µm. :func:`vitessce_config` writes the
JSON view configuration (schema 1.0.17, ``spatialdata.zarr`` file type) for that store. The
configuration is written as plain JSON rather than with the ``vitessce`` package, whose
current release pins zarr 2 while tmesim uses zarr 3.

spatialdata is imported only when these functions run (extra ``spatial``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory

from ._common import open_run, snapshot_day
from .singlecell import _require, spatial_anndata

REGION = "cells"


def run_spatialdata(run_dir: str | Path | RunDirectory, day: float | None = None, seed: int = 0) -> Any:
    """A SpatialData object of one snapshot (default: the last) of a run."""
    sd = _require("spatialdata", "spatial")
    from spatialdata.models import Image2DModel, PointsModel, ShapesModel, TableModel
    from spatialdata.transformations import Identity, Scale

    rd = open_run(run_dir)
    t = snapshot_day(rd, day)
    cells = rd.cells(t).reset_index(drop=True)
    model = rd.model()
    dx = model.domain.site_size.value
    dims = model.domain.dims
    glob = {"global": Identity()}
    frame = pd.DataFrame({
        "x": cells["x_um"].to_numpy(float), "y": cells["y_um"].to_numpy(float),
        "cell_type": pd.Categorical(cells["cell_type"].astype(str), categories=model.cell_type_names),
        "status": cells["status"].astype(str).to_numpy(), "state": cells["state"].astype(str).to_numpy(),
        "uid": cells["uid"].to_numpy(np.int64),
    })
    if dims == 3:
        frame["z"] = cells["z_um"].to_numpy(float)
    points = PointsModel.parse(frame, coordinates={"x": "x", "y": "y", **({"z": "z"} if dims == 3 else {})},
                               feature_key="cell_type", transformations=glob)
    live = (cells["status"] == "live").to_numpy()
    shapes_df = cells.loc[live, ["x_um", "y_um"]].to_numpy(float)
    shapes = ShapesModel.parse(shapes_df, geometry=0, radius=np.full(len(shapes_df), dx / 2.0),
                               index=pd.Index(np.arange(len(shapes_df)), name="instance_id"), transformations=glob)
    images = {}
    ds = rd.fields()
    subs = model.substrate_names
    if subs and ds.sizes.get("time", 0):
        snap = ds.sel(time=t, method="nearest")
        planes = [np.asarray(snap[s].isel(z=snap[s].sizes["z"] // 2).values, np.float32) for s in subs]
        images["fields"] = Image2DModel.parse(np.stack(planes), dims=("c", "y", "x"), c_coords=subs,
                                              transformations={"global": Scale([dx, dx], axes=("y", "x"))})
    table = spatial_anndata(rd, day=t, seed=seed)
    table.obs["instance_id"] = np.arange(table.n_obs)
    table.obs["element"] = pd.Categorical([REGION] * table.n_obs)
    table.obs.index = table.obs.index.astype(str)
    table = TableModel.parse(table, region=REGION, region_key="element", instance_key="instance_id")
    return sd.SpatialData(images=images, points={"cell_points": points}, shapes={REGION: shapes}, tables={"table": table})


def write_spatialdata(sdata: Any, out: str | Path) -> tuple[Path, list[str]]:
    """Write ``sdata`` as a zarr store at ``out`` (a folder ending in .zarr), replacing it atomically.

    Returns the path and warnings. Some releases of the spatialdata / ome-zarr / dask stack
    cannot write raster elements (spatialdata 0.7.0 with ome-zarr 0.18 and dask 2026.8 pass
    dask's per-block chunks to zarr 3, which refuses them); the store is then written without
    ``images/fields`` and a warning says so (the fields stay in the run's ``fields.zarr``).
    """
    from tmesim.io.atomic import atomic_replace_dir

    out = Path(out)
    if not out.parent.is_dir():
        raise ModelError("out", f"folder {str(out.parent)!r} does not exist")
    if out.suffix != ".zarr":
        raise ModelError("out", f"{str(out)!r} must end in .zarr")
    warnings: list[str] = []

    def build(tmp: Path) -> None:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        try:
            sdata.write(tmp, overwrite=True)
        except TypeError as exc:
            if not len(sdata.images):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            for name in list(sdata.images):
                del sdata.images[name]
            warnings.append(f"the installed spatialdata stack cannot write images ({exc}); the store has no "
                            "images/fields (the substrate fields are in the run's fields.zarr)")
            sdata.write(tmp, overwrite=True)

    atomic_replace_dir(out, build)
    return out, warnings


def vitessce_config(store_url: str, name: str, substrates: list[str]) -> dict[str, Any]:
    """A Vitessce view config for a store written by :func:`write_spatialdata` at ``store_url``."""
    table = "tables/table"
    options: dict[str, Any] = {
        "obsSpots": {"path": f"shapes/{REGION}", "tablePath": table, "region": REGION, "coordinateSystem": "global"},
        "obsFeatureMatrix": {"path": f"{table}/X", "region": REGION},
        "obsSets": [{"name": "cell type", "path": f"{table}/obs/cell_type", "tablePath": table, "region": REGION},
                    {"name": "region", "path": f"{table}/obs/region", "tablePath": table, "region": REGION}],
    }
    if substrates:
        options["image"] = {"path": "images/fields", "coordinateSystem": "global"}
    return {
        "version": "1.0.17", "name": name, "description": f"tmesim run {name}: cells, counts and substrate fields",
        "initStrategy": "auto",
        "datasets": [{"uid": "run", "name": name,
                      "files": [{"fileType": "spatialdata.zarr", "url": store_url, "options": options}]}],
        "coordinationSpace": {"dataset": {"A": "run"}, "obsType": {"A": "cell"}, "featureType": {"A": "gene"}},
        "layout": [
            {"component": "spatialBeta", "coordinationScopes": {"dataset": "A", "obsType": "A"}, "x": 0, "y": 0, "w": 8, "h": 12},
            {"component": "layerControllerBeta", "coordinationScopes": {"dataset": "A", "obsType": "A"}, "x": 8, "y": 0, "w": 4, "h": 4},
            {"component": "obsSets", "coordinationScopes": {"dataset": "A", "obsType": "A"}, "x": 8, "y": 4, "w": 4, "h": 4},
            {"component": "featureList", "coordinationScopes": {"dataset": "A", "featureType": "A"}, "x": 8, "y": 8, "w": 4, "h": 4},
        ],
    }


def write_vitessce_config(config: dict[str, Any], out: str | Path) -> Path:
    from tmesim.io.atomic import atomic_write_json

    out = Path(out)
    atomic_write_json(out, config)  # strict JSON
    return out
