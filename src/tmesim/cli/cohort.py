"""``tmesim cohort`` and ``tmesim trial``: virtual patients, arms, survival and hazard ratios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..model import ModelError
from ..units import MAX_SEED
from ._common import console, fail, notice


def _cohort_progress():  # noqa: ANN202
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # On stderr with the other status lines: stdout stays clean for --json.
    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    task = bar.add_task("patients", total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _num(v: float | None, fmt: str) -> str:
    """A summary number; None (not defined: median not reached, no events) as 'n/a'."""
    return "n/a" if v is None else format(v, fmt)


def _cohort_summary(summary: dict, out: Path) -> None:
    say = lambda text: console.print(text, markup=False, highlight=False, emoji=False)  # noqa: E731
    say(f"{summary['patients']} patients in {summary['wall_s']} s ({summary['patients_per_s']} patients/s)")
    for ep, meds in summary["medians_days"].items():
        say(f"median {ep.upper()} (days): " + ", ".join(f"{a}: {_num(v, '.0f')}" for a, v in meds.items()))
    for r in summary["hazard_ratios"]:
        if r["endpoint"] in ("pfs", "os") and r["hr"] is not None:
            say(f"HR {r['endpoint'].upper()} {r['arm']} vs {r['reference']}: "
                f"{_num(r['hr'], '.2f')} (95% CI {_num(r['ci_lower'], '.2f')}-{_num(r['ci_upper'], '.2f')})")
    say(f"outputs: {out} (patients.parquet, km_*.parquet, hazard_ratios.csv, report.html)")


CONTACTS_HELP = ("mean-field contact enrichment: measured (a short spatial run of the model, the default), "
                 "well-mixed (random mixing), or a contacts CSV")



def cohort(
    out: Annotated[Path, typer.Option("--out", help="output folder (resumes if it holds this cohort)")],
    preset: Annotated[str | None, typer.Option("--preset", help="subtype preset: tnbc, her2, luminal-a, luminal-b")] = "tnbc",
    model: Annotated[Path | None, typer.Option("--model", help="model YAML instead of a preset")] = None,
    n: Annotated[int, typer.Option("--n", help="number of virtual patients")] = 100,
    engine: Annotated[str, typer.Option("--engine", help="meanfield (fast) or spatial")] = "meanfield",
    days: Annotated[float | None, typer.Option("--days", help="section days (run-in + treatment); default 28 + 84")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="seed of the virtual patients")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="local worker processes")] = 2,
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
            summary = run_trial(spec, out, workers=workers, scheduler=scheduler, progress=cb, notice=notice)
    except ModelError as exc:
        fail(exc)
    _cohort_summary(summary, out)



def trial(
    trial_file: Annotated[Path, typer.Argument(help="trial YAML (see README 'Cohorts and virtual trials')")],
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: trial-<name>)")] = None,
    n: Annotated[int | None, typer.Option("--n", help="override the number of patients")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="override the engine: meanfield or spatial")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="local worker processes")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="existing dask scheduler, e.g. tcp://host:8786")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue a killed run in --out, skipping finished patients")] = False,
    contacts: Annotated[str | None, typer.Option("--contacts", help="override the trial's contacts: " + CONTACTS_HELP)] = None,
    setting: Annotated[str | None, typer.Option("--setting", help="override the trial's setting: primary (treated from "
                                                "diagnosis) or metastatic (entry at metastatic disease, every lesion)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the trial summary (summary.json) on stdout when done")] = False,
) -> None:
    """Run a virtual trial: arms, randomisation, PFS/OS/metastasis endpoints, KM curves and Cox HRs."""
    from tmesim.cohort import load_trial, run_trial

    try:
        spec = load_trial(trial_file, n=n, engine=engine, contacts=contacts, setting=setting)
        dest = out or Path(f"trial-{spec.name}")
        bar, cb = _cohort_progress()
        with bar:
            summary = run_trial(spec, dest, model=spec.load_model(trial_file.parent), workers=workers,
                                scheduler=scheduler, progress=cb, resume=resume, base=trial_file.parent,
                                notice=notice)
    except ModelError as exc:
        fail(exc)
    _cohort_summary(summary, dest)
    if as_json:
        from ._common import emit_json

        emit_json(summary)
