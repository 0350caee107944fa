"""Therapies in a model: the catalog, `therapies:` entries, specs, validation errors and the CLI."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from typer.testing import CliRunner

from conftest import build, catalog_small, small_dict
from tmesim.cli import app
from tmesim.model import ModelError, model_from_dict
from tmesim.model.therapies import therapy_catalog
from tmesim.therapy import apply_therapies, list_therapies, parse_therapy, therapy_table

ISSUE_THERAPIES = [
    "atezolizumab+nab-paclitaxel", "bevacizumab+chemotherapy", "TGF-beta-blockade", "FAP-vaccine", "integrin-avb3",
    "M2-depleting-exosomes", "anti-SIRPa-CSF1R", "M1-M2-blocking-nanoparticles", "DABIL-4", "anti-CD25",
    "PI3K-p110delta-inhibitor", "low-dose-cyclophosphamide", "chemotherapy",
]


def with_therapies(d: dict, *entries: dict) -> dict:
    d = copy.deepcopy(d)
    d["therapies"] = list(entries)
    return d


def error(d: dict) -> ModelError:
    with pytest.raises(ModelError) as exc:
        build(d)
    return exc.value


def test_catalog_has_the_issue_therapies_with_sources_on_every_number() -> None:
    assert set(ISSUE_THERAPIES) <= set(list_therapies())
    cat = therapy_catalog()
    for name, drug in cat.drugs.items():
        for key in ("dose", "volume", "peak", "interval", "half_life"):
            if key in drug:
                assert isinstance(drug[key], dict) and drug[key].get("source"), f"{name}.{key} has no source"
        assert drug.get("source"), name
    for name, reg in cat.therapies.items():
        assert reg.get("source", "").startswith("review:"), name
    for r in cat.rules:
        assert r.get("source") and r.get("statement"), r


def test_every_catalog_therapy_applies_to_the_full_catalog_model() -> None:
    d = catalog_small(size=24, days=1.0)
    cat = therapy_catalog()
    skipped = set()
    for name in list_therapies():
        m = build(with_therapies(d, {"name": name, "start": "2 day"}))
        drug_rules = [r for r in m.rules if r.signal.startswith("drug ")]
        expected = [r for dn in cat.drug_names(name) for r in cat.rules_of(dn)]
        skipped |= {r["cell_type"] for r in expected} - {r.cell_type for r in drug_rules}
        assert drug_rules and {dd.therapy for dd in m.drugs} == {name}
        assert all(dd.start.value == 2 * 1440 for dd in m.drugs)
    assert skipped == {"CAF"}  # the compact model's single CAF type; the catalog has two subsets


def test_yaml_therapies_section_and_round_trip() -> None:
    d = with_therapies(small_dict(), {"name": "atezolizumab+nab-paclitaxel", "start": "14 day",
                                      "overrides": {"atezolizumab": {"interval": "21 day", "dose": "1200 mg"}}})
    m = build(d)
    atezo = m.drug("atezolizumab")
    assert atezo.interval.value == 21 * 1440 and atezo.peak == pytest.approx(1200 / 6.9)
    assert m.drug("nab-paclitaxel").interval.value == 28 * 1440  # not overridden
    assert m.signals()[-2:] == ["drug atezolizumab", "drug nab-paclitaxel"]
    n_drug_rules = sum(r.signal.startswith("drug ") for r in m.rules)
    # the resolved model (config.yaml, --resume) reads back without expanding the therapy again
    again = model_from_dict(yaml.safe_load(yaml.safe_dump(m.model_dump(mode="json"))))
    assert again.model_dump() == m.model_dump()
    assert sum(r.signal.startswith("drug ") for r in again.rules) == n_drug_rules


def test_apply_therapies_returns_a_new_model() -> None:
    m = build(small_dict())
    t = apply_therapies(m, ["anti-CD25@day=1", parse_therapy("bevacizumab@hour=12")])
    assert m.drugs == [] and m.therapies == [] and len(t.rules) > len(m.rules)
    assert [(d.name, d.start.value) for d in t.drugs] == [("daclizumab", 1440.0), ("bevacizumab", 720.0)]
    assert apply_therapies(m, []) is m
    more = apply_therapies(t, ["low-dose-cyclophosphamide"])  # adding to a treated model keeps the rest
    assert [d.name for d in more.drugs] == ["daclizumab", "bevacizumab", "cyclophosphamide"]


def test_model_without_therapies_is_unchanged() -> None:
    m = build(small_dict())
    assert m.drugs == [] and m.therapies == []
    assert not any(s.startswith("drug ") for s in m.signals())


@pytest.mark.parametrize(("entries", "field", "match"), [
    ([{"name": "anti-CD52"}], "therapies[0].name", "unknown therapy 'anti-CD52'; allowed: .*Did you mean 'anti-CD25'"),
    ([{"name": "anti-CD25", "start": "-1 day"}], "therapies", "must be >= 0"),
    ([{"name": "anti-CD25", "start": "3 um"}], "therapies", "expected a time"),
    ([{"name": "anti-CD25", "overrides": {"dacliz": {"cycles": 2}}}], "therapies[0].overrides", "not in therapy 'anti-CD25'; allowed: daclizumab"),
    ([{"name": "anti-CD25", "overrides": {"daclizumab": {"cycle": 2}}}], "therapies", "unknown schedule field.*allowed: dose, volume"),
    ([{"name": "anti-CD25", "overrides": {"daclizumab": {"interval": "0 day"}}}], "therapies[0].overrides[daclizumab]", "interval must be > 0"),
    ([{"name": "anti-CD25", "overrides": {"*": {"cycles": 0}}}], "therapies[0].overrides[daclizumab].cycles", "greater than or equal to 1"),
    ([{"name": "anti-CD25"}, {"name": "anti-CD25"}], "therapies[1].name", "listed twice"),
    ([{"name": "chemotherapy"}, {"name": "bevacizumab+chemotherapy"}], "therapies[1].name", "drug 'paclitaxel' .* already given by therapy 'chemotherapy'"),
    ([{"name": "anti-CD25", "dose": 3}], "therapies", "unknown field"),
])
def test_bad_therapy_entries_name_the_field(entries, field, match) -> None:
    exc = error(with_therapies(small_dict(), *entries))
    assert exc.field.startswith(field), exc
    assert re.search(match, exc.message), exc.message


def test_a_therapy_without_targets_in_the_model_is_an_error() -> None:
    d2 = small_dict()
    d2["cell_types"] = [c for c in d2["cell_types"] if c["name"] != "Treg"]
    d2["initial"] = [p for p in d2["initial"] if p["cell_type"] != "Treg"]
    from tmesim.model.rules_csv import read_rules_csv

    d2["rules"] = [r for r in read_rules_csv(d2["rules"]) if "Treg" not in (r["cell_type"], r["signal"].removeprefix("contact with "))]
    exc = error(with_therapies(d2, {"name": "anti-CD25"}))
    assert exc.field == "therapies[0].name" and "acts on Treg, none of which" in exc.message


def test_hand_written_drugs_and_rules() -> None:
    d = small_dict()
    from tmesim.model.rules_csv import read_rules_csv

    d["drugs"] = [{"name": "mydrug", "unit": "ng/mL", "peak": 5, "interval": "1 day", "half_life": "6 hour",
                   "source": "assumption: test"}]
    d["rules"] = read_rules_csv(d["rules"]) + [{"cell_type": "cancer", "signal": "drug mydrug", "direction": "increases",
                                                "behaviour": "apoptosis", "saturation": "0.001 1/min",
                                                "half_max": "2000 pg/mL", "hill_power": 1, "source": "assumption: test"}]
    m = build(d)
    assert m.rules[-1].half_max == pytest.approx(2.0)  # converted to the drug's unit
    d["rules"][-1]["signal"] = "drug mydrugg"
    exc = error(d)
    assert exc.field.endswith(".signal") and "Did you mean 'drug mydrug'" in exc.message


@pytest.mark.parametrize(("text", "match"), [
    ("atezolizumab+bevacizumab@day=1", "unknown therapy.*pass --therapy once for each"),
    ("anti-CD25@week=2", "unknown schedule key 'week'.*allowed: day, hour, start, cycles"),
    ("anti-CD25@day=-1", "must be >= 0"),
    ("anti-CD25@day=soon", "bad start 'soon'"),
    ("anti-CD25@day=1,hour=2", "gives the start twice"),
    ("anti-CD25@cycles=1.5", "whole number"),
    ("anti-CD25@day", "is not KEY=VALUE"),
    ("@day=1", "names no therapy"),
])
def test_bad_specs(text, match) -> None:
    with pytest.raises(ModelError, match=match) as exc:
        parse_therapy(text)
    assert exc.value.field == "--therapy"


def test_spec_forms() -> None:
    assert parse_therapy("atezolizumab+nab-paclitaxel@day=14").start == 14 * 1440
    assert parse_therapy(" anti-CD25 ").start == 0.0
    assert parse_therapy("anti-CD25@start=2 week").start == 14 * 1440
    assert parse_therapy("anti-CD25@hour=6,cycles=2").overrides == {"*": {"cycles": 2}}


def test_therapies_command_lists_names_targets_schedule_half_life_sources() -> None:
    res = CliRunner().invoke(app, ["therapies"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for name in ISSUE_THERAPIES:
        assert name in res.output
    for text in ("840 mg every 14 d", "27 d", "20.5 h", "review:74", "review:183, 184", "Treg", "targets", "half-life"):
        assert text in res.output, text
    one = CliRunner().invoke(app, ["therapies", "anti-CD25"], env={"COLUMNS": "250"})
    assert one.exit_code == 0 and "Treg: increases apoptosis" in one.output and "Zenapax" in one.output
    bad = CliRunner().invoke(app, ["therapies", "anti-CD2"])
    assert bad.exit_code == 2 and "Did you mean 'anti-CD25'" in bad.output
    table = therapy_table()
    assert set(ISSUE_THERAPIES) <= set(table.therapy) and table.sources.str.len().min() > 0


def test_run_with_therapy(tmp_path) -> None:
    model_file = tmp_path / "small.yaml"
    model_file.write_text(yaml.safe_dump(small_dict(size=24, days=0.2)))
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(model_file), "--days", "0.2", "--out", str(out), "--no-report",
                                   "--therapy", "atezolizumab+nab-paclitaxel@hour=1", "--therapy", "anti-CD25"])
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert [t["name"] for t in cfg["model"]["therapies"]] == ["atezolizumab+nab-paclitaxel", "anti-CD25"]
    assert [d["name"] for d in cfg["model"]["drugs"]] == ["atezolizumab", "nab-paclitaxel", "daclizumab"]
    bad = CliRunner().invoke(app, ["run", str(model_file), "--out", str(tmp_path / "x"), "--therapy", "anti-CD52@day=1"])
    assert bad.exit_code == 2 and "--therapy: unknown therapy 'anti-CD52'" in bad.output
