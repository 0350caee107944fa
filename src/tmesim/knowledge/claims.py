"""The review's claims as a table: what each statement says, whether the model implements it
and which test shows it.

``review_claims()`` reads ``data/review_claims.csv`` (one row per statement of Terceiro et
al., Cancers 2021, 13, 4798): the statement, the review references it cites, its ``kind``
(``mechanism``, ``clinical`` or ``context``), its ``status``, what implements it and the test
that shows it. Statuses:

* ``tested`` — implemented, and a named test asserts the effect over seeds;
* ``modelled`` — implemented (``implemented_by``), no test asserts it yet;
* ``partial`` — part of the statement is implemented; ``reason`` says what is missing;
* ``not modelled`` — absent; ``reason`` says why.

``implemented_by`` lists stable ids, separated by ``;``:

* ``rule:<cell type>|<signal>|<direction>|<behaviour>`` — a rule of the catalog preset
  (rules have no id column: the four fields are unique within a preset);
* ``rule@<preset>:<key>`` — a rule of another preset (an organ niche);
* ``param:<cell type>.<behaviour>`` / ``param@<preset>:<cell type>.<behaviour>`` — a base value;
* ``substrate:<name>``, ``cell:<name>`` — a catalog substrate or cell type;
* ``body:<dotted path>`` — a value of the catalog's ``body`` section;
* ``therapy:<name>`` — a therapy of the therapy catalog;
* ``preset:<name>`` — a shipped preset;
* ``code:<module>:<name>`` — a function or constant of the package.

``tests`` lists ``tests/<file>.py::<test>[<case>]`` ids. ``citation_note`` records where the
review cites a paper that does not support the sentence, and the source used instead.
``tmesim catalog --claims`` prints the table; ``docs/claims.md`` is rendered from it by
``claims_markdown`` (``tmesim catalog --claims --format markdown > docs/claims.md``).
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from importlib import resources

import pandas as pd

from tmesim.model import ModelError

STATUSES = ("tested", "modelled", "partial", "not modelled")
KINDS = ("mechanism", "clinical", "context")
COLUMNS = ["claim_id", "section", "source", "relation", "target", "effect", "refs", "statement", "kind", "status",
           "implemented_by", "tests", "reason", "citation_note"]


def _split(text: str) -> list[str]:
    return [p.strip() for p in str(text or "").split(";") if p.strip()]


def claim_refs(refs: str) -> tuple[int, ...]:
    """Review reference numbers of a claim's ``refs`` cell (``"28;30"`` → ``(28, 30)``)."""
    return tuple(int(n) for n in re.findall(r"\d+", str(refs or "")))


@lru_cache(maxsize=1)
def _read() -> pd.DataFrame:
    text = resources.files("tmesim.knowledge").joinpath("data/review_claims.csv").read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ModelError("review_claims.csv", f"missing columns {missing}; expected {COLUMNS}")
    return df[COLUMNS]


def review_claims() -> pd.DataFrame:
    """The claims table (a copy): one row per statement of the review, columns ``COLUMNS``."""
    return _read().copy()


def implemented_ids(row: pd.Series) -> list[str]:
    return _split(row["implemented_by"])


def claim_tests(row: pd.Series) -> list[str]:
    return _split(row["tests"])


