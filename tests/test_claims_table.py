"""The review's claims table is consistent with the model and the test suite: every id it names
exists, every test it names exists (test files parsed with ast), statuses agree with what is
listed, every rule's review reference appears in a claim, and docs/claims.md is current."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

import tmesim
from tmesim.knowledge.catalog import review_refs
from tmesim.knowledge.claims import (
    COLUMNS,
    KINDS,
    STATUSES,
    claim_refs,
    claim_tests,
    claims_markdown,
    filter_claims,
    implemented_ids,
    review_claims,
    status_counts,
)
from tmesim.model import ModelError
from tmesim.therapy import list_therapies

ROOT = Path(__file__).resolve().parents[1]
NICHES = ("niche-lung", "niche-liver", "niche-bone", "niche-brain")


@cache
def model(preset: str) -> tmesim.Model:
    return tmesim.load_model(tmesim.preset_path(preset))


def rule_keys(preset: str) -> list[str]:
    return [f"{r.cell_type}|{r.signal}|{r.direction}|{r.behaviour}" for r in model(preset).rules]


@cache
def _test_functions(path: str) -> tuple[set[str], set[str]]:
    """(test function names, string constants) of a test file."""
    tree = ast.parse((ROOT / path).read_text())
    funcs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    consts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return funcs, consts


def _resolve(ident: str) -> str | None:
    """None if ``ident`` names something that exists, else why not."""
    kind, _, rest = ident.partition(":")
    preset = "catalog"
    if "@" in kind:
        kind, preset = kind.split("@", 1)
    if kind == "rule":
        return None if rest in rule_keys(preset) else f"no rule {rest!r} in preset {preset}"
    if kind == "param":
        ct, _, beh = rest.partition(".")
        if ct not in model(preset).cell_type_names:
            return f"no cell type {ct!r} in preset {preset}"
        return None if beh in model(preset).cell_type(ct).behaviours else f"{ct} has no base value {beh!r} in {preset}"
    if kind == "cell":
        return None if rest in model("catalog").cell_type_names else f"no cell type {rest!r}"
    if kind == "substrate":
        return None if rest in model("catalog").substrate_names else f"no substrate {rest!r}"
    if kind == "body":
        obj = model("catalog").model_dump(mode="json")["body"]
        for part in rest.split("."):
            if not isinstance(obj, dict) or part not in obj:
                return f"no body value {rest!r}"
            obj = obj[part]
        return None
    if kind == "therapy":
        return None if rest in set(list_therapies()) else f"no therapy {rest!r}"
    if kind == "preset":
        return None if tmesim.preset_path(rest).is_file() else f"no preset {rest!r}"
    if kind == "code":
        import importlib

        mod, _, attr = rest.partition(":")
        return None if hasattr(importlib.import_module(mod), attr) else f"no {attr!r} in {mod}"
    return f"unknown id kind {kind!r}"


@pytest.fixture(scope="module")
def claims():
    return review_claims()


def test_columns_ids_and_values(claims) -> None:
    assert list(claims.columns) == COLUMNS
    assert claims["claim_id"].is_unique
    assert set(claims["status"]) <= set(STATUSES), set(claims["status"]) - set(STATUSES)
    assert set(claims["kind"]) <= set(KINDS)
    assert (claims["statement"].str.strip() != "").all()


def test_statuses_are_consistent(claims) -> None:
    for _, r in claims.iterrows():
        cid, impl, tests, why = r["claim_id"], implemented_ids(r), claim_tests(r), r["reason"].strip()
        if r["status"] == "tested":
            assert impl and tests, f"{cid}: tested needs what implements it and a test"
        elif r["status"] == "modelled":
            assert impl and not tests, f"{cid}: modelled names what implements it and no test (else it is tested)"
        elif r["status"] == "partial":
            assert impl and why, f"{cid}: partial names what implements it and says what is missing"
        else:
            assert why and not impl and not tests, f"{cid}: not modelled needs a reason and names nothing"


def test_every_implementing_id_exists(claims) -> None:
    bad = [f"{r['claim_id']}: {why}" for _, r in claims.iterrows() for i in implemented_ids(r) if (why := _resolve(i))]
    assert not bad, "\n".join(bad)


def test_every_named_test_exists(claims) -> None:
    bad = []
    for _, r in claims.iterrows():
        for t in claim_tests(r):
            m = re.fullmatch(r"(tests/[\w/]+\.py)::(\w+)(?:\[([^\]]+)\])?", t)
            if not m:
                bad.append(f"{r['claim_id']}: malformed test id {t!r}")
                continue
            path, func, case = m.groups()
            if not (ROOT / path).is_file():
                bad.append(f"{r['claim_id']}: no file {path}")
                continue
            funcs, consts = _test_functions(path)
            if func not in funcs:
                bad.append(f"{r['claim_id']}: no test {func} in {path}")
            elif case is not None and case not in consts:
                bad.append(f"{r['claim_id']}: no case {case!r} in {path}")
    assert not bad, "\n".join(bad)


def test_experiments_and_table_agree(claims) -> None:
    """Each co-culture case names the claims it shows; those claims list the case's test."""
    from test_claims_experiments import CASES, QUICK

    tests = {r["claim_id"]: set(claim_tests(r)) for _, r in claims.iterrows()}
    for name, case in CASES.items():
        tid = f"tests/test_claims_experiments.py::{'test_claim_quick' if name in QUICK else 'test_claim'}[{name}]"
        for cid in case.claims:
            assert tid in tests[cid], f"{cid} does not list {tid}"


