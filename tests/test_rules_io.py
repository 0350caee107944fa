"""Rules tables in and out: tmesim CSV and PhysiCell's rules CSV (v3 8 columns, v2 9 columns)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.knowledge import export_rules, import_physicell_rules
from tmesim.model import ModelError, parse_rules
from tmesim.model.rules_csv import parse_rule_lines

runner = CliRunner()


def _flat(text: str) -> str:
    """Messages as one line (rich wraps them to the terminal width)."""
    return " ".join(text.split())

# Written the way PhysiCell documents its rules files: no header, `//` comments, v3 rows
# (cell type, signal, direction, behavior, saturation value, half-max, Hill power, applies to
# dead) and a v2 row with the base value after the behaviour.
PHYSICELL_FILE = """\
// cancer cells
cancer,oxygen,decreases,necrosis,0,3.75,8,0
cancer,pressure,decreases,cycle entry,0,1,4,0
cancer,oxygen,increases,cycle entry,0.003333,21.5,4,0
cancer,il6,increases,stemness increase,7.2e-05,0.5,2,0
cancer,dead,increases,ccl2 secretion,0.01,0.5,4,1
// v2 (base value 0 in column 5)
fibroblast,tgfb,increases,transform to CAF,0,0.0005,1,2,0
//
CD8_T_cell,contact with Treg,decreases,attack cancer,1e-05,0.1,2,0
"""
# The same rules as PhysiCell v3: comments dropped, the v2 row without its base value.
PHYSICELL_V3_EXPECTED = """\
cancer,oxygen,decreases,necrosis,0,3.75,8,0
cancer,pressure,decreases,cycle entry,0,1,4,0
cancer,oxygen,increases,cycle entry,0.003333,21.5,4,0
cancer,il6,increases,stemness increase,7.2e-05,0.5,2,0
cancer,dead,increases,ccl2 secretion,0.01,0.5,4,1
fibroblast,tgfb,increases,transform to CAF,0.0005,1,2,0
CD8_T_cell,contact with Treg,decreases,attack cancer,1e-05,0.1,2,0
"""


# Exported for PhysiCell: the state-variable row has no PhysiCell behaviour and is dropped.
PHYSICELL_EXPORTED = "".join(line + "\n" for line in PHYSICELL_V3_EXPECTED.splitlines() if "stemness" not in line)


def _rows(text: str) -> str:
    """The rule rows of a PhysiCell file, without its // comments."""
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("//"))


def _small_model_file(tmp_path, rules_csv) -> str:
    d = small_dict()
    d["rules"] = str(rules_csv)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return str(path)


def test_physicell_round_trip_via_cli(tmp_path) -> None:
    src = tmp_path / "cell_rules.csv"
    src.write_text(PHYSICELL_FILE)
    imported = tmp_path / "rules.csv"
    res = runner.invoke(app, ["rules", "import", str(src), "--preset", "tnbc-core", "--out", str(imported)])
    assert res.exit_code == 0, res.output
    assert "7 rules (6 v3, 1 v2) valid for model 'tnbc-core'" in _flat(res.stderr)

    lines = parse_rule_lines(imported.read_text(), "rules.csv")
    assert [p.layout for p in lines] == ["tmesim"] * 7
    assert all(p.rule["source"] == "assumption: imported from PhysiCell rules file cell_rules.csv" for p in lines)
    assert all(p.rule["statement"] for p in lines)

    # the model with these rules validates and runs
    model_file = _small_model_file(tmp_path, imported)
    model = tmesim.load_model(model_file)
    assert len(model.rules) == 7 and model.rules[4].apply_to_dead
    sim = tmesim.engine.Simulation(model, seed=0)
    sim.step()
    assert sim.n_cells > 0

    # and exports back to PhysiCell v3 exactly
    res = runner.invoke(app, ["rules", "export", model_file, "--format", "physicell"])
    assert res.exit_code == 0, res.output
    assert _rows(res.stdout) == PHYSICELL_EXPORTED
    # sources stay as comments; the dropped row is kept as a comment and warned about
    assert "// source: assumption: imported from PhysiCell rules file cell_rules.csv" in res.stdout
    assert "// dropped: cancer,il6,increases,stemness increase" in res.stdout
    assert "dropped" in _flat(res.stderr) and "stemness increase" in _flat(res.stderr)
    out = tmp_path / "back.csv"
    res = runner.invoke(app, ["rules", "export", model_file, "--format", "physicell", "--out", str(out)])
    assert res.exit_code == 0 and _rows(out.read_text()) == PHYSICELL_EXPORTED
    # a v3 file round-trips to itself (contact half-max: counts -> fractions -> counts)
    assert _rows(export_rules(import_physicell_rules(PHYSICELL_EXPORTED, model).model, "physicell")) == PHYSICELL_EXPORTED


def test_v2_row_is_read_by_its_own_column_count() -> None:
    rows = parse_rule_lines(PHYSICELL_FILE, "f")
    v2 = next(p for p in rows if p.layout == "v2")
    assert v2.line == 8 and v2.base == 0.0
    assert (v2.rule["saturation"], v2.rule["half_max"], v2.rule["hill_power"]) == (0.0005, 1.0, 2.0)
    assert [p.line for p in rows] == [2, 3, 4, 5, 6, 8, 10]


