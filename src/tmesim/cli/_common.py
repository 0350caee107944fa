"""Helpers every command shares: the stderr console, one-line errors, output-file checks."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ..model import ModelError

console = Console(stderr=True)


def fail(exc: Exception) -> None:
    """Print ``error: <field>: <message>`` and exit with status 2 (never a traceback)."""
    field = getattr(exc, "field", "")
    msg = getattr(exc, "message", str(exc))
    text = escape(f"{field + ': ' if field else ''}{msg}")  # field paths contain [brackets]
    console.print(f"[bold red]error[/]: {text}", highlight=False)
    raise typer.Exit(code=2)


# The API's parameter names and the CLI options a user typed for them.
OPTION_NAMES = {"run_dir": "RUN_DIR", "run": "RUN_DIR", "cells": "--cells", "day": "--day", "roi": "--roi", "out": "--out",
                "compare_days": "--compare-days", "margin": "--margin", "matrix": "--matrix",
                "density": "--density", "days": "--days", "dims": "--dims", "cocultured": "--caf/--macrophage"}


def fail_option(exc: ModelError) -> None:
    """``fail`` with the API's parameter name replaced by the CLI option the user typed."""
    if exc.field in OPTION_NAMES:
        exc = ModelError(OPTION_NAMES[exc.field], exc.message)
    fail(exc)


def load(model: Path | None, preset: str | None):  # noqa: ANN201
    """The model from a file or a preset name (the shipped TNBC model when neither is given)."""
    from ..api import load_model_or_preset

    return load_model_or_preset(model, preset)


def check_out(out: Path | None) -> None:
    """An output file must go into an existing folder (checked before any work is done)."""
    if out is not None and not out.parent.is_dir():
        raise ModelError("--out", f"folder {str(out.parent)!r} does not exist")


def write_text(text: str, out: Path | None, what: str) -> None:
    """Write to ``out`` (reporting on stderr) or to stdout."""
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    check_out(out)
    out.write_text(text)
    console.print(f"[green]wrote[/]: {escape(str(out))} ({what})", highlight=False)
