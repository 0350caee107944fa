"""A PhysiCell project (settings XML + rules + initial cells) imports into tmesim and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tmesim
from tmesim.api import import_physicell
from tmesim.knowledge import import_physicell_rules
from tmesim.model import ModelError

PROJECT = Path(__file__).parent / "data" / "physicell_sample" / "config"
SETTINGS = PROJECT / "PhysiCell_settings.xml"


@pytest.fixture(scope="module")
def imported():
    return import_physicell(SETTINGS)


def test_settings_map_to_model(imported):
    model, report, warnings = imported
    assert model.cell_type_names == ["tumor cell", "macrophage", "effector T cell"]
    assert not any(ct.vessel for ct in model.cell_types)
    assert model.domain.shape == [20, 20] and model.domain.site_size.value == 20.0
    ox = model.substrate("oxygen")
    assert (ox.diffusion.value, ox.decay.value, ox.boundary, ox.boundary_value, ox.initial) == (1e5, 0.1, "dirichlet", 38.0, 38.0)
    tumor = model.cell_type("tumor cell")
    assert tumor.behaviours["cycle entry"].value == pytest.approx(0.0012)
    assert tumor.behaviours["oxygen uptake"].value == pytest.approx(10 * 2494 / 8000)
    assert tumor.apoptotic_clearance.value == pytest.approx(516)
    t_cell = model.cell_type("effector T cell")
    assert t_cell.behaviours["attack tumor cell"].value == pytest.approx(0.1)
    assert t_cell.behaviours["attack damage rate"].value == pytest.approx(20)
    assert model.custom_variables == ["sample"]
    assert [c.role for c in model.cell_types] == ["cancer", "macrophage", "cd8_t"]  # guessed from the names
    assert model.user_parameters["number_of_cells"] == 5
    assert sum(len(p.positions) for p in model.initial) == 82
    # Rules: every row but the adhesion one, with PhysiCell names mapped.
    rules = {(r.cell_type, r.signal, r.behaviour) for r in model.rules}
    assert ("macrophage", "contact with dead cell", "pro-inflammatory factor secretion") in rules
    assert ("effector T cell", "time", "custom:sample") in rules
    assert ("tumor cell", "damage", "apoptosis") in rules
    contact = next(r for r in model.rules if r.signal == "contact with effector T cell")
    assert contact.half_max == pytest.approx(1 / 8)  # one touching cell of eight neighbour sites
    assert len(model.rules) == 12
    assert any("line 10: dropped" in w and "cell-cell adhesion" in w for w in warnings)
    for heading in ("maps exactly", "maps approximately", "not mapped"):
        assert heading in report


def test_imported_project_runs(imported):
    model = imported[0]
    sim = tmesim.engine.Simulation(model, seed=7)
    n0 = sim.counts()
    assert n0["tumor cell"] > 20 and n0["effector T cell"] > 0
    for _ in range(40):
        sim.step()
    cells = sim.cells()
    assert "custom:sample" in cells and "damage" in cells
    t_cells = cells["type"] == model.cell_type_names.index("effector T cell")
    # custom:sample of T cells follows its rule, 1 * t^2 / (1000^2 + t^2), evaluated at the start
    # of the last step (t = 234 min).
    live = t_cells & (cells["dead"] == 0)
    assert np.allclose(cells["custom:sample"][live], 234**2 / (1000**2 + 234**2), rtol=1e-3)
    assert np.all(cells["damage"] >= 0)


def test_names_with_spaces_and_no_vessel_validate(imported):
    model = imported[0]
    data = model.model_dump(mode="json")
    data["cell_types"][0]["name"] = "bad,name"
    with pytest.raises(ModelError):
        tmesim.model_from_dict(data)


def test_rules_file_with_unknown_name_fails_clearly(imported):
    with pytest.raises(ModelError, match="line 1.signal"):
        import_physicell_rules("tumor cell,oxigen,increases,apoptosis,0.1,1,1,0\n", imported[0], origin="r.csv")


def test_cli_import_writes_model_and_report(tmp_path):
    from typer.testing import CliRunner

    from tmesim.cli import app

    out = tmp_path / "model.yaml"
    res = CliRunner().invoke(app, ["import", "physicell", str(SETTINGS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "maps approximately" in res.stderr and "dropped" in res.stderr
    report = (tmp_path / "model.yaml.report.txt").read_text()
    assert "not mapped" in report and "cell-cell adhesion" in report
    model = tmesim.load_model(out)  # the written YAML reads back as the same model
    assert model.cell_type_names == ["tumor cell", "macrophage", "effector T cell"] and len(model.rules) == 12
    assert CliRunner().invoke(app, ["validate", str(out)]).exit_code == 0
    bad = CliRunner().invoke(app, ["import", "physicell", str(tmp_path / "nope.xml"), "--out", str(out)])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: settings:")
