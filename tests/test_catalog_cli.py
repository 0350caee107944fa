"""The catalog (cell types, signals, rules with sources) and the interaction graph."""

from __future__ import annotations

import networkx as nx
import pytest
import yaml
from typer.testing import CliRunner

import tmesim
from conftest import small_dict
from tmesim.cli import app
from tmesim.knowledge import catalog_tables, filter_rules, interaction_graph, write_graph
from tmesim.model import ModelError

runner = CliRunner()
WIDE = {"COLUMNS": "250"}  # the catalog's tables are printed at this width


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tnbc() -> tmesim.Model:
    return tmesim.load_model(tmesim.preset_path("tnbc-core"))


def _edges(g: nx.MultiDiGraph, u: str, v: str) -> list[dict]:
    return list((g.get_edge_data(u, v) or {}).values())


def test_catalog_tables(tnbc) -> None:
    t = catalog_tables(tnbc)
    assert set(t) == {"cell_types", "signals", "rules"}
    ct = t["cell_types"].set_index("cell_type")
    assert list(ct.index) == tnbc.cell_type_names
    assert ct.loc["CAF", "description"] == "cancer-associated fibroblast"
    assert ct.loc["endothelial", "vessel"] and "tgfb" in ct.loc["CAF", "secretes"]
    sig = t["signals"].set_index("signal")
    assert sig.loc["oxygen", "unit"] == "mmHg" and sig.loc["oxygen", "kind"] == "substrate"
    assert sig.loc["contact with MDSC", "kind"] == "contact" and sig.loc["pressure", "kind"] == "built-in"
    assert sig.loc["neighbour pdl1", "kind"] == "neighbour state" and sig.loc["emt", "kind"] == "state"
    assert "contact with adipocyte" not in sig.index  # only signals the rules use, besides substrates
    rules = t["rules"]
    assert len(rules) == len(tnbc.rules) == int(ct["n_rules"].sum())
    assert list(rules.columns[:4]) == ["cell_type", "signal", "direction", "behaviour"]
    assert {"source", "statement", "references"} <= set(rules.columns)


def test_filter_rules(tnbc) -> None:
    tgfb = filter_rules(tnbc, signal="TGFB")
    assert set(tgfb["signal"]) == {"tgfb"}
    caf = tgfb[(tgfb["cell_type"] == "fibroblast") & (tgfb["behaviour"] == "transform to CAF")]
    assert len(caf) == 1 and caf.iloc[0]["source"] == "review:20"

    ref66 = filter_rules(tnbc, reference=66)
    assert sorted(zip(ref66["cell_type"], ref66["signal"], ref66["behaviour"], strict=True)) == [
        ("MDSC", "ccl3", "recruitment"), ("cancer", "contact with MDSC", "emt increase")]

    macro = filter_rules(tnbc, cell_type="macrophage")
    assert set(macro["cell_type"]) == {"M1_macrophage", "M2_macrophage"}
    both = filter_rules(tnbc, cell_type="fibro", signal="tgfb")
    assert list(both["behaviour"]) == ["transform to CAF"]
    contact = filter_rules(tnbc, signal="contact with")
    assert all(s.startswith("contact with") for s in contact["signal"]) and len(contact) >= 5
    multi = filter_rules(tnbc, reference=44)  # "review:41, 42, 43, 44"
    assert list(multi["behaviour"]) == ["transform to CAA"]


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({"cell_type": "neutrophil"}, "cell_type", "allowed: cancer, endothelial, fibroblast"),
        ({"signal": "il17"}, "signal", "allowed: oxygen, vegf, tgfb"),
        ({"reference": 5}, "reference", "allowed: 19, 20"),
        ({"reference": 999}, "reference", "numbered 1-"),
    ],
)
def test_filter_errors_list_allowed_values(tnbc, kwargs, field, expected) -> None:
    with pytest.raises(ModelError) as info:
        filter_rules(tnbc, **kwargs)
    assert info.value.field == field and expected in info.value.message


