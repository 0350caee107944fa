"""Synthetic single-cell RNA-seq readout: scanpy recovers the true cell types; the count model."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.io import ModelError
from tmesim.model.params import check_source
from tmesim.readouts import expression_model, profile_tables, scrna_anndata, write_h5ad

sc = pytest.importorskip("scanpy", reason="scanpy is in the test extra: pip install -e '.[test]'")


def _text(res) -> str:  # noqa: ANN001
    return " ".join(res.output.split())


@pytest.fixture(scope="module")
def scrna_file(tnbc_run, tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("scrna") / "x.h5ad"
    res = CliRunner().invoke(app, ["readout", "scrna", str(tnbc_run), "--cells", "5000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_scanpy_pipeline_recovers_cell_types(scrna_file) -> None:  # noqa: ANN001
    from sklearn.metrics import adjusted_rand_score

    a = sc.read_h5ad(scrna_file)
    assert a.n_obs == 5000 and a.obs["cell_type"].nunique() >= 15
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    sc.pp.pca(a, random_state=0)
    sc.pp.neighbors(a, random_state=0)
    sc.tl.leiden(a, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    ari = adjusted_rand_score(a.obs["cell_type"], a.obs["leiden"])
    print(f"ARI = {ari:.3f} ({a.obs['leiden'].nunique()} Leiden clusters)")
    assert ari >= 0.7


def test_file_content(scrna_file, tnbc_run) -> None:  # noqa: ANN001
    import anndata as ad

    a = ad.read_h5ad(scrna_file)
    for g in ("EPCAM", "KRT8", "CDH1", "VIM", "TWIST1", "SNAI1", "CD44", "CD24", "ALDH1A1", "CD274", "FAP",
              "PDPN", "S100A4", "ACTA2", "PECAM1", "KDR", "ADIPOQ", "LEP", "CD68", "CD163", "MRC1", "CD14",
              "ITGAM", "CD33", "FOXP3", "IL2RA", "CD8A", "GZMB", "PDCD1", "NCAM1", "MS4A1", "CD19", "PTPRC",
              "TGFB1", "IL6", "CXCL12", "VEGFA", "CCL2", "IL10", "IFNG", "MMP9"):
        assert g in a.var_names, g
    assert set(a.var["kind"]) == {"housekeeping", "marker", "cytokine"}
    x = a.X.toarray()
    assert np.array_equal(x, np.round(x)) and (x >= 0).all()
    np.testing.assert_array_equal(a.obs["total_counts"].to_numpy(), x.sum(axis=1))
    for col in ("cell_type", "state", "emt", "pdl1", "stemness", "exhaustion", "region", "library_size", "uid"):
        assert col in a.obs
    assert set(a.obs.loc[a.obs.cell_type == "cancer", "state"]) <= {"epithelial", "hybrid", "mesenchymal"}
    u = a.uns["tmesim"]
    assert u["readout"] == "scrna" and u["snapshot_day"] == 2.0 and u["seed"] == 0 and u["n_cells"] == 5000
    assert u["model"] == "tnbc" and u["run_seed"] == 0 and len(u["data_sha256"]) == 64
    assert u["count_model"]["nb_theta"] > 0
    # live cells only, types in proportion to the snapshot
    cells = tmesim.RunDirectory(tnbc_run).cells(2.0)
    live = cells[cells.status == "live"]
    assert set(a.obs["uid"]) <= set(live["uid"])
    share = live.cell_type.astype(str).value_counts(normalize=True)
    got = a.obs.cell_type.astype(str).value_counts(normalize=True)
    assert got["cancer"] == pytest.approx(share["cancer"], abs=0.03)


def test_states_shape_expression(scrna_file) -> None:  # noqa: ANN001
    import anndata as ad

    a = ad.read_h5ad(scrna_file)
    cp10k = pd.DataFrame(a.X.toarray() / a.X.sum(axis=1).A * 1e4, columns=a.var_names, index=a.obs_names)
    cancer = a.obs.cell_type == "cancer"
    epi = cancer & (a.obs.state == "epithelial")
    mes = cancer & (a.obs.state == "mesenchymal")
    assert cp10k.loc[mes, "VIM"].mean() > 3 * cp10k.loc[epi, "VIM"].mean()
    assert cp10k.loc[epi, "CDH1"].mean() > 2 * cp10k.loc[mes, "CDH1"].mean()
    assert cp10k.loc[a.obs.cell_type == "M2_macrophage", "CD163"].mean() > 10 * cp10k.loc[cancer, "CD163"].mean()
    assert cp10k.loc[a.obs.cell_type == "CD8_T_cell", "PTPRC"].mean() > 10 * cp10k.loc[cancer, "PTPRC"].mean()
    lib = a.obs.loc[cancer, "total_counts"]
    assert lib.std() / lib.mean() > 0.2  # library-size variation
    assert (a.X.toarray() == 0).mean() > 0.3  # sparse, as single-cell data are


def test_same_seed_same_file(tnbc_run, tmp_path) -> None:  # noqa: ANN001
    import anndata as ad

    paths = []
    for i, seed in enumerate((3, 3, 4)):
        p = tmp_path / f"s{i}.h5ad"
        write_h5ad(scrna_anndata(tnbc_run, n_cells=400, seed=seed), p)
        paths.append(p)
    a, b, c = (ad.read_h5ad(p) for p in paths)
    assert (a.X != b.X).nnz == 0
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert repr(a.uns["tmesim"]) == repr(b.uns["tmesim"])
    assert (a.X != c.X).nnz > 0


def test_more_cells_than_snapshot_samples_with_replacement(tnbc_run) -> None:  # noqa: ANN001
    rd = tmesim.RunDirectory(tnbc_run)
    cells = rd.cells(0.0)
    n_live = int((cells.status == "live").sum())
    a = scrna_anndata(tnbc_run, n_cells=n_live + 10, day=0)
    assert a.n_obs == n_live + 10 and a.uns["tmesim"]["sampled_with_replacement"]
    assert a.obs_names.is_unique


def test_data_tables_cite_sources_and_cover_catalog() -> None:
    t = profile_tables()
    for name, df in t.items():
        for s in df["source"]:
            check_source(s)  # raises for a malformed source
        assert df["source"].str.len().min() > 0, name
    prof = t["profiles"]
    catalog = tmesim.load_model(tmesim.preset_path("catalog"))
    listed = set(prof["cell_type"])
    for ct in catalog.cell_types:
        assert ct.name in listed, ct.name
        assert ct.name in set(t["library_sizes"]["cell_type"])
    assert set(prof["state"]) <= {"base", *catalog.state_variables}
    assert (prof["mean"] > 0).all()


def test_unknown_cell_types_fall_back() -> None:
    d = small_dict()  # tnbc-core: has 'CAF' (-> CAF_S100A4) and its own names
    d = copy.deepcopy(d)
    d["cell_types"].append({"name": "keratinocyte", "behaviours": {"il6 secretion": 0.01}})
    d["cell_types"].append({"name": "pericyte_vessel", "vessel": True})
    em = expression_model(build(d))
    assert em.fallback["CAF"] == "CAF_S100A4"
    assert em.fallback["keratinocyte"] == "*" and em.fallback["pericyte_vessel"] == "endothelial"
    k = em.types.index("keratinocyte")
    w = em.weights(np.array([k]), {})[0]
    g = {name: i for i, name in enumerate(em.genes)}
    assert w[g["ACTB"]] > 100 and w[g["IL6"]] > 10 and w[g["EPCAM"]] < 1  # housekeeping + own cytokine
    counts, lib = em.sample_counts(np.array([k, k]), {}, np.random.default_rng(0))
    assert counts.shape == (2, len(em.genes)) and (lib > 0).all()


def test_custom_model_end_to_end(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    tmesim.simulate(build(small_dict(days=0.5)), out=out, days=0.5, report=False)
    a = scrna_anndata(out, n_cells=200, seed=1)
    assert a.n_obs == 200 and "CAF" in set(a.uns["tmesim"]["fallback_profiles"])


def test_errors(tnbc_run, tmp_path) -> None:  # noqa: ANN001
    run = CliRunner().invoke
    for args, msg in (
        (["--cells", "0"], "--cells: number of cells must be a positive integer"),
        (["--cells", "-5"], "--cells: number of cells must be a positive integer"),
        (["--day", "5"], "--day: no cell snapshot at day 5"),
        (["--out", str(tmp_path / "x.csv")], "--out:"),
        (["--out", str(tmp_path / "nope" / "x.h5ad")], "--out: folder"),
    ):
        res = run(app, ["readout", "scrna", str(tnbc_run), *args])
        assert res.exit_code == 2 and msg in _text(res), (args, res.output)
        assert "Traceback" not in res.output
    res = run(app, ["readout", "scrna", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "RUN_DIR:" in _text(res) and "does not exist" in _text(res)
    res = run(app, ["readout", "scrna", str(tmp_path)])
    assert res.exit_code == 2 and "not a run directory" in _text(res)
    res = run(app, ["readout", "scrna", str(tnbc_run), "--day", "5"])
    assert "available days: 0, 1, 2" in _text(res)
    with pytest.raises(ModelError, match="positive"):
        scrna_anndata(tnbc_run, n_cells=0)
