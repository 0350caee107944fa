"""``tmesim therapies [NAME]``: the therapy catalog with targets, schedules and sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..model import ModelError
from ._common import fail


def therapies(
    name: Annotated[str | None, typer.Argument(help="show one therapy's drugs, effects and every source")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable catalog on stdout")] = False,
) -> None:
    """The therapy catalog: regimens, their targets, schedule, half-life and sources."""
    from rich.table import Table

    from ..therapy import list_therapies, therapy_info

    out = Console(width=max(Console().width, 160))
    try:
        infos = [therapy_info(name)] if name else [therapy_info(n) for n in list_therapies()]
    except ModelError as exc:
        fail(exc)
        return
    if as_json:
        from ._common import emit_json

        emit_json([{"therapy": info.name, "description": info.description, "source": info.source,
                    "drugs": [{"drug": d.name, "targets": list(d.targets), "schedule": d.schedule(),
                               "half_life": d.half_life(), "effects": list(d.effects), "sources": list(d.sources)}
                              for d in info.drugs]} for info in infos])
        return
    table = Table(title="tmesim therapies (add with `tmesim run --therapy NAME@day=N`)", show_lines=True)
    for col in ("therapy", "drug", "targets", "schedule", "half-life", "sources"):
        table.add_column(col, overflow="fold")
    for info in infos:
        for k, d in enumerate(info.drugs):
            srcs = [info.source] if info.source else []
            if d.drug.half_life.source:
                srcs.append(f"half-life: {d.drug.half_life.source}")
            table.add_row(info.name if k == 0 else "", d.name, ", ".join(d.targets), d.schedule(),
                          d.half_life(), escape("; ".join(srcs)))
    out.print(table)
    if name:
        info = infos[0]
        out.print(escape(info.description))
        for d in info.drugs:
            out.print(f"[bold]{escape(d.name)}[/]: " + escape("; ".join(d.effects)))
            for src in d.sources:
                out.print("  " + escape(src), highlight=False)

