"""The breast TME catalog covers every cell type and signal of the review, every rule is
cited, and the four subtype presets extend it, validate and run."""

from __future__ import annotations

import pytest

import tmesim
from conftest import build, catalog_small
from tmesim.knowledge import review_references
from tmesim.knowledge.catalog import review_refs

CELL_TYPES = [
    "cancer", "fibroblast", "MSC", "CAF_S100A4", "CAF_PDPN", "endothelial", "TEC", "adipocyte", "CAA",
    "monocyte", "M1_macrophage", "M2_macrophage", "N1_neutrophil", "N2_neutrophil", "MDSC", "Treg", "Breg",
    "Th2", "CD8_T_cell", "NK_cell", "platelet",
]
SIGNALS = [
    "oxygen", "tgfb", "il6", "cxcl12", "pdgf", "vegf", "ccl2", "ccl3", "ccl5", "il1b", "tnfa", "il10", "egf",
    "leptin", "adipsin", "osteopontin", "metabolites", "mmp", "ifng", "il2", "il4",
]
STATE_VARIABLES = ["emt", "stemness", "pdl1"]
SUBTYPES = ["tnbc", "her2", "luminal-a", "luminal-b"]


@pytest.fixture(scope="module")
def catalog() -> tmesim.Model:
    return tmesim.load_model(tmesim.preset_path("catalog"))


def test_every_cell_type_is_in_the_catalog_and_in_a_rule(catalog) -> None:
    missing = sorted(set(CELL_TYPES) - set(catalog.cell_type_names))
    assert not missing, f"cell types missing from the catalog: {missing}"
    actors = {r.cell_type for r in catalog.rules}
    contacts = {r.signal.removeprefix("contact with ") for r in catalog.rules if r.signal.startswith("contact with ")}
    targets = {r.behaviour.split(" ", 1)[1].removeprefix("to ") for r in catalog.rules
               if r.behaviour.startswith(("transform to ", "attack ", "immunogenicity to "))}
    no_rule = [t for t in CELL_TYPES if t not in actors | contacts | targets]
    assert not no_rule, f"cell types with no rule (as actor, contact signal or target): {no_rule}"
    assert catalog.cell_type("endothelial").vessel and catalog.cell_type("TEC").vessel


def test_every_signal_is_a_substrate_with_a_rule(catalog) -> None:
    missing = sorted(set(SIGNALS) - set(catalog.substrate_names))
    assert not missing, f"signals missing from the catalog: {missing}"
    sensed = {r.signal for r in catalog.rules}
    no_rule = [s for s in SIGNALS if s not in sensed]
    assert not no_rule, f"signals no rule responds to: {no_rule}"
    made = {s for ct in catalog.cell_types for name, p in ct.behaviours.items() for s in SIGNALS
            if name in (f"{s} secretion", f"{s} export") and float(p.value) > 0}
    made |= {r.behaviour.removesuffix(" secretion") for r in catalog.rules if r.behaviour.endswith(" secretion")}
    assert not [s for s in SIGNALS if s != "oxygen" and s not in made], "every cytokine has a producer"
    assert set(STATE_VARIABLES) <= set(catalog.state_variables)
    assert any(r.signal == "neighbour pdl1" for r in catalog.rules)


def test_every_rule_is_cited_and_stated(catalog) -> None:
    refs = review_references()
    for r in catalog.rules:
        where = f"{r.cell_type} / {r.signal} / {r.behaviour}"
        assert r.source and r.source.strip(), f"rule without source: {where}"
        assert r.statement and r.statement.strip(), f"rule without statement: {where}"
        unknown = [n for n in review_refs(r.source) if n not in refs]
        assert not unknown, f"rule {where} cites review references that do not exist: {unknown}"
    for ct in catalog.cell_types:
        for name, p in ct.behaviours.items():
            if "secretion target" not in name:
                assert p.source, f"{ct.name}.{name} has no source"
                assert not [n for n in review_refs(p.source) if n not in refs], f"{ct.name}.{name}: unknown reference"


def test_cytokines_stay_on_the_fast_split_path(catalog) -> None:
    for ct in catalog.cell_types:
        for name, p in ct.behaviours.items():
            if name.endswith((" secretion", " uptake")) and not name.startswith("oxygen"):
                assert float(p.value) <= 0.03, f"{ct.name}.{name} = {p.value} /min exceeds 0.03 /min"
    for r in catalog.rules:
        if r.behaviour.endswith((" secretion", " uptake")) and not r.behaviour.startswith("oxygen"):
            assert float(r.saturation) <= 0.03, f"rule {r.cell_type} {r.behaviour} saturates above 0.03 /min"


def test_review_sections_are_covered(catalog) -> None:
    """Key directed statements of the fibroblast, endothelial, adipocyte and immune sections."""
    cited = {n for r in catalog.rules for n in review_refs(r.source)}
    expected = {20, 28, 29, 30, 31, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 55, 56, 57,
                58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 154}
    assert not sorted(expected - cited), f"review references without a rule: {sorted(expected - cited)}"
    for n in (39, 40, 187):  # cited by parameters rather than rules
        assert any(n in review_refs(p.source) for ct in catalog.cell_types for p in ct.behaviours.values()) or \
            any(n in review_refs(pl.source) for pl in catalog.initial), n


@pytest.mark.parametrize("name", SUBTYPES)
def test_subtype_presets_extend_the_catalog_and_run(name, catalog) -> None:
    m = tmesim.load_model(tmesim.preset_path(name))
    assert m.name == name
    assert m.cell_type_names == catalog.cell_type_names and m.substrate_names == catalog.substrate_names
    assert len(m.rules) == len(catalog.rules)
    small = build(catalog_small(size=32, days=0.1, preset=name))
    sim = tmesim.engine.Simulation(small, seed=0)
    for _ in range(3):
        sim.step()
    assert sim.count("cancer") > 0 and sim.n_cells > 0


def test_subtype_differences_follow_the_review() -> None:
    m = {n: tmesim.load_model(tmesim.preset_path(n)) for n in SUBTYPES}

    def beh(name: str, ct: str, b: str) -> float:
        return float(m[name].cell_type(ct).behaviours[b].value)

    ctl = {n: beh(n, "CD8_T_cell", "recruitment") for n in SUBTYPES}
    assert min(ctl["tnbc"], ctl["her2"]) > max(ctl["luminal-a"], ctl["luminal-b"])  # review:187
    assert beh("luminal-b", "cancer", "cycle entry") > beh("luminal-a", "cancer", "cycle entry")  # review:5-8
    assert beh("her2", "cancer", "cycle entry") > beh("luminal-b", "cancer", "cycle entry")
    init = {n: m[n].cell_type("cancer").initial_state for n in SUBTYPES}
    assert init["tnbc"]["pdl1"] == max(i["pdl1"] for i in init.values())
    assert init["tnbc"]["emt"] == max(i["emt"] for i in init.values())
    assert init["tnbc"]["stemness"] == max(i["stemness"] for i in init.values())


def test_default_preset_is_tnbc_on_a_full_size_domain() -> None:
    from tmesim.presets import DEFAULT

    m = tmesim.load_model(tmesim.preset_path(DEFAULT))
    assert DEFAULT == "tnbc" and m.domain.shape == [160, 160]
