"""``tmesim catalog [show|graph]``: cell types, signals and rules with their sources; the network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..model import ModelError
from ._common import console, fail, load


class _DefaultShowGroup(TyperGroup):
    """``tmesim catalog [MODEL] [options]`` runs ``catalog show``; ``tmesim catalog graph`` the graph."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultShowGroup, add_completion=False,
    help="Cell types, signals and rules of a model with their sources: "
         "`tmesim catalog [MODEL] [--cell-type T] [--signal S] [--reference N]`; the review's claims with their "
         "status and tests: `tmesim catalog --claims [--status S] [--reference N] [--signal S]`; "
         "or the interaction network: `tmesim catalog graph [MODEL] --out g.graphml|g.gexf|g.png`.")


@app.command("show")
def catalog_show(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    cell_type: Annotated[str | None, typer.Option("--cell-type", help="rules of cell types whose name contains this (case-insensitive)")] = None,
    signal: Annotated[str | None, typer.Option(help="rules whose signal contains this (case-insensitive)")] = None,
    reference: Annotated[int | None, typer.Option(help="rules citing this reference number of the review")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable tables on stdout: cell_types, signals, rules")] = False,
    claims: Annotated[bool, typer.Option("--claims", help="the review's claims instead: status, what implements each and its test (filtered by --status, --kind, --reference, --signal, --cell-type)")] = False,
    status: Annotated[str | None, typer.Option(help="with --claims: tested, modelled, partial or 'not modelled'")] = None,
    kind: Annotated[str | None, typer.Option(help="with --claims: mechanism, clinical or context")] = None,
    fmt: Annotated[str, typer.Option("--format", help="with --claims: table, csv or markdown")] = "table",
) -> None:
    """List cell types, signals and rules with their sources (the default of `tmesim catalog`)."""
    from rich.table import Table
    from rich.text import Text

    if claims:
        _show_claims(status=status, kind=kind, reference=reference, signal=signal, cell_type=cell_type, fmt=fmt)
        return
    if status is not None or kind is not None:
        fail(ModelError("--status" if status is not None else "--kind", "needs --claims"))
        return

    from ..knowledge import catalog_tables, filter_rules, review_references
    from ..knowledge.catalog import match_cell_types, match_signals

    try:
        m = load(model, preset)
        tables = catalog_tables(m)
        rules = filter_rules(m, cell_type=cell_type, signal=signal, reference=reference)
        types = match_cell_types(m, cell_type) if cell_type is not None else None
        signals = match_signals(m, signal) if signal is not None else None
    except ModelError as exc:
        if exc.field in ("cell_type", "signal", "reference"):  # name the option the user typed
            exc = ModelError("--" + exc.field.replace("_", "-"), exc.message)
        fail(exc)
        return

    if as_json:
        from ._common import emit_json

        ct, sg = tables["cell_types"], tables["signals"]
        emit_json({"model": m.name,
                   "cell_types": (ct if types is None else ct[ct["cell_type"].isin(types)]).to_dict("records"),
                   "signals": (sg if signals is None else sg[sg["signal"].isin(signals)]).to_dict("records"),
                   "rules": rules.assign(references=rules["references"].map(list)).to_dict("records")})
        return
    out = Console()
    filtered = cell_type is not None or signal is not None or reference is not None

    def show(title: str, df, columns: list[str]) -> None:  # noqa: ANN001
        t = Table(title=title, title_justify="left", show_lines=False)
        for c in columns:
            t.add_column(c.replace("_", " "), no_wrap=c == "direction")
        for row in df[columns].itertuples(index=False):
            t.add_row(*(Text(str(v)) for v in row))
        out.print(t)

    if not filtered or types is not None:
        ct = tables["cell_types"]
        ct = ct if types is None else ct[ct["cell_type"].isin(types)]
        show(f"Cell types of {m.name}", ct, ["cell_type", "description", "vessel", "secretes", "n_rules"])
    if not filtered or signals is not None:
        sg = tables["signals"]
        sg = sg if signals is None else sg[sg["signal"].isin(signals)]
        show("Signals", sg, ["signal", "kind", "unit", "description", "n_rules"])
    if reference is not None:
        out.print(Text(f"Review reference [{reference}]: {review_references().get(reference, '')}"))
    total = len(tables["rules"])
    show(f"Rules ({len(rules)} of {total})" if filtered else f"Rules ({total})", rules,
         ["cell_type", "signal", "direction", "behaviour", "source", "statement"])


def _show_claims(status: str | None, kind: str | None, reference: int | None, signal: str | None,
                 cell_type: str | None, fmt: str) -> None:
    """The claims table, filtered; ``--format csv`` / ``markdown`` print it for other tools."""
    import sys

    from rich.table import Table
    from rich.text import Text

    from ..knowledge.claims import STATUSES, claims_markdown, filter_claims, status_counts

    if fmt not in ("table", "csv", "markdown"):
        fail(ModelError("--format", f"unknown format {fmt!r}; allowed: table, csv, markdown"))
        return
    try:
        df = filter_claims(status=status, kind=kind, reference=reference, signal=signal, cell_type=cell_type)
    except ModelError as exc:
        fail(ModelError("--" + exc.field.replace("_", "-"), exc.message))
        return
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
        return
    if fmt == "markdown":
        sys.stdout.write(claims_markdown(df))
        return
    out = Console()
    t = Table(title=f"Claims of the review ({len(df)})", title_justify="left", show_lines=True)
    for c in ("id", "statement", "refs", "status", "implemented by", "tests / reason"):
        t.add_column(c)
    for _, r in df.iterrows():
        impl = "\n".join(i.strip() for i in r["implemented_by"].split(";") if i.strip())
        last = "\n".join(x for x in (*(i.strip() for i in r["tests"].split(";") if i.strip()), r["reason"]) if x)
        t.add_row(*(Text(v) for v in (r["claim_id"], r["statement"], r["refs"].replace(";", ", "), r["status"], impl, last)))
    out.print(t)
    counts = status_counts(df)
    out.print(Text(", ".join(f"{counts[s]} {s}" for s in STATUSES)))


@app.command("graph")
def catalog_graph(
    out: Annotated[Path, typer.Option(help="file to write: .graphml, .gexf (networkx, Gephi, Cytoscape) or .png")],
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
) -> None:
    """Write the interaction network: cell types and signals, secretion, response, transformation and killing edges."""
    from ..knowledge import interaction_graph, write_graph
    from ..knowledge.graph import graph_format

    try:
        graph_format(out)
        g = interaction_graph(load(model, preset))
        write_graph(g, out)
    except ModelError as exc:
        fail(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(out))} ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)",
                  highlight=False)

