"""Copy the shipped result tables into the documentation (between their markers).

    python benchmarks/docs_tables.py

Every ``<!-- results:<name> -->`` … ``<!-- /results:<name> -->`` block in README.md and docs/*.md
is replaced by ``benchmarks/results/<name>.md``; tests/test_results.py fails when a block and
its file differ, so the documented figures are always the shipped ones.
"""

from __future__ import annotations

from pathlib import Path

from tmesim.io.results import fill_markers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def tables() -> dict[str, str]:
    return {p.stem: p.read_text() for p in RESULTS.glob("*.md")}


def main() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        new = fill_markers(text, tables())
        if new != text:
            doc.write_text(new)
            print(f"updated {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
