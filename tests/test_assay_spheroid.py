"""Virtual 3D co-culture: CAFs increase spheroid invasion, a denser matrix slows it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tmesim
from tmesim.assay import matrices, run_spheroid, spheroid_model
from tmesim.cli import app
from tmesim.io import ModelError

SEEDS = (0, 1)


def _final(**kw) -> float:  # noqa: ANN003
    return float(np.mean([run_spheroid(days=3, seed=s, **kw).iloc[-1]["invasion_distance_um"] for s in SEEDS]))


def test_cafs_increase_invasion() -> None:
    alone, with_caf = _final(), _final(cocultured=("caf",))
    print(f"invasion at day 3: spheroid alone {alone:.0f} µm, with CAFs {with_caf:.0f} µm")
    assert with_caf > alone + 15


def test_denser_matrix_slows_invasion() -> None:
    loose, dense = _final(density=1.0), _final(density=4.0)
    print(f"invasion at day 3: collagen 1 mg/mL {loose:.0f} µm, 4 mg/mL {dense:.0f} µm")
    assert dense < 0.8 * loose


def test_time_course_and_determinism() -> None:
    a = run_spheroid(("macrophage",), matrix="gelatin", days=1, seed=3)
    b = run_spheroid(("macrophage",), matrix="gelatin", days=1, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["time_days"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert a.iloc[0]["invasion_distance_um"] == 0 and a.iloc[-1]["invasion_distance_um"] > 0
    assert a.iloc[-1]["area_um2"] > a.iloc[0]["area_um2"] > 0
    assert a.iloc[-1]["matrix_remaining"] < 1.0 and a.attrs["matrix"] == "gelatin"


def test_matrix_does_not_diffuse() -> None:
    m = spheroid_model(("caf",), density=3.0)
    sim = tmesim.engine.Simulation(m, seed=0).run(days=0.5)
    mat = sim.fields[[s.name for s in m.substrates].index("matrix")][0]
    assert mat[0, 0] == pytest.approx(3000.0) and mat[-1, -1] == pytest.approx(3000.0)  # far from cells: intact
    assert mat.min() < 3000.0  # degraded where cells sit


def test_model_is_cited() -> None:
    m = spheroid_model(("caf", "macrophage"))
    assert all(r.source for r in m.rules)
    for ct in m.cell_types:
        for name, p in ct.behaviours.items():
            assert getattr(p, "source", None) or name.endswith("secretion target"), (ct.name, name)
    for s in m.substrates:
        assert s.source and s.diffusion.source
    assert set(matrices().index) == {"collagen", "fibronectin", "laminin", "gelatin"}
    assert {p.cell_type for p in spheroid_model().initial} == {"cancer"}


def test_cli(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "inv.csv"
    res = CliRunner().invoke(app, ["assay", "spheroid", "--caf", "--matrix", "laminin", "--days", "0.5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert {"time_days", "invasion_distance_um", "area_um2"} <= set(df.columns) and len(df) == 3
    for args, msg in ((["--matrix", "agar"], "--matrix: unknown matrix 'agar'; allowed: collagen, fibronectin, laminin, gelatin"),
                      (["--density", "0"], "--density:"), (["--days", "0"], "--days:"), (["--dims", "4"], "--dims:")):
        res = CliRunner().invoke(app, ["assay", "spheroid", *args])
        assert res.exit_code == 2 and msg in " ".join(res.output.split()), (args, res.output)
    with pytest.raises(ModelError, match="unknown co-cultured"):
        spheroid_model(("fibroblast",))
