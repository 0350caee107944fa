"""The options every ``tmesim`` invocation takes: --version, --quiet, --verbose (-h is set on the app)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import set_verbosity


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"tmesim {__version__}")
        raise typer.Exit()


def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print tmesim's version and exit")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress or status lines on stderr (errors still print)")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="more detail: a progress line per simulated day even on a terminal")] = False,
) -> None:
    """Breast tumor microenvironment simulator: cited rules, a spatial agent-based engine, one run format.

    Machine-readable output: --json on validate, therapies, catalog show and trial. Shell
    completion: --install-completion. JSON Schema of model files for editors: tmesim schema.
    """
    if quiet and verbose:
        raise typer.BadParameter("give --quiet or --verbose, not both", param_hint="--quiet/--verbose")
    set_verbosity(quiet, verbose)
