"""Starting from a real section (Jackson et al. 2020 IMC) and comparing simulated with real tissue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import tmesim
from tmesim.api import tissue_start
from tmesim.cli import app
from tmesim.io.tissue import read_label_mapping, read_tissue
from tmesim.model import ModelError
from tmesim.readouts.architecture import architecture
from tmesim.readouts.reference import default_imc_path
from tmesim.readouts.tissue import real_section, section_statistics, simulated_section

IMC = default_imc_path()
PATIENTS = ("10", "101", "107")
needs_imc = pytest.mark.skipif(not IMC.is_file(), reason="Jackson 2020 IMC file not found (set TMESIM_SHARED)")


def _day0_section(model: tmesim.Model) -> pd.DataFrame:
    sim = tmesim.engine.Simulation(model, seed=0)
    c = sim.cells()
    names = np.array(sim.cm.type_names)
    cells = pd.DataFrame({"cell_type": names[c["type"]], "status": "live",
                          "x_um": (c["x"] + 0.5) * sim.cm.dx, "y_um": (c["y"] + 0.5) * sim.cm.dx})
    return simulated_section(cells, {ct.name: ct.role for ct in model.cell_types},
                             {ct.name for ct in model.cell_types if ct.vessel})


def _mapped_tissue(pid: str, origin: dict) -> pd.DataFrame:
    """The tissue's cells that the mapping places, shifted into the domain like the model's."""
    mapping = read_label_mapping()
    cells = read_tissue(IMC, mapping, pid)
    cells["cell_type"] = cells["label"].map(mapping.map)
    cells = cells[cells["cell_type"].notna()].copy()
    roles = {ct.name: ct.role for ct in tmesim.load_model(tmesim.preset_path("tnbc")).cell_types}
    cells["role"] = cells["cell_type"].map(roles)
    x0, y0 = origin["placement"]["offset_um"]
    cells["x_um"] -= x0
    cells["y_um"] -= y0
    return real_section(cells)


@needs_imc
@pytest.mark.parametrize("pid", PATIENTS)
def test_day0_statistics_equal_the_tissue_up_to_lattice_placement(pid: str) -> None:
    model, origin = tissue_start(tmesim.load_model(tmesim.preset_path("tnbc")), IMC, sample=pid)
    pl = origin["placement"]
    assert pl["placed"] + pl["unplaced"] == pl["n_cells"]
    assert pl["unplaced"] <= 0.02 * pl["n_cells"]  # at 10 µm sites nearly every cell finds a site
    sim, real = _day0_section(model), _mapped_tissue(pid, origin)
    assert len(sim) == len(real) - sum(v for k, v in pl["reasons"].items() if k.startswith("no free site"))
    a, b = section_statistics(sim, nhood=False), section_statistics(real, nhood=False)
    for c in ("Tumor", "Stroma", "T", "Macrophage", "Endothelial"):
        assert abs(a[f"share_{c}"] - b[f"share_{c}"]) < 0.005, c
    for k in [i for i in a.index if i.startswith("nn_")]:
        assert abs(a[k] - b[k]) <= 10.0, k  # one 10 µm site
    for k in [i for i in a.index if i.startswith("cross_k_")]:
        assert abs(a[k] - b[k]) < 0.1 * b[k] + 0.05, k
    assert abs(a["immune_share_tumor"] - b["immune_share_tumor"]) < 0.01
    assert a["archetype"] == b["archetype"]


@needs_imc
@pytest.mark.slow
def test_from_tissue_run_records_origin_and_compare_tissue_writes_table_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", "--from-tissue", str(IMC), "--sample", "10", "--days", "0.1",
                                 "--out", str(out), "--no-report"])
    assert r.exit_code == 0, r.output
    assert "placed" in r.output and "not placed" in r.output
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["origin"]["kind"] == "tissue" and cfg["origin"]["sample"] == "10"
    assert len(cfg["origin"]["sha256"]) == 64
    r = CliRunner().invoke(app, ["readout", "compare-tissue", str(out), str(IMC), "--day", "0"])
    assert r.exit_code == 0, r.output
    tab = pd.read_csv(out / "compare-tissue-day0.csv", index_col=0)
    assert {"simulated", "tissue", "difference"} <= set(tab.columns)
    assert abs(float(tab.loc["share_Tumor", "difference"])) < 0.01
    assert (out / "compare-tissue-day0.png").stat().st_size > 10_000


def test_label_mapping_and_tissue_errors(tmp_path: Path) -> None:
    csv = tmp_path / "cells.csv"
    pd.DataFrame({"x_um": [10.0, 30.0, 50.0], "y_um": [10.0, 10.0, 10.0],
                  "label": ["tumour", "T", "mystery"]}).to_csv(csv, index=False)
    mp = tmp_path / "map.yaml"
    mp.write_text(yaml.safe_dump({"name": "t", "map": {"tumour": "cancer", "T": "CD8_T_cell"}}))
    model, origin = tissue_start(tmesim.load_model(tmesim.preset_path("tnbc")), csv, labels=mp)
    assert origin["placement"]["placed"] == 2
    assert origin["placement"]["reasons"] == {"label not in the mapping": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"map": {"tumour": "no_such_type"}}))
    with pytest.raises(ModelError, match="labels"):
        tissue_start(tmesim.load_model(tmesim.preset_path("tnbc")), csv, labels=bad)
    with pytest.raises(ModelError, match="lacks columns"):
        read_tissue(csv, read_label_mapping())  # the Jackson mapping wants metacluster_name
    r = CliRunner().invoke(app, ["run", "--from-tissue", str(tmp_path / "none.csv"), "--days", "0.1"])
    assert r.exit_code != 0 and "error: tissue" in r.output


def test_archetype_readout_on_synthetic_sections() -> None:
    """Cold: few immune cells; mixed: immune cells among tumor cells; compartmentalized: apart."""
    rng = np.random.default_rng(0)
    g = np.stack(np.meshgrid(np.arange(0, 600, 10.0), np.arange(0, 600, 10.0)), -1).reshape(-1, 2)
    tumor = np.hypot(g[:, 0] - 300, g[:, 1] - 300) < 200

    def section(immune: np.ndarray) -> pd.DataFrame:
        comp = np.where(immune, "immune", np.where(tumor, "tumor", "stroma"))
        return pd.DataFrame({"x_um": g[:, 0], "y_um": g[:, 1], "compartment": comp, "t_cell": immune})

    cold = rng.random(len(g)) < 0.01
    mixed = rng.random(len(g)) < 0.2
    ring = (np.hypot(g[:, 0] - 300, g[:, 1] - 300) > 200) & (np.hypot(g[:, 0] - 300, g[:, 1] - 300) < 260)
    assert architecture(section(cold))["archetype"] == "cold"
    assert architecture(section(mixed))["archetype"] == "mixed"
    assert architecture(section(ring))["archetype"] == "compartmentalized"
