"""``tmesim run``, ``validate`` and ``report``: simulate a model into a run directory."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..model import ModelError
from ..units import MAX_SEED, MINUTES_PER_DAY
from ._common import console, fail, fail_option, load, notice


def _progress_bar(total_days: float, start_days: float = 0.0):  # noqa: ANN202
    from ._progress import day_logger, wants_day_lines

    if wants_day_lines():
        return day_logger(total_days, start_days)
    progress = Progress(TextColumn("[bold]day {task.fields[day]:6.2f}"), BarColumn(),
                        TextColumn("{task.fields[cells]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    task = progress.add_task("run", total=total_days or None, completed=start_days, day=start_days, cells="")
    last = [0.0]

    def update(sim) -> None:  # noqa: ANN001
        now = time.monotonic()
        day = sim.time / MINUTES_PER_DAY
        if now - last[0] < 0.25 and day < total_days:
            return
        last[0] = now
        c = sim.counts()
        top = sorted(c.items(), key=lambda kv: -kv[1])[:4]
        cells = f"{sim.n_cells:,} cells · " + ", ".join(f"{k} {v:,}" for k, v in top)
        progress.update(task, completed=day, day=day, cells=cells)

    return progress, update


def run(
    model: Annotated[Path | None, typer.Argument(help="model YAML (default: the shipped TNBC model)")] = None,
    preset: Annotated[str | None, typer.Option(help="shipped model by name, e.g. tnbc")] = None,
    days: Annotated[float | None, typer.Option(min=0.001, help="simulated days (default: the model's time.days)")] = None,
    seed: Annotated[int | None, typer.Option(min=0, max=MAX_SEED, show_default="0",
                                             help="random seed; same seed and model give identical results")] = None,
    out: Annotated[Path | None, typer.Option(help="run directory to write (default: runs/<model>-seed<seed>-<time>)")] = None,
    resume: Annotated[Path | None, typer.Option(help="resume the killed run in this directory (with its own "
                                                     "--days and --seed: other values are refused)")] = None,
    report: Annotated[bool, typer.Option(help="write report.html at the end")] = True,
    body: Annotated[bool, typer.Option("--body", help="then simulate the whole patient: CTCs, organ arrival, dormancy and metastases in bone, lung, liver and brain (tables in <run>/body/)")] = False,
    therapy: Annotated[list[str] | None, typer.Option("--therapy", help="add a catalog therapy: NAME[@day=N][,cycles=K], e.g. atezolizumab+nab-paclitaxel@day=14 (repeatable; list: `tmesim therapies`)")] = None,
    from_tissue: Annotated[Path | None, typer.Option("--from-tissue", help="start from a real section: cells with x/y (µm) and labels in CSV, Parquet or AnnData (.h5ad, obsm['spatial']); see docs/tissue.md")] = None,
    labels: Annotated[str | None, typer.Option(help="label mapping YAML for --from-tissue (default: the shipped Jackson 2020 IMC mapping)")] = None,
    sample: Annotated[str | None, typer.Option(help="with --from-tissue: the sample (e.g. patient id) of a file holding several")] = None,
    site_size: Annotated[float | None, typer.Option(min=1.0, help="with --from-tissue: lattice site size in µm (default 10)")] = None,
    backend: Annotated[str, typer.Option(help="where the substrate fields are solved: cpu, or gpu (a CUDA GPU with CuPy: pip install 'tmesim[gpu]'; same results, see docs/gpu.md)")] = "cpu",
) -> None:
    """Simulate a tumor microenvironment and write a run directory."""
    from .. import api

    try:
        if days is not None and not math.isfinite(days):
            raise ModelError("--days", f"must be a finite number of days > 0, got {days}")
        if backend != "cpu":
            api.check_backend(backend, "spatial")
        if resume is not None:
            config = api.resume_config(resume, days, seed)
            progress, update = _progress_bar(float(config["days"]))
            with progress:
                rd = api.resume(resume, progress=update, report=report, days=days, seed=seed, notice=notice,
                               backend=backend)
        else:
            seed = 0 if seed is None else seed
            if out is not None:
                api.new_run_path(None, seed, out)  # a bad --out is reported before the model is read
            m = load(model, preset)
            if therapy:
                from ..therapy import apply_therapies, parse_therapy

                m = apply_therapies(m, [parse_therapy(t) for t in therapy])
            origin = None
            if from_tissue is not None:
                m, origin = api.tissue_start(m, from_tissue, labels, sample, site_size)
                pl = origin["placement"]
                why = "; ".join(f"{k}: {v:,}" for k, v in pl["reasons"].items()) or "none"
                console.print(f"from tissue {from_tissue} (sample {origin['sample']}): placed {pl['placed']:,} of "
                              f"{pl['n_cells']:,} cells ({pl['shifted']:,} moved to a neighbouring site) on "
                              f"{pl['domain_shape'][0]}x{pl['domain_shape'][1]} sites of {pl['site_um']:g} µm; "
                              f"not placed: {pl['unplaced']:,} ({why})")
            d = m.time.days if days is None else days
            out = api.new_run_path(m, seed, out)
            progress, update = _progress_bar(d)
            with progress:
                rd = api.simulate(m, "spatial", days=d, seed=seed, out=out, progress=update, report=report,
                                  origin=origin, notice=notice, backend=backend)
    except ModelError as exc:
        fail_option(exc)
        return
    info = rd.info
    console.print(f"[green]done[/]: {escape(str(rd.path))}  ({info['time_days']:g} days, {info['n_cells']:,} cells, "
                  f"{info['wall_seconds']:.0f} s)" + (f"; report: {escape(str(rd.path / 'report.html'))}" if report else ""),
                  highlight=False)
    if body:
        from .body import body_summary

        body_summary(rd.path, report)


def validate(path: Annotated[Path, typer.Argument(metavar="FILE", help="model YAML or trial YAML to check")],
             as_json: Annotated[bool, typer.Option("--json", help="machine-readable result on stdout: valid, errors [{field, message}], summary")] = False) -> None:
    """Check a model (or a trial file and its model) without running it; every schema problem is
    listed, one line each."""
    model = path
    from ..model import load_model
    from ..model.safe_yaml import load_yaml

    try:
        data = load_yaml(path, "model or trial file")
        if isinstance(data, dict) and "arms" in data:
            from ..cohort import load_trial

            spec = load_trial(path)
            m = spec.load_model(path.parent)
            console.print(f"[green]valid trial[/]: {escape(spec.name)}: {len(spec.arms)} arms, {spec.n} patients, "
                          f"model {escape(m.name)}", highlight=False)
            return
        m = load_model(path)
    except ModelError as exc:
        if as_json:
            from ._common import emit_json

            emit_json({"valid": False, "model": str(model),
                       "errors": [{"field": e.field, "message": e.message} for e in getattr(exc, "errors", [exc])]})
            raise typer.Exit(code=2) from None
        fail(exc)
        return
    n_sources = sum(1 for r in m.rules if r.source)
    if as_json:
        from ._common import emit_json

        emit_json({"valid": True, "model": str(model), "errors": [], "name": m.name,
                   "cell_types": m.cell_type_names, "substrates": m.substrate_names, "rules": len(m.rules),
                   "rules_with_source": n_sources, "dims": m.domain.dims, "shape": m.domain.shape})
        return
    console.print(f"[green]valid[/]: {escape(m.name)}: {len(m.cell_types)} cell types, {len(m.substrates)} substrates, "
                  f"{len(m.rules)} rules ({n_sources} with a source), {m.domain.dims}D {m.domain.shape}", highlight=False)


def report(run_dir: Annotated[Path, typer.Argument(help="run directory")]) -> None:
    """(Re)write report.html for a run directory."""
    from ..viz import write_report

    try:
        path = write_report(run_dir)
    except ModelError as exc:
        fail(exc)
        return
    console.print(f"[green]report[/]: {path}")