def test_every_cited_review_reference_has_a_claim(claims) -> None:
    """A rule citing review:<n> (catalog, organ niches, therapies) implements a statement of the review citing [n]."""
    covered = {n for refs in claims["refs"] for n in claim_refs(refs)}
    missing = {}
    for preset in ("catalog", *NICHES):
        for r in model(preset).rules:
            for n in review_refs(r.source):
                if n not in covered:
                    missing.setdefault(n, []).append(f"{preset}: {r.cell_type}|{r.signal}|{r.behaviour}")
    from importlib import resources

    from tmesim.model.rules_csv import read_rules_csv

    with resources.as_file(resources.files("tmesim.data").joinpath("therapy_rules.csv")) as path:
        for r in read_rules_csv(path):
            for n in review_refs(r.get("source")):
                if n not in covered:
                    missing.setdefault(n, []).append(f"therapy: {r['cell_type']}|{r['signal']}|{r['behaviour']}")
    assert not missing, missing


def test_rule_keys_are_unique() -> None:
    for preset in ("catalog", *NICHES):
        keys = rule_keys(preset)
        assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]


def test_filters_and_counts(claims) -> None:
    counts = status_counts(claims)
    assert sum(counts.values()) == len(claims)
    tested = filter_claims(claims, status="tested")
    assert len(tested) == counts["tested"]
    assert set(filter_claims(claims, reference=66)["claim_id"]) >= {"C053", "C054"}
    assert "C053" in set(filter_claims(claims, signal="ccl3")["claim_id"])
    with pytest.raises(ModelError, match="allowed: tested"):
        filter_claims(claims, status="proven")


def test_docs_page_is_current() -> None:
    page = ROOT / "docs" / "claims.md"
    assert page.read_text() == claims_markdown(), (
        "docs/claims.md is out of date: run `tmesim catalog --claims --format markdown > docs/claims.md`")


def test_catalog_claims_cli() -> None:
    from typer.testing import CliRunner

    from tmesim.cli import app

    runner = CliRunner()
    wide = {"COLUMNS": "250"}
    res = runner.invoke(app, ["catalog", "--claims", "--reference", "66"], env=wide)
    assert res.exit_code == 0, res.output
    assert "C053" in res.output and "C054" in res.output and "C001" not in res.output
    res = runner.invoke(app, ["catalog", "--claims", "--status", "not modelled", "--format", "csv"])
    assert res.exit_code == 0 and res.output.startswith("claim_id,")
    assert set(line.split(",")[0] for line in res.output.splitlines()[1:] if line[:1] == "C") >= {"C001", "C105"}
    res = runner.invoke(app, ["catalog", "--claims", "--status", "proven"])
    assert res.exit_code == 2 and "error: --status: unknown status 'proven'" in res.output
    res = runner.invoke(app, ["catalog", "--status", "tested"])
    assert res.exit_code == 2 and "--status: needs --claims" in res.output