def test_catalog_cli_tables_and_filters() -> None:
    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core"], env=WIDE)
    assert res.exit_code == 0, res.output
    for text in ("Cell types of tnbc", "cancer-associated fibroblast", "Signals", "mmHg", "Rules (40)",
                 "Crowding stops CAF division."):
        assert text in res.stdout

    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--signal", "tgfb"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "transform to CAF" in res.stdout and "TGF-beta and other CAF cytokines" in res.stdout
    assert "Rules (6 of 40)" in res.stdout and "ccl3" not in res.stdout

    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--reference", "66"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "Review reference [66]: Myeloid-Derived Suppressor Cells Recruited by Chemokine" in _flat(res.stdout)
    assert "Rules (2 of 40)" in res.stdout and "CCL3 produced by breast cancer cells attracts MDSCs" in res.stdout

    res = runner.invoke(app, ["catalog", str(tmesim.preset_path("tnbc-core")), "--cell-type", "caf"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "Rules (1 of 40)" in res.stdout and "Crowding stops CAF division." in res.stdout
    assert "normal mammary fibroblast" not in res.stdout and "TGF-beta1" not in res.stdout  # tables narrowed too


def test_catalog_cli_unknown_filter_values() -> None:
    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--cell-type", "neutrophil"])
    assert res.exit_code == 2
    msg = _flat(res.stderr)
    assert "--cell-type: no cell type of model 'tnbc-core' matches 'neutrophil'; allowed: cancer, endothelial" in msg
    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--signal", "il17"])
    assert res.exit_code == 2 and "--signal: no signal" in _flat(res.stderr) and "tgfb" in res.stderr
    res = runner.invoke(app, ["catalog", "--preset", "tnbc-core", "--reference", "5"])
    assert res.exit_code == 2 and "--reference: no rule of model 'tnbc-core' cites review reference 5" in _flat(res.stderr)


def test_interaction_graph(tnbc) -> None:
    g = interaction_graph(tnbc)
    assert isinstance(g, nx.MultiDiGraph)
    for ct in tnbc.cell_type_names:
        assert g.nodes[ct]["kind"] == "cell_type"
    for s in tnbc.substrate_names:
        assert g.nodes[s]["kind"] == "signal" and g.nodes[s]["signal_kind"] == "substrate"
    assert g.nodes["pressure"]["kind"] == "signal" and g.nodes["neighbour pdl1"]["signal_kind"] == "neighbour state"

    sec = [d for d in _edges(g, "CAF", "tgfb") if d["relation"] == "secretes"]
    assert len(sec) == 1 and sec[0]["rate"] == pytest.approx(0.02) and sec[0]["source"] == "review:20"
    resp = [d for d in _edges(g, "tgfb", "fibroblast") if d["relation"] == "increases"]
    assert [d["behaviour"] for d in resp] == ["transform to CAF"] and resp[0]["source"] == "review:20"
    assert [d["relation"] for d in _edges(g, "fibroblast", "CAF")] == ["transforms_to"]
    assert "transforms_to" in [d["relation"] for d in _edges(g, "adipocyte", "CAA")]
    assert {d["relation"] for d in _edges(g, "CD8_T_cell", "cancer")} == {"kills"}
    assert {d["relation"] for d in _edges(g, "M1_macrophage", "cancer")} == {"kills"}
    contact = _edges(g, "cancer", "fibroblast")  # contact with cancer raises transform to CAF
    assert contact and contact[0]["contact"] and contact[0]["behaviour"] == "transform to CAF"
    treg = {(d["relation"], d["behaviour"]) for d in _edges(g, "Treg", "CD8_T_cell")}
    assert ("decreases", "attack cancer") in treg and ("increases", "apoptosis") in treg
    assert any(d["relation"] == "decreases" and d["behaviour"] == "necrosis" for d in _edges(g, "oxygen", "cancer"))
    n_rule_edges = sum(1 for *_, d in g.edges(data=True) if d["relation"] in ("increases", "decreases"))
    assert n_rule_edges == len(tnbc.rules)  # no "contact with vessel" rules in tnbc


def test_graph_files(tnbc, tmp_path) -> None:
    g = interaction_graph(tnbc)
    path = write_graph(g, tmp_path / "g.graphml")
    back = nx.read_graphml(path, force_multigraph=True)
    assert back.number_of_nodes() == g.number_of_nodes() and back.number_of_edges() == g.number_of_edges()
    assert back.nodes["CAF"]["kind"] == "cell_type"
    assert any(d["relation"] == "secretes" for d in back.get_edge_data("CAF", "tgfb").values())
    gexf = write_graph(g, tmp_path / "g.gexf")
    assert nx.read_gexf(gexf).number_of_edges() == g.number_of_edges()
    with pytest.raises(ModelError, match=r"allowed: \.graphml, \.gexf, \.png"):
        write_graph(g, tmp_path / "g.svg")


def test_catalog_graph_cli(tmp_path) -> None:
    out = tmp_path / "g.graphml"
    res = runner.invoke(app, ["catalog", "graph", "--preset", "tnbc-core", "--out", str(out)])
    assert res.exit_code == 0, res.output
    g = nx.read_graphml(out)
    assert g.nodes["fibroblast"]["kind"] == "cell_type" and g.nodes["tgfb"]["kind"] == "signal"

    d = small_dict()
    d["rules"] = str(tmesim.preset_path("tnbc-core").parent / "tnbc_rules.csv")
    model_file = tmp_path / "m.yaml"
    model_file.write_text(yaml.safe_dump(d, sort_keys=False))
    png = tmp_path / "g.png"
    res = runner.invoke(app, ["catalog", "graph", str(model_file), "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    res = runner.invoke(app, ["catalog", "graph", "--out", "g.dot"])
    assert res.exit_code == 2
    assert "unknown graph file extension '.dot'" in _flat(res.stderr) and ".graphml, .gexf, .png" in _flat(res.stderr)
