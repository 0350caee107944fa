"""The ``tmesim`` command: a thin layer over the Python API."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

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
    body: Annotated[bool, typer.Option("--body", help="then simulate the whole patient: CTCs, organ arrival, dormancy and metastases in bone, lung, liver and brain (tables in <run>/body/)")] = False,
    therapy: Annotated[list[str] | None, typer.Option("--therapy", help="add a catalog therapy: NAME[@day=N][,cycles=K], e.g. atezolizumab+nab-paclitaxel@day=14 (repeatable; list: `tmesim therapies`)")] = None,
) -> None:
    """Simulate a tumor microenvironment and write a run directory."""
    from . import api

    try:
        if resume is not None:
            from .io import RunDirectory

            rd0 = RunDirectory(resume)
            progress, update = _progress_bar(float(rd0.config["days"]))
            with progress:
                rd = api.resume(resume, progress=update, report=report)
        else:
            m = _load(model, preset)
            if therapy:
                from .therapy import apply_therapies, parse_therapy

                m = apply_therapies(m, [parse_therapy(t) for t in therapy])
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
    if body:
        _body_summary(rd.path, report)


def _body_summary(path: Path, report: bool = True) -> None:
    """Run the whole-body level on a finished run and print the per-organ outcome."""
    from rich.table import Table

    from . import api

    try:
        with console.status("whole body: organ niches (spatial) and dissemination ..."):
            res = api.run_body(path)
    except ModelError as exc:
        _fail(exc)
        return
    at_dx = res.ctc.iloc[int(res.ctc["days_from_diagnosis"].abs().to_numpy().argmin())]
    table = Table(title=f"Whole body (diagnosis at day {res.diagnosis_day:.0f} of the life history; "
                        f"CTCs at diagnosis: {float(at_dx['detectable_per_7_5ml']):.1f} per 7.5 mL)")
    for col in ("organ", "first metastasis (days after diagnosis)", "expected metastases", "colonies founded", "niche growth /day"):
        table.add_column(col)
    fm = res.first_metastasis
    for _, r in fm.iterrows():
        n = int((res.seeding["organ"] == r["organ"]).sum())
        first = "-" if r["days_from_diagnosis"] != r["days_from_diagnosis"] else f"{r['days_from_diagnosis']:.0f}"
        table.add_row(r["organ"], first, f"{r['expected_metastases']:.2f}", str(n), f"{r['niche_growth_per_day']:.2f}")
    console.print(table)
    console.print(f"body tables: {path / 'body'}")
    if report:
        from .viz.report import write_report

        write_report(path)


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


@app.command()
def animate(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path | None, typer.Option(help="animation to write: .gif or .mp4 (default: RUN_DIR/tumor.gif)")] = None,
    fps: Annotated[float, typer.Option(min=0.01, help="frames (snapshots) per second")] = 4.0,
) -> None:
    """Animate the map of cell types over all snapshots of a run (GIF or MP4)."""
    from .viz import animate as _animate

    try:
        path = _animate(run_dir, out if out is not None else run_dir / "tumor.gif", fps)
    except ModelError as exc:
        _fail(exc)
        return
    console.print(f"[green]animation[/]: {escape(str(path))}", highlight=False)


@app.command()
def view(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="port on 127.0.0.1 (0: any free port)")] = 8765,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="only print the URL, do not open a browser")] = False,
) -> None:
    """Write viewer.html into a run directory and serve it on localhost (Ctrl-C stops)."""
    from .viz import serve, write_viewer

    try:
        path = write_viewer(run_dir)
        console.print(f"[green]viewer[/]: {escape(str(path))} (also opens as a file); Ctrl-C stops the server",
                      highlight=False)
        serve(run_dir, port=port, open_browser=not no_browser, write=False,
              announce=lambda url: print(url, flush=True))
    except ModelError as exc:
        _fail(exc)


# --------------------------------------------------------------------------- rules, catalog

class _DefaultShowGroup(TyperGroup):
    """``tmesim catalog [MODEL] [options]`` runs ``catalog show``; ``tmesim catalog graph`` the graph."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


