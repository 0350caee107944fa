"""``tmesim import physicell``, ``tmesim export physicell``, ``tmesim schema`` and
``tmesim readout spatialdata``: tmesim in and out of PhysiCell, scverse and editors."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape

from ..model import ModelError
from ._common import check_out, console, emit_json, fail_option, say
from .readout import app as readout_app

import_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Import a model from another simulator's files.")
export_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Export a run in another simulator's output format.")


@import_app.command("physicell")
def import_physicell(
    settings: Annotated[Path, typer.Argument(help="PhysiCell_settings.xml of the project")],
    out: Annotated[Path, typer.Option(help="tmesim model YAML to write")],
    rules: Annotated[Path | None, typer.Option(help="PhysiCell rules CSV (default: the ruleset the settings name)")] = None,
    cells: Annotated[Path | None, typer.Option(help="initial cells CSV (default: the file the settings name)")] = None,
    report: Annotated[Path | None, typer.Option(help="where to write the mapping report (default: <out>.report.txt)")] = None,
) -> None:
    """Convert a PhysiCell project into a tmesim model, with a report of what maps exactly,
    approximately or not at all (printed and written next to the model)."""
    from ..api import import_physicell as run_import
    from ..io.atomic import atomic_write_text

    try:
        check_out(out)
        model, text, warnings = run_import(settings, rules=rules, cells=cells)
    except ModelError as exc:
        fail_option(exc)
        return
    for w in warnings:
        console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
    data = model.model_dump(mode="json", exclude_defaults=True)
    data.pop("drugs", None)
    atomic_write_text(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    rep = report or out.with_suffix(out.suffix + ".report.txt")
    atomic_write_text(rep, text)
    say(escape(text))
    say(f"[green]wrote[/]: {escape(str(out))} ({len(model.cell_types)} cell types, {len(model.substrates)} substrates, "
        f"{len(model.rules)} rules); report: {escape(str(rep))}")


@export_app.command("physicell")
def export_physicell(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path, typer.Option(help="folder for output*.xml and .mat files (created)")],
) -> None:
    """Write a run as PhysiCell MultiCellDS output (output*.xml, cells and microenvironment .mat)
    that pcdl and PhysiCell Studio read."""
    from ..io.physicell_output import export_physicell as run_export

    try:
        if not out.parent.is_dir():
            raise ModelError("--out", f"folder {str(out.parent)!r} does not exist")
        files = run_export(run_dir, out)
    except ModelError as exc:
        fail_option(exc)
        return
    say(f"[green]wrote[/]: {len(files)} MultiCellDS snapshots to {escape(str(out))} "
        f"(read them with pcdl.TimeSeries({str(out)!r}))")


class SchemaKind(StrEnum):
    model = "model"
    trial = "trial"
    therapy = "therapy"


def schema(kind: Annotated[SchemaKind, typer.Argument(help="which file: a model YAML, a trial YAML, or a model's therapies: entry")]
           = SchemaKind.model) -> None:
    """Print the JSON Schema of model, trial or therapy entries (for editor completion and checks)."""
    from ..cohort.trial import TrialSpec
    from ..model import Model, TherapyEntry

    cls = {"model": Model, "trial": TrialSpec, "therapy": TherapyEntry}[kind.value]
    out = cls.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    emit_json(out)


@readout_app.command("spatialdata")
def readout_spatialdata(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path, typer.Option(help="SpatialData zarr store to write (a folder ending in .zarr)")],
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="seed of the synthetic counts in the table")] = 0,
    vitessce: Annotated[Path | None, typer.Option(help="also write a Vitessce view config (JSON) for the store")] = None,
    url: Annotated[str | None, typer.Option(help="URL the store will be served at, for the Vitessce config (default: its file name)")] = None,
) -> None:
    """One snapshot as SpatialData: cells as points and circles, fields as an image, counts as a table."""
    from ..readouts.spatialdata import (
        run_spatialdata,
        vitessce_config,
        write_spatialdata,
        write_vitessce_config,
    )

    try:
        sdata = run_spatialdata(run_dir, day=day, seed=seed)
        path, warnings = write_spatialdata(sdata, out)
        for w in warnings:
            console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
        say(f"[green]wrote[/]: {escape(str(path))} ({len(sdata.points['cell_points'])} cells)")
        if vitessce is not None:
            check_out(vitessce)
            from ..io import RunDirectory

            cfg = vitessce_config(url or path.name, Path(run_dir).name, RunDirectory(run_dir).model().substrate_names
                                  if "fields" in sdata.images else [])
            write_vitessce_config(cfg, vitessce)
            say(f"[green]wrote[/]: {escape(str(vitessce))} (serve the store's folder over HTTP and open the config "
                "at vitessce.io)")
    except ModelError as exc:
        fail_option(exc)
