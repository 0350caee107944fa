"""Region (digital-spatial-profiling-like) readout: per-ROI means and two-day comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tmesim
from tmesim.cli import app
from tmesim.io import ModelError
from tmesim.readouts import ROIS, compare_regions, region_profiles


def _text(res) -> str:  # noqa: ANN001
    return " ".join(res.output.split())


@pytest.fixture(scope="module")
def profile(tnbc_run) -> pd.DataFrame:  # noqa: ANN001
    return region_profiles(tnbc_run, rois="tumor-core,invasive-margin,stroma,whole")


def _value(df: pd.DataFrame, roi: str, kind: str, analyte: str) -> float:
    row = df[(df.roi == roi) & (df.kind == kind) & (df.analyte == analyte)]
    assert len(row) == 1, (roi, kind, analyte)
    return float(row["value"].iloc[0])


def test_regions_partition_the_section(profile, tnbc_run) -> None:  # noqa: ANN001
    assert list(profile.columns) == ["day", "roi", "kind", "analyte", "unit", "value"]
    n = {r: _value(profile, r, "cells", "n_cells") for r in ROIS}
    cells = tmesim.RunDirectory(tnbc_run).cells(2.0)
    assert n["whole"] == (cells.status == "live").sum()
    assert n["tumor-core"] + n["invasive-margin"] + n["stroma"] == n["whole"]
    area = sum(_value(profile, r, "cells", "area_mm2") for r in ("tumor-core", "invasive-margin", "stroma"))
    assert area == pytest.approx(_value(profile, "whole", "cells", "area_mm2")) == pytest.approx(160 * 160 * 400 / 1e6)
    for r in ROIS:
        shares = profile[(profile.roi == r) & profile.analyte.str.startswith("share_")]["value"]
        assert shares.sum() == pytest.approx(1.0)


def test_region_biology(profile) -> None:  # noqa: ANN001
    v = lambda r, k, a: _value(profile, r, k, a)  # noqa: E731
    assert v("tumor-core", "protein", "PanCK") > 20 * v("stroma", "protein", "PanCK")
    assert v("tumor-core", "cells", "share_cancer") > 0.6 and v("stroma", "cells", "share_cancer") == 0
    assert v("invasive-margin", "protein", "SMA") > v("tumor-core", "protein", "SMA")  # CAF rim
    for r in ("tumor-core", "invasive-margin", "stroma"):
        assert v(r, "protein", "CD45") > 0 and 0 <= v(r, "cells", "cd45_share") < 1
    assert v("stroma", "protein", "CD8") > v("tumor-core", "protein", "CD8")
    assert v("tumor-core", "field", "oxygen") < v("stroma", "field", "oxygen")  # hypoxic core
    rna = profile[(profile.roi == "stroma") & (profile.kind == "rna")]["value"]
    assert rna.sum() == pytest.approx(1e4)


def test_compare_days(tnbc_run) -> None:  # noqa: ANN001
    c = compare_regions(tnbc_run, "0,2")
    assert {"day_before", "value_before", "day_after", "value_after", "difference", "log2_fold_change"} <= set(c.columns)
    assert (c.day_before == 0).all() and (c.day_after == 2).all()
    np.testing.assert_allclose(c["difference"], c["value_after"] - c["value_before"])
    ok = (c.value_before > 0) & (c.value_after > 0)
    np.testing.assert_allclose(c.loc[ok, "log2_fold_change"], np.log2(c.loc[ok, "value_after"] / c.loc[ok, "value_before"]))
    assert c.loc[~ok, "log2_fold_change"].isna().all()
    core = c[(c.roi == "tumor-core") & (c.analyte == "n_cells")].iloc[0]
    before = region_profiles(tnbc_run, rois="tumor-core", day=0)
    assert core.value_before == _value(before, "tumor-core", "cells", "n_cells")
    assert list(dict.fromkeys(c.roi)) == ["tumor-core", "invasive-margin", "stroma"]


def test_cli_table_csv_and_errors(tnbc_run, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    run = CliRunner().invoke
    res = run(app, ["readout", "regions", str(tnbc_run), "--roi", "tumor-core,invasive-margin,stroma", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "CD45" in res.output and "invasive-margin" in res.output
    df = pd.read_csv(out)
    assert set(df.roi) == {"tumor-core", "invasive-margin", "stroma"} and "CD45" in set(df.analyte)
    res = run(app, ["readout", "regions", str(tnbc_run), "--compare-days", "0,2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "log2 FC" in res.output and "log2_fold_change" in pd.read_csv(out).columns
    for args, msg in (
        (["--roi", "tumor-core,core"], "--roi: unknown region 'core'; allowed: tumor-core, invasive-margin, stroma, whole"),
        (["--compare-days", "0,7"], "--compare-days: no cell snapshot at day 7"),
        (["--compare-days", "0"], "--compare-days: expected two days"),
        (["--compare-days", "a,b"], "--compare-days: expected two days"),
        (["--day", "3"], "--day: no cell snapshot at day 3"),
        (["--margin", "0"], "--margin:"),
    ):
        res = run(app, ["readout", "regions", str(tnbc_run), *args])
        assert res.exit_code == 2 and msg in _text(res), (args, res.output)
        assert "Traceback" not in res.output
    res = run(app, ["readout", "regions", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "RUN_DIR:" in _text(res)
    with pytest.raises(ModelError, match="unknown region"):
        region_profiles(tnbc_run, rois=["nope"])