rules_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Export a model's rules table, or import a PhysiCell rules file.")
catalog_app = typer.Typer(
    cls=_DefaultShowGroup, add_completion=False,
    help="Cell types, signals and rules of a model with their sources: "
         "`tmesim catalog [MODEL] [--cell-type T] [--signal S] [--reference N]`, "
         "or the interaction network: `tmesim catalog graph [MODEL] --out g.graphml|g.gexf|g.png`.")
app.add_typer(rules_app, name="rules")
app.add_typer(catalog_app, name="catalog")


class RulesFormat(StrEnum):
    tmesim = "tmesim"
    physicell = "physicell"


def _check_out(out: Path | None) -> None:
    """An output file must go into an existing folder (checked before any work is done)."""
    if out is not None and not out.parent.is_dir():
        raise ModelError("--out", f"folder {str(out.parent)!r} does not exist")


def _write_text(text: str, out: Path | None, what: str) -> None:
    """Write to ``out`` (reporting on stderr) or to stdout."""
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _check_out(out)
    out.write_text(text)
    console.print(f"[green]wrote[/]: {escape(str(out))} ({what})", highlight=False)


@rules_app.command("export")
def rules_export(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    fmt: Annotated[RulesFormat, typer.Option("--format", help="tmesim: CSV with header, source and statement; "
                                             "physicell: PhysiCell v3 rules CSV (8 columns, no header)")] = RulesFormat.tmesim,
    out: Annotated[Path | None, typer.Option(help="file to write (default: standard output)")] = None,
) -> None:
    """Write a model's rules table as tmesim or PhysiCell CSV."""
    from .knowledge import export_rules
    from .knowledge.catalog import export_physicell_rules

    try:
        m = _load(model, preset)
        if fmt.value == "physicell":
            text, warnings = export_physicell_rules(m)
            for w in warnings:
                console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
            dropped = sum(": dropped:" in w for w in warnings)
            _write_text(text, out, f"{len(m.rules) - dropped} of {len(m.rules)} rules, physicell format; "
                                   f"{dropped} dropped, sources kept as // comments")
        else:
            _write_text(export_rules(m, fmt.value), out, f"{len(m.rules)} rules, {fmt.value} format")
    except ModelError as exc:
        _fail(exc)


@rules_app.command("import")
def rules_import(
    rules_file: Annotated[Path, typer.Argument(help="PhysiCell rules CSV: v3 rows (8 columns) or v2 rows (9, with base value), no header")],
    model: Annotated[Path | None, typer.Option("--model", help="model YAML the rules must fit (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name instead of --model")] = None,
    out: Annotated[Path | None, typer.Option(help="tmesim rules CSV to write (default: standard output)")] = None,
) -> None:
    """Check a PhysiCell rules file against a model and write it as a tmesim rules CSV."""
    from .knowledge import read_physicell_rules

    try:
        if model is not None and preset is not None:
            raise ModelError("--model", "give either --model or --preset, not both")
        m = _load(model, preset)
        result = read_physicell_rules(rules_file, m)
        for w in result.warnings:
            console.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
        counts = ", ".join(f"{result.layouts.count(k)} {k}" for k in ("v3", "v2", "tmesim") if k in result.layouts)
        _write_text(result.to_csv(), out, f"{len(result.rules)} rules ({counts}) valid for model {m.name!r}")
    except ModelError as exc:
        _fail(exc)


