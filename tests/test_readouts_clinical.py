"""Clinical readouts of a run directory and the comparison with the Jackson 2020 IMC cohort."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.io import ModelError
from tmesim.readouts import (
    COARSE_TYPES,
    clinical_readouts,
    clinical_timecourse,
    coarse_class,
    compare_composition,
    imc_composition,
)
from tmesim.readouts.clinical import _geometry, _ratio, _readouts, section_cells
from tmesim.readouts.reference import default_imc_path

needs_imc = pytest.mark.skipif(not default_imc_path().is_file(),
                               reason=f"IMC reference file absent: {default_imc_path()}")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("clin") / "run"
    tmesim.simulate(build(small_dict()), out=out, days=0.5, report=False)
    return out


def test_densities_are_counts_over_area(run_dir) -> None:  # noqa: ANN001
    from tmesim.io import RunDirectory

    rd = RunDirectory(run_dir)
    r = clinical_readouts(run_dir)
    cells = rd.cells()
    live = cells[cells.status == "live"]
    area = 48 * 48 * 20 * 20 / 1e6  # 48×48 sites of 20 µm → 0.9216 mm²
    assert r["section_area_mm2"] == pytest.approx(area)
    n_cd8 = int((live.cell_type == "CD8_T_cell").sum())
    n_m1 = int((live.cell_type == "M1_macrophage").sum())
    n_m2 = int((live.cell_type == "M2_macrophage").sum())
    assert n_cd8 > 0
    assert r["cd8_t_per_mm2"] == pytest.approx(n_cd8 / area)
    assert r["macrophage_per_mm2"] == pytest.approx((n_m1 + n_m2) / area)
    assert r["m2_share_of_macrophages"] == pytest.approx(_ratio(n_m2, n_m1 + n_m2), nan_ok=True)
    assert r["vessel_per_mm2"] == pytest.approx(int((live.cell_type == "endothelial").sum()) / area)
    cancer = live[live.cell_type == "cancer"]
    assert r["tumor_cells"] == len(cancer)
    assert r["pdl1_mean_cancer"] == pytest.approx(cancer.pdl1.astype(float).mean())
    assert r["pdl1_positive_share"] == pytest.approx((cancer.pdl1 >= 0.5).mean())
    m = rd.metrics()
    assert r["hypoxic_fraction"] == pytest.approx(float(m.loc[m.time_days.idxmax(), "hypoxic_fraction"]))
    shares = [r[f"emt_{s}_share"] for s in ("epithelial", "hybrid", "mesenchymal")]
    assert sum(shares) == pytest.approx(1.0)


def test_missing_types_give_zero_or_nan(run_dir) -> None:  # noqa: ANN001
    r = clinical_readouts(run_dir)  # tnbc-core has no NK, Breg, neutrophils or CAF subtypes
    for k in ("nk_per_mm2", "breg_per_mm2", "neutrophil_per_mm2"):
        assert r[k] == 0
    assert math.isnan(r["caf_s100a4_pdpn_ratio"])


def test_ratios_are_nan_safe(run_dir) -> None:  # noqa: ANN001
    from tmesim.io import RunDirectory

    rd = RunDirectory(run_dir)
    cells = rd.cells()
    no_treg = cells[cells.cell_type != "Treg"]
    r = _readouts(_geometry(rd), no_treg, 0.5, None)
    assert math.isnan(r["cd8_treg_ratio"]) and math.isnan(r["hypoxic_fraction"])
    empty = _readouts(_geometry(rd), cells.iloc[:0], 0.5, None)
    assert empty["tumor_cells"] == 0 and empty["cd8_t_per_mm2"] == 0
    for k in ("m2_share_of_macrophages", "mdsc_share_of_immune", "emt_hybrid_share", "pdl1_mean_cancer"):
        assert math.isnan(empty[k])
    assert math.isnan(_ratio(1, 0)) and _ratio(3, 2) == 1.5


def test_timecourse_one_row_per_snapshot(run_dir) -> None:  # noqa: ANN001
    from tmesim.io import RunDirectory

    tc = clinical_timecourse(run_dir)
    assert tc["time_days"].tolist() == RunDirectory(run_dir).snapshot_times()
    assert tc.iloc[-1]["cd8_t_per_mm2"] == pytest.approx(clinical_readouts(run_dir)["cd8_t_per_mm2"])


def test_3d_section_is_central_slice() -> None:
    geom = {"dims": 3, "site": 20.0, "shape": [4, 4, 4], "area_mm2": 4 * 4 * 400 / 1e6, "vessels": []}
    cells = pd.DataFrame({"status": ["live", "live", "live", "dead"], "z_um": [10.0, 50.0, 50.0, 50.0]})
    assert len(section_cells(cells, geom)) == 2  # sites with z index 2 (40–60 µm), live only


def test_not_a_run_directory(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelError, match="not a run directory"):
        clinical_readouts(tmp_path)


def test_cli_table_and_csv(run_dir, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    res = CliRunner().invoke(app, ["readout", "clinical", str(run_dir), "--day", "0.5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "cd8_t_per_mm2" in res.output and "emt_hybrid_share" in res.output
    df = pd.read_csv(out, index_col="readout")
    r = clinical_readouts(run_dir, day=0.5)
    assert df["value"]["cd8_t_per_mm2"] == pytest.approx(r["cd8_t_per_mm2"])
    bad = CliRunner().invoke(app, ["readout", "clinical", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "is not a folder" in " ".join(bad.output.split())
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(app, ["readout", "clinical", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "not a run directory" in " ".join(bad.output.split())


def test_cli_missing_imc_file(run_dir, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TMESIM_SHARED", "/nonexistent-tmesim-shared")
    res = CliRunner().invoke(app, ["readout", "clinical", str(run_dir), "--compare-imc"])
    assert res.exit_code == 2 and "IMC reference file not found" in " ".join(res.output.split())


def test_coarse_classes() -> None:
    role = {ct.name: ct.role for ct in tmesim.load_model(tmesim.preset_path("catalog")).cell_types}
    assert coarse_class(role["cancer"]) == "Tumor" and coarse_class(role["CAF_PDPN"]) == "Stroma"
    assert coarse_class("caf") == "Stroma" and coarse_class(role["Th2"]) == "T" and coarse_class(role["TEC"]) == "Endothelial"
    assert coarse_class(role["monocyte"]) == "Macrophage" and coarse_class(role["Breg"]) == "B"
    assert coarse_class(role["MDSC"]) == "Other" and coarse_class(role["platelet"]) == "Other"
    assert coarse_class(None) == "Other"


@needs_imc
def test_imc_composition() -> None:
    shares = imc_composition()
    assert list(shares.columns) == list(COARSE_TYPES) and len(shares) == 100
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    counts = imc_composition(normalize=False)
    overall = counts.sum() / counts.to_numpy().sum()
    assert overall["Tumor"] == pytest.approx(0.55, abs=0.01)   # README: Tumor 55 %, Stroma 27 %, T 9.9 %
    assert overall["Stroma"] == pytest.approx(0.27, abs=0.01)
    assert overall["T"] == pytest.approx(0.099, abs=0.005)


@needs_imc
def test_compare_composition(run_dir, tmp_path) -> None:  # noqa: ANN001
    cmp = compare_composition(run_dir)
    assert list(cmp.index) == [*COARSE_TYPES, "Other"]
    assert cmp["simulated_share"].sum() == pytest.approx(1.0)
    assert (cmp.loc[list(COARSE_TYPES), "imc_q25"] <= cmp.loc[list(COARSE_TYPES), "imc_median"]).all()
    assert cmp["within_imc_5_95"].dtype == bool
    out = tmp_path / "c.csv"
    res = CliRunner().invoke(app, ["readout", "clinical", str(run_dir), "--compare-imc", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Jackson 2020 IMC" in res.output and (tmp_path / "c.imc.csv").is_file()


def test_imc_missing_file_is_clear(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelError, match="IMC reference file not found"):
        imc_composition(tmp_path / "absent.csv.gz")