def filter_claims(claims: pd.DataFrame | None = None, status: str | None = None, reference: int | None = None,
                  signal: str | None = None, cell_type: str | None = None, kind: str | None = None,
                  text: str | None = None) -> pd.DataFrame:
    """Claims with the given status/kind, citing review reference ``reference``, whose
    implementing ids name ``signal`` or ``cell_type`` (case-insensitive substring; for
    cell types also the claim's source/target), or whose statement contains ``text``. All
    given filters must hold. Unknown status or kind raise a ``ModelError`` listing the
    allowed values."""
    df = review_claims() if claims is None else claims
    keep = pd.Series(True, index=df.index)
    if status is not None:
        if status not in STATUSES:
            raise ModelError("status", f"unknown status {status!r}; allowed: {', '.join(STATUSES)}")
        keep &= df["status"] == status
    if kind is not None:
        if kind not in KINDS:
            raise ModelError("kind", f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
        keep &= df["kind"] == kind
    if reference is not None:
        keep &= df["refs"].map(lambda r: reference in claim_refs(r))
    if signal is not None:
        s = signal.strip().lower()
        keep &= df["implemented_by"].map(lambda ids: any(
            s in part.lower() for i in _split(ids) for part in _id_fields(i)[1:2]) or
            any(i.lower() == f"substrate:{s}" for i in _split(ids)))
    if cell_type is not None:
        t = cell_type.strip().lower()
        keep &= (df["implemented_by"].str.lower().str.contains(re.escape(t))
                 | df["source"].str.lower().str.contains(re.escape(t))
                 | df["target"].str.lower().str.contains(re.escape(t)))
    if text is not None:
        keep &= df["statement"].str.lower().str.contains(re.escape(text.strip().lower()))
    return df[keep].reset_index(drop=True)


def _id_fields(ident: str) -> list[str]:
    """The four fields of a rule id (cell type, signal, direction, behaviour); [] for others."""
    kind, _, rest = ident.partition(":")
    if not kind.startswith("rule"):
        return []
    return rest.split("|")


def status_counts(claims: pd.DataFrame | None = None, kind: str | None = None) -> dict[str, int]:
    """Number of claims per status (all four statuses, zero included)."""
    df = review_claims() if claims is None else claims
    if kind is not None:
        df = df[df["kind"] == kind]
    counts = df["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(claims: pd.DataFrame | None = None) -> str:
    """The claims table as a Markdown page (what ``docs/claims.md`` holds)."""
    df = review_claims() if claims is None else claims
    lines = [
        "# The review's claims in the model",
        "",
        "<!-- generated from src/tmesim/knowledge/data/review_claims.csv by "
        "`tmesim catalog --claims --format markdown > docs/claims.md`; do not edit by hand -->",
        "",
        "Every statement of Terceiro et al., *The Breast Tumor Microenvironment: A Key Player in Metastatic "
        "Spread*, Cancers 2021, 13, 4798 (doi:10.3390/cancers13194798), with what implements it in tmesim "
        "and the in-silico experiment that shows it. Numbers in brackets are the review's references.",
        "",
        "Statuses: **tested** (implemented; a test asserts the effect over seeds), **modelled** (implemented, "
        "not yet tested), **partial** (part of the statement implemented; the reason says what is missing), "
        "**not modelled** (with the reason). Kinds: *mechanism* (a causal statement), *clinical* (therapy or "
        "prognosis), *context* (epidemiology, classification, methods).",
        "",
        "Print or filter it with `tmesim catalog --claims` (`--status`, `--reference`, `--signal`, "
        "`--cell-type`).",
        "",
        "## Counts",
        "",
        "| kind | " + " | ".join(STATUSES) + " | total |",
        "|---|" + "---|" * (len(STATUSES) + 1),
    ]
    for kind in (*KINDS, None):
        counts = status_counts(df, kind)
        total = sum(counts.values())
        lines.append(f"| {kind or 'all'} | " + " | ".join(str(counts[s]) for s in STATUSES) + f" | {total} |")
    notes = df[df["citation_note"].str.strip() != ""]
    for section, part in df.groupby("section", sort=False):
        lines += ["", f"## {section}", "", "| id | statement | refs | status | implemented by | test / reason |",
                  "|---|---|---|---|---|---|"]
        for _, r in part.iterrows():
            impl = "<br>".join(f"`{_cell(i)}`" for i in implemented_ids(r))
            tests = "<br>".join(f"`{_cell(t)}`" for t in claim_tests(r))
            why = _cell(r["reason"])
            last = "<br>".join(x for x in (tests, why) if x)
            lines.append(f"| {r['claim_id']} | {_cell(r['statement'])} | {_cell(r['refs'].replace(';', ', '))} | "
                         f"{r['status']} | {impl} | {last} |")
    if len(notes):
        lines += ["", "## Citation notes", "",
                  "Where the review cites a paper that does not support its sentence, or the model cited the review "
                  "for an effect it did not model, and the source used instead.", "",
                  "| id | note |", "|---|---|"]
        lines += [f"| {r['claim_id']} | {_cell(r['citation_note'])} |" for _, r in notes.iterrows()]
    return "\n".join(lines) + "\n"


__all__ = ["COLUMNS", "KINDS", "STATUSES", "claim_refs", "claim_tests", "claims_markdown", "filter_claims", "implemented_ids",
           "review_claims", "status_counts"]