@catalog_app.command("show")
def catalog_show(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    cell_type: Annotated[str | None, typer.Option("--cell-type", help="rules of cell types whose name contains this (case-insensitive)")] = None,
    signal: Annotated[str | None, typer.Option(help="rules whose signal contains this (case-insensitive)")] = None,
    reference: Annotated[int | None, typer.Option(help="rules citing this reference number of the review")] = None,
) -> None:
    """List cell types, signals and rules with their sources (the default of `tmesim catalog`)."""
    from rich.table import Table
    from rich.text import Text

    from .knowledge import catalog_tables, filter_rules, review_references
    from .knowledge.catalog import match_cell_types, match_signals

    try:
        m = _load(model, preset)
        tables = catalog_tables(m)
        rules = filter_rules(m, cell_type=cell_type, signal=signal, reference=reference)
        types = match_cell_types(m, cell_type) if cell_type is not None else None
        signals = match_signals(m, signal) if signal is not None else None
    except ModelError as exc:
        if exc.field in ("cell_type", "signal", "reference"):  # name the option the user typed
            exc = ModelError("--" + exc.field.replace("_", "-"), exc.message)
        _fail(exc)
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


@catalog_app.command("graph")
def catalog_graph(
    out: Annotated[Path, typer.Option(help="file to write: .graphml, .gexf (networkx, Gephi, Cytoscape) or .png")],
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
) -> None:
    """Write the interaction network: cell types and signals, secretion, response, transformation and killing edges."""
    from .knowledge import interaction_graph, write_graph
    from .knowledge.graph import graph_format

    try:
        graph_format(out)
        g = interaction_graph(_load(model, preset))
        write_graph(g, out)
    except ModelError as exc:
        _fail(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(out))} ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)",
                  highlight=False)


# --------------------------------------------------------------------------- readouts

readout_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Readouts of a run directory.")
app.add_typer(readout_app, name="readout")


@readout_app.command("clinical")
def readout_clinical(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    day: Annotated[float | None, typer.Option(help="snapshot nearest this day (default: the last)")] = None,
    compare_imc: Annotated[bool, typer.Option("--compare-imc", help="also compare the cell-type make-up with "
                                              "the Jackson 2020 IMC breast cancer cohort")] = False,
    out: Annotated[Path | None, typer.Option(help="CSV to write (readout,value); with --compare-imc the "
                                             "comparison goes to <out>.imc.csv")] = None,
) -> None:
    """Clinical biomarkers of a snapshot: immune densities per mm², ratios, EMT, PD-L1, vessels, hypoxia."""
    import math

    from rich.table import Table

    from .readouts import clinical_readouts, compare_composition

    try:
        r = clinical_readouts(run_dir, day=day)
        cmp = compare_composition(run_dir, day=r["time_days"]) if compare_imc else None
        _check_out(out)
    except ModelError as exc:
        _fail(exc)
        return

    def fmt(v: float) -> str:
        return "NaN" if isinstance(v, float) and math.isnan(v) else f"{v:.4g}"

    stdout = Console()
    t = Table(title=f"Clinical readouts of {run_dir} (day {r['time_days']:g})", title_justify="left")
    t.add_column("readout")
    t.add_column("value", justify="right")
    for k, v in r.items():
        t.add_row(k, fmt(float(v)))
    stdout.print(t)
    if cmp is not None:
        c = Table(title="Cell-type make-up (% of live cells) vs Jackson 2020 IMC, 100 patients", title_justify="left")
        for col in ("coarse type", "simulated %", "IMC median %", "IMC IQR %", "IMC 5-95 %", "within 5-95"):
            c.add_column(col, justify="left" if col == "coarse type" else "right")
        def pct(v: float) -> str:
            return "-" if math.isnan(v) else f"{100 * v:.1f}"

        for cls, row in cmp.iterrows():
            c.add_row(str(cls), pct(row.simulated_share), pct(row.imc_median),
                      f"{pct(row.imc_q25)}-{pct(row.imc_q75)}" if not math.isnan(row.imc_q25) else "-",
                      f"{pct(row.imc_p05)}-{pct(row.imc_p95)}" if not math.isnan(row.imc_p05) else "-",
                      "yes" if row.within_imc_5_95 else "no")
        stdout.print(c)
    if out is not None:
        r.rename_axis("readout").rename("value").to_csv(out)
        console.print(f"[green]wrote[/]: {escape(str(out))}", highlight=False)
        if cmp is not None:
            imc_out = out.with_suffix(".imc.csv")
            cmp.to_csv(imc_out)
            console.print(f"[green]wrote[/]: {escape(str(imc_out))}", highlight=False)



