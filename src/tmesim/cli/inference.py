"""``tmesim sensitivity``, ``tmesim calibrate`` and ``tmesim posterior-trial`` (tmesim.inference)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ..model import ModelError
from ._common import console, fail

OUTPUT_HELP = ("output to analyse (repeatable): final_cancer, immune_share, immune_density, cancer_growth_rate, "
               "tvdt_mean, tvdt_sd, kill_rate, metastatic_fraction, metastatic_fraction_observed, "
               "time_to_first_metastasis, met_share_<organ>, trial_hr")


def _space(spec: Path, model: str | None):  # noqa: ANN202
    from tmesim.inference.space import build_space, load_space

    space = load_space(spec)
    if model is not None:
        space = build_space(space.spec.model_copy(update={"model": model}), base=spec.parent)
    return space


def sensitivity(
    spec: Annotated[Path, typer.Argument(help="parameter-space YAML (see docs/calibration.md)")],
    output: Annotated[list[str], typer.Option("--output", help=OUTPUT_HELP)],
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: sensitivity-<spec name>)")] = None,
    model: Annotated[str | None, typer.Option("--model", help="preset or model file instead of the space's")] = None,
    trajectories: Annotated[int, typer.Option("--trajectories", help="Morris trajectories")] = 8,
    levels: Annotated[int, typer.Option("--levels", help="Morris grid levels")] = 4,
    sobol_n: Annotated[int, typer.Option("--sobol-n", help="Sobol base sample (a power of 2)")] = 64,
    max_sobol: Annotated[int, typer.Option("--max-sobol", help="at most this many parameters reach the Sobol stage")] = 8,
    threshold: Annotated[float, typer.Option("--threshold", help="Morris μ* (relative to the largest) to survive")] = 0.1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="local dask worker processes (1: in this process)")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="existing dask scheduler, e.g. tcp://host:8786")] = None,
) -> None:
    """Global sensitivity: Morris screening, then Sobol indices (with 95% CIs) of the survivors."""
    from tmesim.inference import Problem, write_sensitivity
    from tmesim.inference import sensitivity as run

    try:
        if sobol_n < 2 or sobol_n & (sobol_n - 1):
            raise ModelError("--sobol-n", f"a power of 2 (e.g. 32, 64, 128), got {sobol_n}")
        if trajectories < 2:
            raise ModelError("--trajectories", f"at least 2, got {trajectories}")
        space = _space(spec, model)
        prob = Problem.make(space, output)
        dest = out or Path(f"sensitivity-{spec.stem}")
        res = run(prob, trajectories, levels, sobol_n, seed, threshold, max_sobol, workers, scheduler)
        summary = write_sensitivity(res, dest, space)
    except (ModelError, ValueError) as exc:
        fail(exc)
    console.print(f"{summary['evaluations']} simulations in {summary['wall_s']} s; Sobol stage: {', '.join(res.survivors)}")
    for o, top in summary["top10_total_sobol"].items():
        console.print(f"{o}: " + ", ".join(f"{r['parameter']} {r['ST']:.2f}" if r["ST"] == r["ST"] else r["parameter"]
                                           for r in top[:5]))
    console.print(f"outputs: {dest} (morris.parquet, sobol.parquet, ranking.parquet, ranking.png, report.html)")


def calibrate(
    spec: Annotated[Path, typer.Argument(help="parameter-space YAML: what to fit and the prior ranges")],
    targets: Annotated[Path | None, typer.Argument(help="target YAML: observed statistics with SE and source")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: calibration-<targets name>)")] = None,
    model: Annotated[str | None, typer.Option("--model", help="preset or model file instead of the space's")] = None,
    population: Annotated[int, typer.Option("--population", help="particles per generation")] = 100,
    generations: Annotated[int, typer.Option("--generations", help="at most this many generations")] = 6,
    min_epsilon: Annotated[float, typer.Option("--min-epsilon", help="stop at this distance (standard-error units)")] = 0.5,
    max_simulations: Annotated[int | None, typer.Option("--max-simulations", help="stop after this many simulations")] = None,
    ppc_draws: Annotated[int, typer.Option("--ppc-draws", help="posterior (and prior) predictive simulations")] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="local dask worker processes (1: in this process, reproducible)")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="existing dask scheduler")] = None,
    apply: Annotated[Path | None, typer.Option("--apply", help="write a model file with the posterior medians "
                                                "(sources fit:<target file>) from the folder --out and stop")] = None,
) -> None:
    """ABC-SMC calibration (pyABC) against a target file; --apply writes the fitted model."""
    from tmesim.inference import Problem, load_targets, run_abc, write_calibration
    from tmesim.inference.calibrate import apply_posterior

    try:
        space = _space(spec, model)
        if apply is not None:
            if out is None:
                raise ModelError("--out", "give the calibration folder to apply with --out")
            if not apply.parent.is_dir():
                raise ModelError("--apply", f"folder {str(apply.parent)!r} does not exist")
            path = apply_posterior(space.model, out, apply)
            console.print(f"wrote {path} (posterior medians, sources fit:...)")
            return
        if targets is None:
            raise ModelError("TARGETS", "give a target file (or --apply with --out)")
        tg = load_targets(targets)
        prob = Problem.make(space, tg.names)
        dest = out or Path(f"calibration-{tg.name}")
        res = run_abc(prob, tg, dest, population, generations, min_epsilon, max_simulations, seed, workers, scheduler,
                      ppc_draws=ppc_draws)
        write_calibration(res, dest, space, tg, targets.name)
    except (ModelError, ValueError) as exc:
        fail(exc)
    console.print(f"{res.info['simulations']} simulations, {res.info['generations_run']} generations, final epsilon "
                  f"{res.info['final_epsilon']:.3g}, {res.info['wall_s']} s")
    for _, r in res.summary.iterrows():
        console.print(f"{r['parameter']}: median {r['median']:.4g} {r['unit']} (90% {r['q_low']:.4g}-{r['q_high']:.4g}; "
                      f"model {r['model_value']:.4g})")
    for _, r in res.ppc.iterrows():
        console.print(f"{r['statistic']}: observed {r['observed']:.4g} ± {r['observed_se']:.2g}, posterior predictive "
                      f"{r['pp_median']:.4g} ({r['pp_q05']:.4g}-{r['pp_q95']:.4g})")
    console.print(f"outputs: {dest} (posterior.parquet, abc.db, generations.parquet, ppc.parquet, report.html)")


def posterior_trial(
    trial_file: Annotated[Path, typer.Argument(help="trial YAML")],
    calibration: Annotated[Path, typer.Argument(help="calibration folder (tmesim calibrate --out)")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    draws: Annotated[int, typer.Option("--draws", help="posterior draws (one sub-trial each)")] = 8,
    n: Annotated[int | None, typer.Option("--n", help="patients per sub-trial")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers")] = 2,
    scheduler: Annotated[str | None, typer.Option("--scheduler")] = None,
) -> None:
    """A virtual trial over posterior draws: hazard ratios with sampling and parameter uncertainty."""
    from tmesim.cohort.trial import load_trial
    from tmesim.inference.uncertainty import posterior_trial as run

    try:
        if draws < 2:
            raise ModelError("--draws", f"at least 2, got {draws}")
        spec = load_trial(trial_file, n=n)
        summary = run(spec, calibration, out, draws, seed=seed, workers=workers, scheduler=scheduler,
                      base=trial_file.parent)
    except (ModelError, ValueError) as exc:
        fail(exc)
    for r in summary["hazard_ratios"]:
        hr, lo, hi = r["hr"], r["ci_lower"], r["ci_upper"]
        if not all(math.isfinite(float(v)) for v in (hr, lo, hi)) or lo <= 0 or hi / lo > 1e4:  # too few events in the sub-trials
            console.print(f"HR {r['endpoint'].upper()} {r['arm']}: not estimable (too few events; more --n)")
            continue
        console.print(f"HR {r['endpoint'].upper()} {r['arm']}: {hr:.2f} (95% {lo:.2f}-{hi:.2f}; "
                      f"sampling + parameter uncertainty over {r['draws']} draws)")
    console.print(f"outputs: {out} (draws.parquet, summary.json, draw_<k>/)")


__all__ = ["calibrate", "posterior_trial", "sensitivity"]
