"""SpatialData readout of a run (cells as points and shapes, fields as an image, counts as a
table) and its Vitessce configuration; the AnnData readouts are unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tmesim

sd = pytest.importorskip("spatialdata", reason="spatialdata is in the test extra")


@pytest.fixture(scope="module")
def store(tnbc_run, tmp_path_factory):  # noqa: ANN001, ANN201
    from tmesim.readouts.spatialdata import run_spatialdata, write_spatialdata

    out = tmp_path_factory.mktemp("sdata") / "run.zarr"
    write_spatialdata(run_spatialdata(tnbc_run, day=2.0), out)
    return out


def test_fields_image_in_memory(tnbc_run) -> None:  # noqa: ANN001
    from tmesim.readouts.spatialdata import run_spatialdata

    rd = tmesim.RunDirectory(tnbc_run)
    img = run_spatialdata(tnbc_run, day=2.0).images["fields"]
    assert list(img.coords["c"].values) == rd.model().substrate_names
    oxygen = rd.fields()["oxygen"].sel(time=2.0).values[0]
    np.testing.assert_allclose(img.sel(c="oxygen").values, oxygen, rtol=1e-6)
    assert set(sd.transformations.get_transformation(img, get_all=True)) == {"global"}


def test_elements_match_the_run(store, tnbc_run) -> None:  # noqa: ANN001
    rd = tmesim.RunDirectory(tnbc_run)
    cells = rd.cells(2.0)
    s = sd.read_zarr(store)
    points = s.points["cell_points"].compute()
    assert len(points) == len(cells)
    np.testing.assert_allclose(np.sort(points["x"].to_numpy()), np.sort(cells["x_um"].to_numpy()))
    live = cells[cells.status == "live"]
    assert len(s.shapes["cells"]) == len(live) == s.tables["table"].n_obs
    assert s.tables["table"].uns["spatialdata_attrs"]["region"] == "cells"
    if "fields" in s.images:  # written where the installed spatialdata stack can write rasters
        oxygen = rd.fields()["oxygen"].sel(time=2.0).values[0]
        np.testing.assert_allclose(s.images["fields"].sel(c="oxygen").values, oxygen, rtol=1e-6)


def test_vitessce_config_points_at_the_store(store, tmp_path) -> None:  # noqa: ANN001
    from tmesim.readouts.spatialdata import vitessce_config, write_vitessce_config

    cfg = vitessce_config("http://localhost:8000/run.zarr", "run", ["oxygen"])
    path = write_vitessce_config(cfg, tmp_path / "vitessce.json")
    data = json.loads(path.read_text())
    f = data["datasets"][0]["files"][0]
    assert f["fileType"] == "spatialdata.zarr"
    for key in ("obsSpots", "obsFeatureMatrix", "obsSets", "image"):
        assert key in f["options"]
    assert (store / f["options"]["obsSpots"]["path"]).exists()
    assert (store / "tables" / "table").exists()


def test_cli_readout_spatialdata(tnbc_run, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from tmesim.cli import app

    out, cfg = tmp_path / "x.zarr", tmp_path / "x.vitessce.json"
    res = CliRunner().invoke(app, ["readout", "spatialdata", str(tnbc_run), "--out", str(out), "--vitessce", str(cfg)])
    assert res.exit_code == 0, res.output
    assert (out / "tables" / "table").exists() and json.loads(cfg.read_text())["datasets"][0]["files"][0]["url"] == "x.zarr"
    bad = CliRunner().invoke(app, ["readout", "spatialdata", str(tnbc_run), "--out", str(tmp_path / "x.h5ad")])
    assert bad.exit_code == 2 and "must end in .zarr" in bad.stderr