# --------------------------------------------------------------------------- AnnData, regions, assays

_OPTION_NAMES = {"run_dir": "RUN_DIR", "run": "RUN_DIR", "cells": "--cells", "day": "--day", "roi": "--roi", "out": "--out",
                 "compare_days": "--compare-days", "margin": "--margin", "matrix": "--matrix",
                 "density": "--density", "days": "--days", "dims": "--dims", "cocultured": "--caf/--macrophage"}


def _fail_option(exc: ModelError) -> None:
    """_fail with the API's parameter name replaced by the CLI option the user typed."""
    if exc.field in _OPTION_NAMES:
        exc = ModelError(_OPTION_NAMES[exc.field], exc.message)
    _fail(exc)


def _h5ad_out(out: Path | None, run_dir: Path, name: str) -> Path:
    from .readouts._common import open_run

    open_run(run_dir)  # a missing run directory is reported before the default --out
    out = out if out is not None else run_dir / name
    if out.suffix != ".h5ad":
        raise ModelError("out", f"{str(out)!r} must end in .h5ad")
    _check_out(out)
    return out


@readout_app.command("scrna")
def readout_scrna(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    cells: Annotated[int, typer.Option("--cells", help="number of cells to sample (> 0)")] = 5000,
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="sampling seed; same run, day and seed give the same file")] = 0,
    out: Annotated[Path | None, typer.Option(help="AnnData file to write (default: RUN_DIR/scrna.h5ad)")] = None,
) -> None:
    """Synthetic single-cell RNA-seq of a snapshot (AnnData .h5ad: counts, true type and state)."""
    from .readouts import scrna_anndata, write_h5ad

    try:
        path = _h5ad_out(out, run_dir, "scrna.h5ad")
        a = scrna_anndata(run_dir, n_cells=cells, day=day, seed=seed)
        write_h5ad(a, path)
    except ModelError as exc:
        _fail_option(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(path))} ({a.n_obs:,} cells × {a.n_vars} genes, "
                  f"day {a.uns['tmesim']['snapshot_day']:g})", highlight=False)


@readout_app.command("spatial")
def readout_spatial(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="counts seed; same run, day and seed give the same file")] = 0,
    out: Annotated[Path | None, typer.Option(help="AnnData file to write (default: RUN_DIR/spatial.h5ad)")] = None,
) -> None:
    """Every live cell with counts and obsm['spatial'] (µm), as AnnData for squidpy."""
    from .readouts import spatial_anndata, write_h5ad

    try:
        path = _h5ad_out(out, run_dir, "spatial.h5ad")
        a = spatial_anndata(run_dir, day=day, seed=seed)
        write_h5ad(a, path)
    except ModelError as exc:
        _fail_option(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(path))} ({a.n_obs:,} cells × {a.n_vars} genes with positions, "
                  f"day {a.uns['tmesim']['snapshot_day']:g})", highlight=False)


