"""The ``tmesim`` command: a thin layer over the Python API."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .model import ModelError

app = typer.Typer(add_completion=False, no_args_is_help=False, help="Breast tumor microenvironment simulator.")
console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    field = getattr(exc, "field", "")
    msg = getattr(exc, "message", str(exc))
    text = escape(f"{field + ': ' if field else ''}{msg}")  # field paths contain [brackets]
    console.print(f"[bold red]error[/]: {text}", highlight=False)
    raise typer.Exit(code=2)


def _load(model: Path | None, preset: str | None):  # noqa: ANN202
    from .model import load_model
    from .presets import preset_path

    if model is not None and preset is not None:
        raise ModelError("MODEL", "give either a model file or --preset, not both")
    return load_model(model if model is not None else preset_path(preset or "tnbc"))


def _progress_bar(total_days: float, start_days: float = 0.0):  # noqa: ANN202
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("[bold]day {task.fields[day]:6.2f}"), BarColumn(),
                        TextColumn("{task.fields[cells]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    task = progress.add_task("run", total=total_days or None, completed=start_days, day=start_days, cells="")
    last = [0.0]

    def update(sim) -> None:  # noqa: ANN001
        now = time.monotonic()
        day = sim.time / 1440.0
        if now - last[0] < 0.25 and day < total_days:
            return
        last[0] = now
        c = sim.counts()
        top = sorted(c.items(), key=lambda kv: -kv[1])[:4]
        cells = f"{sim.n_cells:,} cells · " + ", ".join(f"{k} {v:,}" for k, v in top)
        progress.update(task, completed=day, day=day, cells=cells)

    return progress, update


@app.command()
def run(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    days: Annotated[float | None, typer.Option(min=0.001, help="simulated days (default: the model's time.days)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="random seed; same seed and model give identical results")] = 0,
    out: Annotated[Path | None, typer.Option(help="run directory to write (default: runs/<model>-seed<seed>-<time>)")] = None,
    resume: Annotated[Path | None, typer.Option(help="resume the killed run in this directory")] = None,
    report: Annotated[bool, typer.Option(help="write report.html at the end")] = True,
) -> None:
    """Simulate a tumor microenvironment and write a run directory."""
    from . import api

    try:
        if resume is not None:
            progress, update = _progress_bar(0.0)
            with progress:
                rd = api.resume(resume, progress=update, report=report)
        else:
            m = _load(model, preset)
            d = m.time.days if days is None else days
            if out is None:
                out = Path("runs") / f"{m.name}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
            if out.exists() and any(out.iterdir()):
                raise ModelError("--out", f"{str(out)!r} exists and is not empty; choose another --out or use --resume {out}")
            progress, update = _progress_bar(d)
            with progress:
                rd = api.run(m, out, seed=seed, days=d, progress=update, report=report)
    except ModelError as exc:
        _fail(exc)
        return
    info = rd.info
    console.print(f"[green]done[/]: {rd.path}  ({info['time_days']:g} days, {info['n_cells']:,} cells, "
                  f"{info['wall_seconds']:.0f} s)" + (f"; report: {rd.path / 'report.html'}" if report else ""))


@app.command()
def validate(model: Annotated[Path, typer.Argument(help="model YAML to check")]) -> None:
    """Check a model without running it."""
    from .model import load_model

    try:
        m = load_model(model)
    except ModelError as exc:
        _fail(exc)
        return
    n_sources = sum(1 for r in m.rules if r.source)
    console.print(f"[green]valid[/]: {m.name}: {len(m.cell_types)} cell types, {len(m.substrates)} substrates, "
                  f"{len(m.rules)} rules ({n_sources} with a source), {m.domain.dims}D {m.domain.shape}")


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="run directory")]) -> None:
    """(Re)write report.html for a run directory."""
    from .viz import write_report

    try:
        path = write_report(run_dir)
    except ModelError as exc:
        _fail(exc)
        return
    console.print(f"[green]report[/]: {path}")


def main() -> None:  # pragma: no cover
    sys.exit(app())
