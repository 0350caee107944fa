"""`tmesim run` end to end: the run directory and its report."""

from __future__ import annotations

import json

import pandas as pd
import xarray as xr
import yaml
from typer.testing import CliRunner

from conftest import small_dict
from tmesim.cli import app


def test_run_writes_complete_run_directory(tmp_path) -> None:
    model_file = tmp_path / "small.yaml"
    model_file.write_text(yaml.safe_dump(small_dict(days=1.0)))
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(model_file), "--days", "1", "--seed", "7", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("config.yaml", "run.json", "summary.parquet", "metrics.parquet", "events.parquet",
                 "fields.zarr", "checkpoint/CURRENT", "report.html"):
        assert (out / name).exists(), name
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["time_days"] == 1.0
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["seed"] == 7 and cfg["format_version"] == 1 and cfg["model"]["name"] == "tnbc-core"
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary.time_days) == {0.0, 0.5, 1.0}
    assert {"epithelial"} <= set(summary.state)
    cells = pd.read_parquet(out / "cells" / "cells_day_0001.00.parquet")
    assert {"cancer", "endothelial", "CD8_T_cell", "fibroblast"} <= set(cells.cell_type)
    assert cells.x_um.between(0, 48 * 20).all()
    assert (cells.time_days == 1.0).all()
    fields = xr.open_zarr(out / "fields.zarr", consolidated=True)  # consolidated metadata
    assert fields.oxygen.dims == ("time", "z", "y", "x") and fields.sizes["time"] == 3
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6 and "Rules and their sources" in html
    # a complete run refuses to be overwritten, and resuming it changes nothing
    again = CliRunner().invoke(app, ["run", str(model_file), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = CliRunner().invoke(app, ["run", "--resume", str(out), "--no-report"])
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(summary, pd.read_parquet(out / "summary.parquet"))
