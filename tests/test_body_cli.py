"""`tmesim run --body` end to end: the section, then the patient, in one run directory."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

import tmesim
from conftest import preset_dict
from tmesim.cli import app


def small_tnbc(days: float) -> dict:
    """The TNBC preset on a 60x60 section (the body section is kept as it is)."""
    d = preset_dict("tnbc")
    d["domain"]["shape"] = [60, 60]
    d["time"]["days"] = days
    d["initial"] = [
        {"cell_type": "endothelial", "region": "everywhere", "density": 150},
        {"cell_type": "cancer", "region": "disc", "radius": 300, "fraction": 0.8, "state": {"emt": 0.5}},
        {"cell_type": "fibroblast", "region": "everywhere", "fraction": 0.1},
        {"cell_type": "M2_macrophage", "region": "disc", "radius": 400, "fraction": 0.05},
    ]
    return d


def test_run_with_body_writes_patient_tables_and_report(tmp_path) -> None:
    model_file = tmp_path / "m.yaml"
    model_file.write_text(yaml.safe_dump(small_tnbc(1.0)))
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(model_file), "--out", str(out), "--body"])
    assert res.exit_code == 0, res.output
    assert "Whole body" in res.output and "brain" in res.output
    rd = tmesim.RunDirectory(out)
    for table in ("ctc", "arrivals", "seeding", "burden", "first_metastasis", "primary", "seeding_per_cell"):
        assert len(rd.body(table)) > 0 or table == "seeding", table
    info = json.loads((out / "body" / "body.json").read_text())
    assert info["coupled"]
    # the run's own section drove the patient: its intravasation, CTC mix and TME, factor by factor
    cp = rd.body("coupling").set_index("factor")
    assert cp.loc["shedding_per_cell_day", "value"] > 0
    assert cp.loc["cluster_partner_m2", "quantity"] == "group:m2" and cp.loc["cluster_partner_m2", "section_value"] > 0
    assert len(rd.body("units")) == 6
    assert set(info["niches"]) == {"bone", "lung", "liver", "brain"}
    assert all(n["engine"] == "spatial" for n in info["niches"].values())
    assert "Whole body" in (out / "report.html").read_text()
    from tmesim.readouts import clinical_readouts

    r = clinical_readouts(out)
    assert r["ctc_all_per_7_5ml_at_diagnosis"] >= r["ctc_per_7_5ml_at_diagnosis"] >= 0


def test_body_needs_a_body_section(tmp_path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", "--preset", "tnbc-core", "--days", "0.1", "--out", str(out),
                                   "--body", "--no-report"])
    assert res.exit_code != 0
    assert "no body: section" in res.output and "Traceback" not in res.output
