"""Global sensitivity: Morris screening, then Sobol indices of the parameters that survive.

SALib does the sampling and the estimators (Morris elementary effects with bootstrap
confidence intervals; Saltelli/Sobol first-order and total indices with bootstrap intervals);
this module only connects it to a :class:`~tmesim.inference.space.Space` (sampled on its log
or linear coordinate), to :func:`~tmesim.inference.simulate.simulate` and to the dask
cluster of the cohort runner (:func:`~tmesim.inference.evaluate.evaluate`).

Screening rule: a parameter survives when its μ* is at least ``threshold`` × the largest μ*
of some output (default 0.1); at most ``max_sobol`` survive, each output first taking an equal
share (its largest μ*), the rest by the largest relative μ* of any output; at least two. Parameters screened out stay at the model value during the Sobol stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .evaluate import Progress, evaluate
from .simulate import Problem
from .space import Space


def _salib_problem(space: Space, names: list[str]) -> dict[str, Any]:
    dims = {d.name: d for d in space.dims}
    return {"num_vars": len(names), "names": names, "bounds": [list(dims[n].bounds) for n in names]}


def _to_values(space: Space, names: list[str], U: np.ndarray) -> pd.DataFrame:
    dims = {d.name: d for d in space.dims}
    return pd.DataFrame({n: dims[n].from_unit(U[:, k]) for k, n in enumerate(names)})


def _clean(y: np.ndarray) -> tuple[np.ndarray, int]:
    """NaN outputs (failed or undefined points) set to the mean of the others; their count."""
    bad = ~np.isfinite(y)
    if bad.all():
        return np.zeros_like(y), int(bad.sum())
    y = y.copy()
    y[bad] = float(np.mean(y[~bad]))
    return y, int(bad.sum())


MIN_ST = 0.01  # total indices below this are noise at the sample sizes used here


@dataclass
class SensitivityResult:
    morris: pd.DataFrame  # output, parameter, mu, mu_star, mu_star_conf, sigma, mu_star_rel, survives
    sobol: pd.DataFrame  # output, parameter, S1, S1_conf, ST, ST_conf
    samples: pd.DataFrame  # stage, parameters..., outputs...
    survivors: list[str]
    info: dict[str, Any]


def morris_screen(problem: Problem, trajectories: int = 8, levels: int = 4, seed: int = 0,
                  threshold: float = 0.1, max_sobol: int = 8, **run: Any) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    space = problem.space
    names = space.names
    sp = _salib_problem(space, names)
    U = morris_sample.sample(sp, N=int(trajectories), num_levels=int(levels), seed=int(seed))
    X = _to_values(space, names, U)
    Y = evaluate(problem, X, seed=0, **run)
    rows = []
    for out in problem.outputs:
        y, nbad = _clean(Y[out].to_numpy(float))
        res = morris_analyze.analyze(sp, U, y, num_levels=int(levels), conf_level=0.95, num_resamples=200,
                                     seed=int(seed), print_to_console=False)
        top = float(np.nanmax(res["mu_star"])) or 1.0
        for k, n in enumerate(names):
            rows.append({"output": out, "parameter": n, "mu": float(res["mu"][k]), "mu_star": float(res["mu_star"][k]),
                         "mu_star_conf": float(res["mu_star_conf"][k]), "sigma": float(res["sigma"][k]),
                         "mu_star_rel": float(res["mu_star"][k]) / top, "nan_outputs": nbad})
    morris = pd.DataFrame(rows)
    # each output first gets an equal share of the Sobol stage (its largest μ*), then the rest
    # is filled by the largest relative μ* of any output: one output's many strong parameters
    # must not crowd out another output's
    cap = max(2, int(max_sobol))
    quota = max(1, cap // len(problem.outputs))
    keep: list[str] = []
    for out in problem.outputs:
        sub = morris[(morris["output"] == out) & (morris["mu_star_rel"] >= threshold)]
        for p in sub.sort_values("mu_star_rel", ascending=False)["parameter"].head(quota):
            if p not in keep and len(keep) < cap:
                keep.append(p)
    best = morris.groupby("parameter")["mu_star_rel"].max().sort_values(ascending=False)
    for p, v in best.items():
        if len(keep) >= cap or v < threshold:
            break
        if p not in keep:
            keep.append(p)
    if len(keep) < 2:
        keep += [p for p in best.index if p not in keep][: 2 - len(keep)]
    morris["survives"] = morris["parameter"].isin(keep)
    samples = pd.concat([X, Y], axis=1).assign(stage="morris")
    return morris, samples, keep


def sobol_indices(problem: Problem, names: list[str], n: int = 64, seed: int = 0,
                  **run: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    space = problem.space
    sp = _salib_problem(space, names)
    U = sobol_sample.sample(sp, int(n), calc_second_order=False, scramble=True, seed=int(seed))
    X = _to_values(space, names, U)
    Y = evaluate(problem, X, seed=0, **run)
    rows = []
    for out in problem.outputs:
        y, nbad = _clean(Y[out].to_numpy(float))
        if np.ptp(y) == 0:
            res = {k: np.zeros(len(names)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            res = sobol_analyze.analyze(sp, y, calc_second_order=False, conf_level=0.95, num_resamples=200,
                                        seed=int(seed), print_to_console=False)
        for k, p in enumerate(names):
            rows.append({"output": out, "parameter": p, "S1": float(res["S1"][k]), "S1_conf": float(res["S1_conf"][k]),
                         "ST": float(res["ST"][k]), "ST_conf": float(res["ST_conf"][k]), "nan_outputs": nbad})
    return pd.DataFrame(rows), pd.concat([X, Y], axis=1).assign(stage="sobol")


def sensitivity(problem: Problem, trajectories: int = 8, levels: int = 4, sobol_n: int = 64, seed: int = 0,
                threshold: float = 0.1, max_sobol: int = 8, workers: int = 2, scheduler: str | None = None,
                client: Any = None, progress: Progress | None = None) -> SensitivityResult:
    """Morris screening of every parameter of the space, then Sobol indices of the survivors,
    for every output of ``problem``. One dask cluster serves both stages."""
    import contextlib
    import time

    from tmesim.cohort.runner import dask_client

    t0 = time.perf_counter()
    use = client is not None or scheduler is not None or workers > 1
    ctx = (contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)) if use \
        else contextlib.nullcontext(None)
    with ctx as c:
        run = {"client": c, "workers": workers if c is None else 2, "progress": progress}
        morris, s1, keep = morris_screen(problem, trajectories, levels, seed, threshold, max_sobol, **run)
        sobol, s2 = sobol_indices(problem, keep, sobol_n, seed, **run)
    info = {"trajectories": trajectories, "levels": levels, "sobol_n": sobol_n, "seed": seed, "threshold": threshold,
            "max_sobol": max_sobol, "evaluations": int(len(s1) + len(s2)), "wall_s": round(time.perf_counter() - t0, 1),
            "outputs": list(problem.outputs)}
    return SensitivityResult(morris, sobol, pd.concat([s1, s2], ignore_index=True), keep, info)


def ranking(res: SensitivityResult) -> pd.DataFrame:
    """One row per (output, parameter), ranked within each output: parameters of the Sobol stage
    with a total index ST >= ``MIN_ST`` by ST, then the others by their Morris μ* (relative to
    the output's largest); ``stage`` says which (``sobol``, ``sobol (ST < 0.01)``, ``screened out``)."""
    m = res.morris[["output", "parameter", "mu_star_rel", "mu_star", "mu_star_conf"]]
    out = m.merge(res.sobol[["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]], on=["output", "parameter"], how="left")
    strong = out["ST"].fillna(-1.0) >= MIN_ST
    out["stage"] = np.where(strong, "sobol", np.where(out["ST"].notna(), "sobol (ST < 0.01)", "screened out"))
    out["_key"] = np.where(strong, 1.0 + out["ST"].fillna(0.0), out["mu_star_rel"].fillna(0.0))
    out = out.sort_values(["output", "_key"], ascending=[True, False]).drop(columns="_key")
    out["rank"] = out.groupby("output").cumcount() + 1
    return out.reset_index(drop=True)





def write_sensitivity(res: SensitivityResult, out: Any, space: Space, report: bool = True) -> dict[str, Any]:
    """Write ``morris.parquet``, ``sobol.parquet``, ``ranking.parquet``, ``samples.parquet``,
    ``space.parquet``, ``summary.json`` (with model hash and tmesim version), ``ranking.png``
    and ``report.html`` to the folder ``out``; returns the summary."""
    from pathlib import Path

    from tmesim._version import __version__
    from tmesim.io.tables import write_bytes, write_json, write_parquet

    from .evaluate import model_hash
    from .report import _img, _table, page, ranking_figure

    out = Path(out)
    rank = ranking(res)
    write_parquet(res.morris, out / "morris.parquet")
    write_parquet(res.sobol, out / "sobol.parquet")
    write_parquet(rank, out / "ranking.parquet")
    write_parquet(res.samples.drop(columns=[c for c in res.samples if c == "_error"]), out / "samples.parquet")
    write_parquet(space.table(), out / "space.parquet")
    top = {o: rank[rank["output"] == o].head(10)[["parameter", "ST", "ST_conf", "S1", "stage"]].to_dict("records")
           for o in res.info["outputs"]}
    summary = {"model": space.model.name, "model_hash": model_hash(space.model), "tmesim_version": __version__,
               "engine": space.spec.engine, "days": space.spec.days, "patients": space.spec.patients,
               "survivors": res.survivors, **res.info, "top10_total_sobol": top}
    write_json(summary, out / "summary.json")
    if report:
        png = ranking_figure(rank)
        write_bytes(png, out / "ranking.png")
        text = page(f"Sensitivity: {space.model.name}", [
            ("Settings", f"<p>model {html_escape(space.model.name)} (hash {summary['model_hash']}), tmesim "
                         f"{summary['tmesim_version']}, engine {space.spec.engine}, {res.info['evaluations']} simulations "
                         f"in {res.info['wall_s']} s; Morris {res.info['trajectories']} trajectories × {res.info['levels']} "
                         f"levels, Sobol N = {res.info['sobol_n']} on {len(res.survivors)} survivors.</p>"),
            ("Ranking (total Sobol index, 95% CI)", _img(png, "ranked Sobol indices")),
            ("Sobol indices", _table(res.sobol.drop(columns=["nan_outputs"]))),
            ("Morris screening", _table(res.morris.drop(columns=["nan_outputs"]))),
            ("Parameter space", _table(space.table())),
        ])
        from tmesim.io.atomic import atomic_write_text

        atomic_write_text(out / "report.html", text)
    return summary


def html_escape(s: str) -> str:
    import html

    return html.escape(str(s))
__all__ = ["SensitivityResult", "morris_screen", "ranking", "sensitivity", "sobol_indices", "write_sensitivity"]
