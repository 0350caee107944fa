"""``tmesim rules export|import``: a model's rules table as tmesim or PhysiCell CSV."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..model import ModelError
from ._common import console, fail, load, write_text

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Export a model's rules table, or import a PhysiCell rules file.")


class RulesFormat(StrEnum):
    tmesim = "tmesim"
    physicell = "physicell"


@app.command("export")
def rules_export(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    fmt: Annotated[RulesFormat, typer.Option("--format", help="tmesim: CSV with header, source and statement; "
                                             "physicell: PhysiCell v3 rules CSV (8 columns, no header)")] = RulesFormat.tmesim,
    out: Annotated[Path | None, typer.Option(help="file to write (default: standard output)")] = None,
) -> None:
    """Write a model's rules table as tmesim or PhysiCell CSV."""
    from ..knowledge import export_rules
    from ..knowledge.catalog import export_physicell_rules

    try:
        m = load(model, preset)
        if fmt.value == "physicell":
            # Row by row: what PhysiCell cannot read is dropped (kept as a // comment) or approximated.
            text, warnings = export_physicell_rules(m)
            for w in warnings:
                console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
            dropped = sum(": dropped:" in w for w in warnings)
            write_text(text, out, f"{len(m.rules) - dropped} of {len(m.rules)} rules, physicell format; "
                                  f"{dropped} dropped, sources kept as // comments")
        else:
            write_text(export_rules(m, fmt.value), out, f"{len(m.rules)} rules, {fmt.value} format")
    except ModelError as exc:
        fail(exc)


@app.command("import")
def rules_import(
    rules_file: Annotated[Path, typer.Argument(help="PhysiCell rules CSV: v3 rows (8 columns) or v2 rows (9, with base value), no header")],
    model: Annotated[Path | None, typer.Option("--model", help="model YAML the rules must fit (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name instead of --model")] = None,
    out: Annotated[Path | None, typer.Option(help="tmesim rules CSV to write (default: standard output)")] = None,
) -> None:
    """Check a PhysiCell rules file against a model and write it as a tmesim rules CSV."""
    from ..knowledge import read_physicell_rules

    try:
        if model is not None and preset is not None:
            raise ModelError("--model", "give either --model or --preset, not both")
        m = load(model, preset)
        result = read_physicell_rules(rules_file, m)
        for w in result.warnings:
            console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
        counts = ", ".join(f"{result.layouts.count(k)} {k}" for k in ("v3", "v2", "tmesim") if k in result.layouts)
        write_text(result.to_csv(), out, f"{len(result.rules)} rules ({counts}) valid for model {m.name!r}")
    except ModelError as exc:
        fail(exc)