def test_v2_base_value_differing_from_model_warns(small_model) -> None:
    res = import_physicell_rules("cancer,oxygen,increases,cycle entry,0.001,0.0008,10,4,0\n", small_model, "x.csv")
    assert len(res.warnings) == 1 and "x.csv line 1" in res.warnings[0] and "7.2e-05" in res.warnings[0]
    ok = import_physicell_rules("cancer,oxygen,increases,cycle entry,7.2e-05,0.0008,10,4,0\n", small_model, "x.csv")
    assert ok.warnings == []


def test_tab_separated_and_applies_to_dead_as_number(small_model) -> None:
    res = import_physicell_rules("cancer\toxygen\tdecreases\tnecrosis\t0\t3.75\t8\t1.0\n", small_model)
    assert res.rules[0].apply_to_dead and res.rules[0].half_max == 3.75


def test_shipped_rules_round_trip_in_both_formats() -> None:
    model = build(small_dict())
    text = export_rules(model, "tmesim")
    again = parse_rules(text)
    assert again == [r.model_dump() for r in model.rules]
    pc = _rows(export_rules(model, "physicell"))
    assert len(pc.splitlines()) <= len(model.rules) and all(len(line.split(",")) == 8 for line in pc.splitlines())
    assert _rows(export_rules(import_physicell_rules(pc, model).model, "physicell")) == pc


def test_export_stdout_default_preset() -> None:
    res = runner.invoke(app, ["rules", "export"])
    assert res.exit_code == 0, res.output
    first, second = res.stdout.splitlines()[:2]
    assert first.startswith("cell_type,signal,direction,behaviour,saturation,half_max,hill_power,apply_to_dead,source")
    first_rule = tmesim.load_model(tmesim.preset_path("tnbc")).rules[0]
    assert second.startswith(f"{first_rule.cell_type},{first_rule.signal},{first_rule.direction},{first_rule.behaviour},")
    with pytest.raises(ModelError, match="allowed: tmesim, physicell"):
        export_rules(build(small_dict()), "sbml")


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("cancer,oxygen,decreases,necrosis,0,3.75,8,0\ntumor,oxygen,decreases,necrosis,0,3.75,8,0\n",
         "line 2.cell_type", ["unknown cell type 'tumor'", "cancer", "fibroblast", "CD8_T_cell"]),
        ("// comment\ncancer,oxygen,decreases,necrose,0,3.75,8,0\n",
         "line 2.behaviour", ["unknown behaviour 'necrose'", "cycle entry", "'transform to <cell type>'",
                              "Did you mean 'necrosis'"]),
        ("cancer,oxgen,decreases,necrosis,0,3.75,8,0\n",
         "line 1.signal", ["unknown signal 'oxgen'", "contact with <cell type>", "pressure", "'oxygen'"]),
        ("cancer,oxygen,decreases,necrosis,0,3.75,8,0\n\ncancer,oxygen,decreases necrosis,0,3.75,8,0\n",
         "line 3", ["has 7 columns", "8 (v3", "9 (v2"]),
        ("cancer,oxygen,lowers,necrosis,0,3.75,8,0\n", "line 1.direction", ["allowed: increases, decreases"]),
        ("cancer,oxygen,decreases,necrosis,0,zero,8,0\n", "line 1.half_max", ["cannot read 'zero'"]),
        ("cancer,oxygen,decreases,necrosis,0,0,8,0\n", "line 1.half_max", ["must be > 0"]),
        ("cancer,oxygen,decreases,necrosis,0,3.75,0,0\n", "line 1.hill_power", ["must be > 0"]),
    ],
)
def test_import_errors_name_line_and_allowed_values(small_model, text, field, expected) -> None:
    with pytest.raises(ModelError) as info:
        import_physicell_rules(text, small_model, origin="bad.csv")
    assert info.value.field == f"bad.csv {field}"
    for e in expected:
        assert e in info.value.message


def test_import_errors_via_cli(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # short relative paths in messages
    bad = Path("bad.csv")
    bad.write_text("// rules\ncancer,oxygen,decreases,necrosis,0,3.75,8,0\ntumour,oxygen,decreases,necrosis,0,3.75,8,0\n")
    res = runner.invoke(app, ["rules", "import", str(bad)])
    assert res.exit_code == 2
    msg = _flat(res.stderr)
    assert "error: bad.csv line 3.cell_type: unknown cell type 'tumour'; allowed: cancer, endothelial" in msg
    res = runner.invoke(app, ["rules", "import", "missing.csv"])
    assert res.exit_code == 2 and "does not exist" in _flat(res.stderr)
    empty = Path("empty.csv")
    empty.write_text("// nothing here\n")
    res = runner.invoke(app, ["rules", "import", str(empty)])
    assert res.exit_code == 2 and "no rules found" in _flat(res.stderr)


def test_import_against_another_model(tmp_path) -> None:
    d = copy.deepcopy(small_dict())
    d["rules"] = []
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    src = tmp_path / "r.csv"
    src.write_text("cancer,oxygen,decreases,necrosis,0,3.75,8,0\n")
    res = runner.invoke(app, ["rules", "import", str(src), "--model", str(path)])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1].startswith("cancer,oxygen,decreases,necrosis,0,3.75,8,0,assumption: imported")
