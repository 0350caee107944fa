"""``tmesim assay spheroid``: virtual laboratory assays."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..model import ModelError
from ._common import check_out, console, fail_option

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Virtual laboratory assays.")


@app.command("spheroid")
def assay_spheroid(
    caf: Annotated[bool, typer.Option("--caf/--no-caf", help="mix cancer-associated fibroblasts into the spheroid")] = False,
    macrophage: Annotated[bool, typer.Option("--macrophage/--no-macrophage", help="mix macrophages into the spheroid")] = False,
    matrix: Annotated[str, typer.Option(help="gel: collagen, fibronectin, laminin or gelatin")] = "collagen",
    density: Annotated[float | None, typer.Option(help="gel density in mg/mL (default: the gel's usual density)")] = None,
    days: Annotated[float, typer.Option(help="simulated days (> 0)")] = 3.0,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    dims: Annotated[int, typer.Option(help="2 (a section, fast) or 3 (a 32³ lattice)")] = 2,
    out: Annotated[Path | None, typer.Option(help="CSV of the time course to write")] = None,
) -> None:
    """Tumor spheroid in a matrix gel (optionally with CAFs/macrophages): invasion distance and area over time."""
    from rich.table import Table

    from ..assay import run_spheroid

    try:
        check_out(out)
        co = tuple(n for n, on in (("caf", caf), ("macrophage", macrophage)) if on)
        df = run_spheroid(co, matrix=matrix, density=density, days=days, seed=seed, dims=dims)
    except ModelError as exc:
        fail_option(exc)
        return
    stdout = Console()
    a = df.attrs
    t = Table(title=f"Spheroid in {a['matrix']} {a['density_mg_per_ml']:g} mg/mL"
                    f"{' with ' + a['cocultured'] if a['cocultured'] else ''} (seed {a['seed']})", title_justify="left")
    for c in ("day", "cancer cells", "invasion (µm)", "max invasion (µm)", "area (mm²)", "invading cells"):
        t.add_column(c, justify="right")
    for row in df.itertuples(index=False):
        t.add_row(f"{row.time_days:g}", f"{row.n_cancer:.0f}", f"{row.invasion_distance_um:.0f}",
                  f"{row.invasion_max_um:.0f}", f"{row.area_um2 / 1e6:.3f}", f"{row.invading_cells:.0f}")
    stdout.print(t)
    if out is not None:
        from ..io.atomic import atomic_write_csv

        atomic_write_csv(df, out)
        console.print(f"[green]wrote[/]: {escape(str(out))}", highlight=False)

