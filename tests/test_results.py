"""Shipped results stay true: each file in benchmarks/results/ was made with the current models
(MANIFEST.json: model hash, tmesim version, command), and the documentation shows them as shipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tmesim.io.results import fill_markers, stale

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


# Results that may be stale on purpose (none today): each is listed with the reason, and the test
# fails once a listed file is current again.
KNOWN_STALE: set[str] = set()


def test_shipped_results_are_current():
    problems = stale(RESULTS)
    unexpected = [p for p in problems if p.split(":")[0] not in KNOWN_STALE]
    assert not unexpected, "\n".join(unexpected)
    assert {p.split(":")[0] for p in problems} == KNOWN_STALE, "a known-stale result is current: update KNOWN_STALE"


@pytest.mark.parametrize("doc", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_documented_tables_are_the_shipped_ones(doc):
    text = doc.read_text()
    tables = {p.stem: p.read_text() for p in RESULTS.glob("*.md")}
    for name in re.findall(r"<!-- results:([\w.-]+) -->", text):
        assert name in tables, f"{doc.name}: no benchmarks/results/{name}.md"
    assert fill_markers(text, tables) == text, f"{doc.name}: run python benchmarks/docs_tables.py"


def test_stale_result_is_reported(tmp_path):
    from tmesim.io.results import record

    (tmp_path / "t.csv").write_text("a\n1\n")
    record(tmp_path, ["t.csv"], ["spheroid"], "make t")
    assert stale(tmp_path) == []
    (tmp_path / "t.csv").write_text("a\n2\n")
    assert any("edited" in p for p in stale(tmp_path))
    import json

    man = json.loads((tmp_path / "MANIFEST.json").read_text())
    man["t.csv"]["model_hash"] = "0" * 16
    (tmp_path / "MANIFEST.json").write_text(json.dumps(man))
    assert any("re-run: make t" in p for p in stale(tmp_path))
