"""``tmesim animate`` and ``tmesim view``: look at a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..model import ModelError
from ._common import console, fail


def animate(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path | None, typer.Option(help="animation to write: .gif or .mp4 (default: RUN_DIR/tumor.gif)")] = None,
    fps: Annotated[float, typer.Option(min=0.01, help="frames (snapshots) per second")] = 4.0,
) -> None:
    """Animate the map of cell types over all snapshots of a run (GIF or MP4)."""
    from ..viz import animate as _animate

    try:
        path = _animate(run_dir, out if out is not None else run_dir / "tumor.gif", fps)
    except ModelError as exc:
        fail(exc)
        return
    console.print(f"[green]animation[/]: {escape(str(path))}", highlight=False)


def view(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="port on 127.0.0.1 (0: any free port)")] = 8765,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="only print the URL, do not open a browser")] = False,
) -> None:
    """Write viewer.html into a run directory and serve it on localhost (Ctrl-C stops)."""
    from ..viz import serve, write_viewer

    try:
        path = write_viewer(run_dir)
        console.print(f"[green]viewer[/]: {escape(str(path))} (also opens as a file); Ctrl-C stops the server",
                      highlight=False)
        serve(run_dir, port=port, open_browser=not no_browser, write=False,
              announce=lambda url: print(url, flush=True))
    except ModelError as exc:
        fail(exc)
