"""Bad input gives one clear error naming the field and what is allowed."""

from __future__ import annotations

import copy

import pytest
from typer.testing import CliRunner

from conftest import build, small_dict, tnbc_dict
from tmesim.cli import app
from tmesim.model import ModelError, load_model


def _err(d: dict) -> ModelError:
    with pytest.raises(ModelError) as info:
        build(d)
    return info.value


def test_shipped_model_is_valid_and_fully_sourced() -> None:
    m = build(tnbc_dict())
    assert all(r.source for r in m.rules), "every shipped rule cites a source"
    for ct in m.cell_types:
        for name, p in ct.behaviours.items():
            if "secretion target" not in name:
                assert p.source, f"{ct.name}.{name} has no source"
    for s in m.substrates:
        assert s.diffusion.source and s.decay.source


def test_invalid_yaml(tmp_path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\ndomain: [1, 2\n")
    with pytest.raises(ModelError) as info:
        load_model(f)
    assert "invalid YAML" in str(info.value) and "line" in str(info.value)


def test_unknown_cell_type_in_rule() -> None:
    d = small_dict()
    d["rules"] = [{"cell_type": "cancr", "signal": "oxygen", "direction": "increases", "behaviour": "cycle entry",
                   "saturation": 1e-3, "half_max": 5, "hill_power": 2, "source": "assumption: test"}]
    e = _err(d)
    assert "rules[0]" in e.field and "cell_type" in e.field
    assert "'cancer'" in e.message and "allowed" in e.message


def test_unknown_signal_in_rule() -> None:
    d = small_dict()
    d["rules"] = [{"cell_type": "cancer", "signal": "oxygn", "direction": "increases", "behaviour": "cycle entry",
                   "saturation": 1e-3, "half_max": 5, "hill_power": 2}]
    e = _err(d)
    assert e.field.endswith(".signal") and "unknown signal 'oxygn'" in e.message and "'oxygen'" in e.message


def test_unknown_behaviour() -> None:
    d = small_dict()
    d["cell_types"][0]["behaviours"]["cycle entri"] = 0.001
    e = _err(d)
    assert "cell_types[cancer].behaviours" in e.field and "'cycle entry'" in e.message


def test_negative_diffusion_coefficient() -> None:
    d = small_dict()
    d["substrates"][1]["diffusion"] = -5
    e = _err(d)
    assert e.field == "substrates[vegf].diffusion" and ">= 0" in e.message


def test_wrong_units() -> None:
    d = small_dict()
    d["substrates"][0]["decay"] = "0.1 um"
    e = _err(d)
    assert e.field == "substrates[oxygen].decay"
    assert "expected a rate" in e.message and "1/minute" in e.message


def test_wrong_concentration_unit() -> None:
    d = small_dict()
    d["substrates"][2]["unit"] = "kg"
    e = _err(d)
    assert e.field == "substrates[tgfb].unit" and "ng/mL" in e.message


def test_domain_too_large_for_memory() -> None:
    d = small_dict()
    d["domain"]["shape"] = [200000, 200000]
    e = _err(d)
    assert e.field == "domain.shape" and "GiB" in e.message and "at most" in e.message


def test_bad_source_format() -> None:
    d = small_dict()
    d["substrates"][0]["diffusion"] = {"value": 1e5, "unit": "um^2/min", "source": "some paper"}
    e = _err(d)
    assert e.field == "substrates[oxygen].diffusion" and "review:" in e.message and "assumption:" in e.message


def test_unknown_top_level_field() -> None:
    d = small_dict()
    d["substrats"] = []
    e = _err(d)
    assert e.field == "substrats" and "unknown field" in e.message


def test_dims_shape_mismatch() -> None:
    d = small_dict()
    d["domain"]["dims"] = 3
    e = _err(d)
    assert e.field.startswith("domain") and "dims" in e.message


def test_direction_allowed_values() -> None:
    d = small_dict()
    d["rules"] = [{"cell_type": "cancer", "signal": "oxygen", "direction": "up", "behaviour": "cycle entry",
                   "saturation": 1e-3, "half_max": 5, "hill_power": 2}]
    e = _err(d)
    assert "direction" in e.field and "increases" in e.message and "decreases" in e.message


def test_cli_validate_reports_error_and_exit_code(tmp_path) -> None:
    import yaml

    d = small_dict()
    d = copy.deepcopy(d)
    d["substrates"][0]["diffusion"] = "-1 um^2/min"
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump(d))
    res = CliRunner().invoke(app, ["validate", str(f)])
    assert res.exit_code == 2
    assert "substrates[oxygen].diffusion" in res.output and "Traceback" not in res.output


def test_cli_bad_days_argument() -> None:
    res = CliRunner().invoke(app, ["run", "--days", "-3"])
    assert res.exit_code != 0 and "days" in res.output.lower()