@readout_app.command("regions")
def readout_regions(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    roi: Annotated[str, typer.Option(help="comma-separated regions: tumor-core, invasive-margin, stroma, whole")] =
        "tumor-core,invasive-margin,stroma",
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    compare_days: Annotated[str | None, typer.Option("--compare-days", help="two snapshot days, e.g. 0,7 "
                                                     "(before,after a therapy): side by side with log2 fold changes")] = None,
    margin: Annotated[float, typer.Option(help="width of the invasive-margin band around the tumor border (µm)")] = 200.0,
    out: Annotated[Path | None, typer.Option(help="CSV to write (tidy: one row per region and analyte)")] = None,
) -> None:
    """Digital-spatial-profiling-like readout: protein, RNA, cell and field means per region."""
    import math

    from rich.table import Table

    from .readouts import compare_regions, region_profiles

    try:
        _check_out(out)
        if compare_days is not None and day is not None:
            raise ModelError("day", "give either --day or --compare-days, not both")
        if compare_days is not None:
            df = compare_regions(run_dir, compare_days, rois=roi, margin=margin)
        else:
            df = region_profiles(run_dir, rois=roi, day=day, margin=margin)
    except ModelError as exc:
        _fail_option(exc)
        return

    def fmt(v: float) -> str:
        return "NaN" if math.isnan(v) else f"{v:.4g}"

    show = [("cells", "n_cells"), ("cells", "density_per_mm2"), ("cells", "cd45_share"), ("protein", "CD45"),
            ("protein", "PanCK"), ("protein", "CD8"), ("protein", "CD68"), ("protein", "FOXP3"),
            ("protein", "PD-L1"), ("protein", "SMA"), ("protein", "CD31"), ("protein", "Vimentin")]
    stdout = Console()
    for r in dict.fromkeys(df["roi"]):
        sub = df[df["roi"] == r].set_index(["kind", "analyte"])
        if compare_days is not None:
            t = Table(title=f"{r}: day {sub['day_before'].iloc[0]:g} vs day {sub['day_after'].iloc[0]:g}",
                      title_justify="left")
            for c in ("analyte", "before", "after", "log2 FC"):
                t.add_column(c, justify="left" if c == "analyte" else "right")
            for key in show:
                if key in sub.index:
                    row = sub.loc[key]
                    t.add_row(key[1], fmt(row.value_before), fmt(row.value_after), fmt(row.log2_fold_change))
        else:
            t = Table(title=f"{r} (day {sub['day'].iloc[0]:g})", title_justify="left")
            t.add_column("analyte")
            t.add_column("value", justify="right")
            for key in show:
                if key in sub.index:
                    t.add_row(key[1], fmt(float(sub.loc[key, "value"])))
        stdout.print(t)
    if out is not None:
        df.to_csv(out, index=False)
        console.print(f"[green]wrote[/]: {escape(str(out))} ({len(df):,} rows)", highlight=False)


assay_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Virtual laboratory assays.")
app.add_typer(assay_app, name="assay")


@assay_app.command("spheroid")
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

    from .assay import run_spheroid

    try:
        _check_out(out)
        co = tuple(n for n, on in (("caf", caf), ("macrophage", macrophage)) if on)
        df = run_spheroid(co, matrix=matrix, density=density, days=days, seed=seed, dims=dims)
    except ModelError as exc:
        _fail_option(exc)
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
        df.to_csv(out, index=False)
        console.print(f"[green]wrote[/]: {escape(str(out))}", highlight=False)


@app.command()
def therapies(
    name: Annotated[str | None, typer.Argument(help="show one therapy's drugs, effects and every source")] = None,
) -> None:
    """The therapy catalog: regimens, their targets, schedule, half-life and sources."""
    from rich.table import Table

    from .therapy import list_therapies, therapy_info

    out = Console(width=max(Console().width, 160))
    try:
        infos = [therapy_info(name)] if name else [therapy_info(n) for n in list_therapies()]
    except ModelError as exc:
        _fail(exc)
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


def main() -> None:  # pragma: no cover
    sys.exit(app())


