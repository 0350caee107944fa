"""A tmesim run exported as PhysiCell MultiCellDS output reads back with pcdl (cells and fields)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tmesim
from tmesim.api import import_physicell
from tmesim.io.physicell_output import export_physicell

SETTINGS = Path(__file__).parent / "data" / "physicell_sample" / "config" / "PhysiCell_settings.xml"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = import_physicell(SETTINGS)[0]
    run = tmp_path_factory.mktemp("run")
    rd = tmesim.simulate(model, out=run, seed=7, days=0.5, report=False)
    out = tmp_path_factory.mktemp("physicell")
    return rd, out, export_physicell(run, out)


def test_pcdl_reads_cells_and_substrates(exported):
    pcdl = pytest.importorskip("pcdl")
    rd, out, xmls = exported
    assert [p.name for p in xmls] == [f"output{k:08d}.xml" for k in range(len(rd.snapshot_times()))]
    fields = rd.fields()
    for k, day in enumerate(rd.snapshot_times()):
        mcds = pcdl.TimeStep(str(xmls[k]), graph=True, physiboss=False, verbose=False)
        cells = mcds.get_cell_df()
        ours = rd.cells(day)
        assert len(cells) == len(ours)
        assert cells["cell_type"].value_counts().to_dict() == ours["cell_type"].astype(str).value_counts().to_dict()
        assert int(cells["dead"].sum()) == int((ours["status"] != "live").sum())
        assert mcds.get_time() == pytest.approx(day * 1440.0)
        conc = mcds.get_conc_df()
        for s in rd.model().substrate_names:
            grid = fields[s].sel(time=day, method="nearest").values[0]  # (y, x) in 2D
            got = conc.sort_values(["voxel_j", "voxel_i"])[s].to_numpy().reshape(grid.shape)
            np.testing.assert_allclose(got, grid, rtol=1e-6, atol=1e-9)


def test_cells_mat_layout_with_scipy(exported):
    from scipy.io import loadmat

    rd, out, _ = exported
    cells = loadmat(out / "output00000000_cells.mat")["cells"]
    micro = loadmat(out / "output00000000_microenvironment0.mat")["multiscale_microenvironment"]
    model = rd.model()
    assert cells.shape[1] == len(rd.cells(0.0))
    assert micro.shape == (4 + len(model.substrates), model.domain.n_sites)


def test_cli_export(exported, tmp_path):
    from typer.testing import CliRunner

    from tmesim.cli import app

    rd = exported[0]
    res = CliRunner().invoke(app, ["export", "physicell", str(rd.path), "--out", str(tmp_path / "pc")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "pc").glob("output*.xml"))) == len(rd.snapshot_times())
