"""Spatial AnnData readout: squidpy runs on it; CAFs sit near cancer cells, CD8 T cells are excluded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tmesim
from tmesim.cli import app
from tmesim.readouts import region_labels, spatial_anndata

sq = pytest.importorskip("squidpy", reason="squidpy is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def spatial_file(tnbc_run, tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("spatial") / "s.h5ad"
    res = CliRunner().invoke(app, ["readout", "spatial", str(tnbc_run), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_obsm_spatial_holds_positions(spatial_file, tnbc_run) -> None:  # noqa: ANN001
    import anndata as ad

    a = ad.read_h5ad(spatial_file)
    cells = tmesim.RunDirectory(tnbc_run).cells(2.0)
    live = cells[cells.status == "live"].reset_index(drop=True)
    assert a.n_obs == len(live)
    np.testing.assert_allclose(a.obsm["spatial"], live[["x_um", "y_um"]].to_numpy())
    assert list(a.obs["uid"]) == list(live["uid"])
    assert a.uns["tmesim"]["readout"] == "spatial" and a.uns["tmesim"]["spatial_units"] == "um"
    assert set(a.obs["region"].cat.categories) == {"tumor-core", "invasive-margin", "stroma"}
    np.testing.assert_array_equal(a.obs["region"].astype(str).to_numpy(), region_labels(tnbc_run, live).astype(str))


def test_squidpy_neighbourhood_enrichment(spatial_file) -> None:  # noqa: ANN001
    import anndata as ad

    a = ad.read_h5ad(spatial_file)
    group = a.obs["cell_type"].astype(str).replace({"CAF_S100A4": "CAF", "CAF_PDPN": "CAF"})
    a.obs["group"] = pd.Categorical(group)
    sq.gr.spatial_neighbors(a, coord_type="generic", delaunay=True)
    sq.gr.nhood_enrichment(a, cluster_key="group", seed=0, n_perms=200, show_progress_bar=False)
    cats = list(a.obs["group"].cat.categories)
    z = pd.DataFrame(a.uns["group_nhood_enrichment"]["zscore"], index=cats, columns=cats)
    print(f"z(CAF, cancer) = {z.loc['CAF', 'cancer']:.1f}; z(CD8_T_cell, cancer) = "
          f"{z.loc['CD8_T_cell', 'cancer']:.1f}; z(CD8_T_cell, fibroblast) = {z.loc['CD8_T_cell', 'fibroblast']:.1f}")
    assert z.loc["CAF", "cancer"] > 2  # CAFs sit next to the tumor nest
    assert z.loc["CD8_T_cell", "cancer"] < -2  # CD8 T cells are kept out of the nest (stroma-restricted)
    assert z.loc["CD8_T_cell", "fibroblast"] > z.loc["CD8_T_cell", "cancer"]


def test_same_seed_same_counts(tnbc_run) -> None:  # noqa: ANN001
    a, b = spatial_anndata(tnbc_run, day=1, seed=2), spatial_anndata(tnbc_run, day=1, seed=2)
    assert (a.X != b.X).nnz == 0 and np.array_equal(a.obsm["spatial"], b.obsm["spatial"])
    pd.testing.assert_frame_equal(a.obs, b.obs)


def test_errors(tnbc_run, tmp_path) -> None:  # noqa: ANN001
    res = CliRunner().invoke(app, ["readout", "spatial", str(tnbc_run), "--day", "0.5"])
    assert res.exit_code == 2 and "--day: no cell snapshot at day 0.5" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["readout", "spatial", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "RUN_DIR:" in res.output and "Traceback" not in res.output