# --------------------------------------------------------------------- cohorts and trials
def _cohort_progress():  # noqa: ANN202
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())
    task = bar.add_task("patients", total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _cohort_summary(summary: dict, out: Path) -> None:
    console.print(f"{summary['patients']} patients in {summary['wall_s']} s ({summary['patients_per_s']} patients/s)")
    for ep, meds in summary["medians_days"].items():
        console.print(f"median {ep.upper()} (days): " + ", ".join(f"{a}: {v:.0f}" for a, v in meds.items()))
    for r in summary["hazard_ratios"]:
        if r["endpoint"] in ("pfs", "os") and r["hr"] is not None:
            console.print(f"HR {r['endpoint'].upper()} {r['arm']} vs {r['reference']}: "
                          f"{r['hr']:.2f} (95% CI {r['ci_lower']:.2f}-{r['ci_upper']:.2f})")
    console.print(f"outputs: {out} (patients.parquet, km_*.parquet, hazard_ratios.csv, report.html)")


CONTACTS_HELP = ("mean-field contact enrichment: measured (a short spatial run of the model, the default), "
                 "well-mixed (random mixing), or a contacts CSV")


@app.command()
def cohort(
    out: Annotated[Path, typer.Option("--out", help="output folder (resumes if it holds this cohort)")],
    preset: Annotated[str | None, typer.Option("--preset", help="subtype preset: tnbc, her2, luminal-a, luminal-b")] = "tnbc",
    model: Annotated[Path | None, typer.Option("--model", help="model YAML instead of a preset")] = None,
    n: Annotated[int, typer.Option("--n", help="number of virtual patients")] = 100,
    engine: Annotated[str, typer.Option("--engine", help="meanfield (fast) or spatial")] = "meanfield",
    days: Annotated[float | None, typer.Option("--days", help="section days (run-in + treatment); default 28 + 84")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of the virtual patients")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="local worker processes")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="existing dask scheduler, e.g. tcp://host:8786")] = None,
    therapy: Annotated[list[str] | None, typer.Option("--therapy", help="therapy spec NAME[@day=N] (repeatable)")] = None,
    follow_up: Annotated[float, typer.Option("--follow-up", help="follow-up in days")] = 730.0,
    contacts: Annotated[str, typer.Option("--contacts", help=CONTACTS_HELP)] = "measured",
) -> None:
    """Simulate a cohort of virtual patients of one subtype (per-patient Parquet, KM, marker HRs)."""
    from tmesim.cohort import cohort_spec, run_trial

    try:
        spec = cohort_spec(preset, n, seed, engine, list(therapy or []), days, follow_up,
                           str(model) if model is not None else None, contacts=str(contacts))
        bar, cb = _cohort_progress()
        with bar:
            summary = run_trial(spec, out, workers=workers, scheduler=scheduler, progress=cb, notice=console.print)
    except (ModelError, ValueError) as exc:
        _fail(exc)
    _cohort_summary(summary, out)


@app.command()
def trial(
    trial_file: Annotated[Path, typer.Argument(help="trial YAML (see README 'Cohorts and virtual trials')")],
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: trial-<name>)")] = None,
    n: Annotated[int | None, typer.Option("--n", help="override the number of patients")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="override the engine: meanfield or spatial")] = None,
    workers: Annotated[int, typer.Option("--workers", help="local worker processes")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="existing dask scheduler, e.g. tcp://host:8786")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue a killed run in --out, skipping finished patients")] = False,
    contacts: Annotated[str | None, typer.Option("--contacts", help="override the trial's contacts: " + CONTACTS_HELP)] = None,
) -> None:
    """Run a virtual trial: arms, randomisation, PFS/OS/metastasis endpoints, KM curves and Cox HRs."""
    from tmesim.cohort import load_trial, run_trial

    try:
        spec = load_trial(trial_file, n=n, engine=engine, contacts=contacts)
        dest = out or Path(f"trial-{spec.name}")
        bar, cb = _cohort_progress()
        with bar:
            summary = run_trial(spec, dest, model=spec.load_model(trial_file.parent), workers=workers,
                                scheduler=scheduler, progress=cb, resume=resume, base=trial_file.parent,
                                notice=console.print)
    except (ModelError, ValueError) as exc:
        _fail(exc)
    _cohort_summary(summary, dest)
