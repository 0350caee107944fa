"""Helpers every command shares: the stderr console, one-line errors, output-file checks."""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..model import ModelError

try:  # typer >= 0.20 parses with its own copy of click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as cx

console = Console(stderr=True)


def error_line(exc: BaseException) -> str:
    """``error: <field>: <message>`` on one line, for any exception a command can end in."""
    try:
        field, msg = _field_and_message(exc)
    except Exception:  # noqa: BLE001 - describing an error must not raise another
        field, msg = type(exc).__name__, str(exc)
    text = f"error: {field + ': ' if field else ''}{msg}"
    return " ".join(text.split())  # one line, whatever the message holds


def _field_and_message(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, ModelError):
        return exc.field, exc.message
    if isinstance(exc, cx.ClickException):
        text = exc.format_message()
        if isinstance(exc, cx.NoSuchOption):
            return exc.option_name, text.rstrip(".") + " (see --help)"
        m = re.match(r"Invalid value for (.+?): (.*)", text, re.S)
        if m:
            return m.group(1).strip("'\""), m.group(2)
        m = re.match(r"Missing (?:parameter|argument|option)[: ]+'?([^'.]+)'?", text)
        if m:
            return m.group(1).strip().upper() if isinstance(exc, cx.MissingParameter) and not m.group(1).startswith(
                "-") else m.group(1).strip(), "required (see --help)"
        if isinstance(exc, cx.BadParameter) and exc.param is not None and exc.param.name:
            return "--" + exc.param.name.replace("_", "-"), text
        return "usage", text + " (see --help)"
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        return str(where) or "file", exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "memory", "not enough memory for this input; reduce its size (domain, patients, days)"
    if isinstance(exc, RecursionError):
        return "input", "nested too deeply"
    return "internal error", f"{type(exc).__name__}: {exc}; please report this (TMESIM_DEBUG=1 shows the traceback)"


def print_error(line: str) -> None:
    """Print literally to stderr: no rich markup, no :emoji: codes, no wrapping."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or a broken pipe: nothing more to say
        pass


def notice(text: str) -> None:
    """A one-line remark on stderr (a stale lock, a slow step), printed literally."""
    print_error(" ".join(str(text).split()))


def fail(exc: Exception) -> None:
    """Print ``error: <field>: <message>`` (one line per problem when a model file has several),
    literally, and exit with status 2 (never a traceback). Errors print even with --quiet: they
    are what a script needs to see."""
    for e in getattr(exc, "errors", None) or [exc]:
        print_error(error_line(e))
    raise typer.Exit(code=2)


def set_verbosity(quiet: bool, verbose: bool) -> None:
    """--quiet silences progress and status lines on stderr (errors still print); --verbose adds
    detail (per-day progress lines even on a terminal)."""
    VERBOSITY["level"] = 0 if quiet else 2 if verbose else 1
    console.quiet = quiet  # every status line and progress display goes through this console


VERBOSITY = {"level": 1}


def say(text: str) -> None:
    """A status line on stderr, unless --quiet."""
    if VERBOSITY["level"] > 0:
        console.print(text, highlight=False)


def emit_json(data: object) -> None:
    """Machine-readable output (--json): one JSON document on stdout."""
    import json

    def clean(x: object) -> object:  # JSON has no NaN or Infinity: they become null
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    sys.stdout.write(json.dumps(clean(data), indent=2, default=str, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


class OneLineErrors(TyperGroup):
    """The ``tmesim`` group: whatever goes wrong ends in one ``error:`` line and exit status 2
    (usage errors included — no boxed usage panel, no traceback); help asked for by giving no
    arguments is printed with status 0."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN201
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except cx.NoArgsIsHelpError as exc:
            assert exc.ctx is not None
            typer.echo(exc.ctx.get_help())
            code = 0
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            print_error("error: aborted")
            code = 130
        except KeyboardInterrupt:
            print_error("error: interrupted")
            code = 130
        except Exception as exc:  # noqa: BLE001 - the promise: one line, never a traceback
            if os.environ.get("TMESIM_DEBUG") and not isinstance(exc, ModelError | cx.ClickException):
                raise
            for e in getattr(exc, "errors", None) or [exc]:  # ModelErrors: one line per problem
                print_error(error_line(e))
            code = 2
        if standalone_mode:
            sys.exit(code)
        return code


# The API's parameter names and the CLI options a user typed for them.
OPTION_NAMES = {"seed": "--seed", "resume": "--resume", "run_dir": "RUN_DIR", "run": "RUN_DIR", "cells": "--cells", "day": "--day", "roi": "--roi", "out": "--out",
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
    from ..io.atomic import atomic_write_text

    atomic_write_text(out, text)
    console.print(f"[green]wrote[/]: {escape(str(out))} ({what})", highlight=False)
