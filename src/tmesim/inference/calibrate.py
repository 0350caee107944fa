"""Likelihood-free calibration: ABC-SMC (pyABC) of a parameter space against a target file.

* Priors: uniform on each parameter's sampling coordinate (log10 or linear) over its declared
  range (``fold`` around the model value or ``range``), so the model value sits in the middle
  of a log-scale fold range.
* Simulated data: :func:`~tmesim.inference.simulate.simulate` gives the statistics; Gaussian
  noise with each target's standard error is added ("noisy ABC": Wilkinson, Stat Appl Genet
  Mol Biol 2013;12:129). With that noise, ABC with a small tolerance targets the posterior of
  the model with Gaussian measurement error instead of one that forces an exact match; the
  noise is drawn from a generator keyed by (seed, parameter values), so a run is reproducible
  on one core and independent of worker scheduling.
* Distance: Euclidean in standard-error units, sqrt(Σ ((sim − obs)/SE)²).
* Populations run on the cohort runner's dask cluster (pyABC's ``DaskDistributedSampler``)
  or, with one worker, in this process (``SingleCoreSampler``, seeded).
* Outputs: the pyABC database (``abc.db``, every generation), ``posterior.parquet`` (last
  population: parameters in stored units, sampling coordinates, weights),
  ``posterior_summary.parquet`` (weighted median and 90% interval per parameter),
  ``generations.parquet`` (epsilon, effective sample size, acceptance per generation),
  ``ppc.parquet`` (posterior and prior predictive quantiles next to each target), figures
  and ``report.html``; :func:`apply_posterior` writes a model file with the posterior
  medians, each with source ``fit:<target file>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.model import Model, ModelError

from .simulate import Problem, simulate
from .space import Space, apply_params
from .targets import Targets


def _key(d: Any, k: int) -> str:
    return f"p{k}"


class ABCModel:
    """The pyABC model: sampling coordinates → noisy summary statistics (picklable)."""

    def __init__(self, problem: Problem, targets: Targets, seed: int = 0, noise: bool = True) -> None:
        self.problem, self.targets, self.seed, self.noise = problem, targets, int(seed), noise
        self.dims = list(problem.space.dims)

    def values(self, par: dict[str, float]) -> dict[str, float]:
        return {d.name: float(d.from_unit(par[_key(d, k)])) for k, d in enumerate(self.dims)}

    def __call__(self, par: dict[str, float]) -> dict[str, float]:
        vals = self.values(par)
        names = self.targets.fitted
        try:
            sim = simulate(vals, self.seed, self.problem)
        except Exception:  # noqa: BLE001 - a parameter set the engine cannot integrate is rejected, not fatal
            return {s: float("inf") for s in names}
        if not self.noise:
            return {s: float(sim[s]) for s in names}
        h = hashlib.sha256(np.array([vals[d.name] for d in self.dims]).tobytes()).digest()
        rng = np.random.default_rng([self.seed, int.from_bytes(h[:8], "little")])
        se = self.targets.se()
        return {s: float(sim[s]) + float(rng.normal(0.0, se[s])) for s in names}


class SEDistance:
    """Euclidean distance in standard-error units (non-finite simulations are infinitely far)."""

    def __init__(self, targets: Targets) -> None:
        self.se = targets.se(fitted_only=True)

    def __call__(self, x: dict[str, float], x0: dict[str, float]) -> float:
        z = [(float(x[s]) - float(x0[s])) / self.se[s] for s in self.se]
        d = float(np.sqrt(np.sum(np.square(z))))
        return d if np.isfinite(d) else float("inf")


def _prior(space: Space) -> Any:
    import pyabc

    return pyabc.Distribution(**{_key(d, k): pyabc.RV("uniform", d.bounds[0], d.bounds[1] - d.bounds[0])
                                 for k, d in enumerate(space.dims)})


@dataclass
class CalibrationResult:
    posterior: pd.DataFrame
    summary: pd.DataFrame
    generations: pd.DataFrame
    ppc: pd.DataFrame
    db: Path
    info: dict[str, Any]


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    o = np.argsort(x)
    x, w = np.asarray(x, float)[o], np.asarray(w, float)[o]
    c = np.cumsum(w) - 0.5 * w
    return float(np.interp(q * w.sum(), c, x))


def posterior_summary(space: Space, post: pd.DataFrame, cred: float = 0.9) -> pd.DataFrame:
    w = post["weight"].to_numpy(float)
    a = (1.0 - cred) / 2.0
    rows = []
    for d in space.dims:
        x = post[d.name].to_numpy(float)
        rows.append({"parameter": d.name, "address": d.address.text, "unit": d.unit, "model_value": d.value,
                     "prior_low": d.low, "prior_high": d.high, "median": weighted_quantile(x, w, 0.5),
                     "q_low": weighted_quantile(x, w, a), "q_high": weighted_quantile(x, w, 1 - a),
                     "credibility": cred})
    return pd.DataFrame(rows)


def run_abc(problem: Problem, targets: Targets, out: str | Path, population: int = 100, generations: int = 6,
            min_epsilon: float = 0.5, max_simulations: int | None = None, seed: int = 0, workers: int = 2,
            scheduler: str | None = None, client: Any = None, ppc_draws: int = 40, credibility: float = 0.9,
            noise: bool = True) -> CalibrationResult:
    """ABC-SMC of ``problem.space`` against ``targets``; writes the folder ``out``."""
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("Sampler").setLevel(logging.WARNING)
    logging.getLogger("Epsilon").setLevel(logging.WARNING)
    missing = [s for s in targets.names if s not in problem.outputs]
    if missing:
        raise ModelError("targets", f"statistics {missing} are not outputs of this problem")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "abc.db"
    if db.exists():
        db.unlink()  # a calibration folder holds one run; pyABC would append a second history
    space = problem.space
    t0 = time.perf_counter()
    model = ABCModel(problem, targets, seed, noise)
    use = client is not None or scheduler is not None or workers > 1
    if use:
        from tmesim.cohort.runner import dask_client

        ctx: Any = contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)
    else:
        ctx = contextlib.nullcontext(None)
    with ctx as c:
        np.random.seed(int(seed) % 2**32)  # pyABC draws proposals from numpy's global generator
        sampler = pyabc.sampler.DaskDistributedSampler(dask_client=c, batch_size=4) if c is not None \
            else pyabc.sampler.SingleCoreSampler()
        abc = pyabc.ABCSMC(model, _prior(space), SEDistance(targets), population_size=int(population),
                           sampler=sampler, eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5))
        abc.new(f"sqlite:///{db}", targets.observed(fitted_only=True))
        kw: dict[str, Any] = {"minimum_epsilon": float(min_epsilon), "max_nr_populations": int(generations)}
        if max_simulations:
            kw["max_total_nr_simulations"] = int(max_simulations)
        hist = abc.run(**kw)
        df, w = hist.get_distribution()
        post = pd.DataFrame({d.name: d.from_unit(df[_key(d, k)].to_numpy(float)) for k, d in enumerate(space.dims)})
        for k, d in enumerate(space.dims):
            post[f"u_{d.name}"] = df[_key(d, k)].to_numpy(float)
        post["weight"] = np.asarray(w, float) / np.sum(w)
        pops = hist.get_all_populations()
        ess = [float("nan")]
        for t in pops["t"].to_numpy()[1:]:
            _, wt = hist.get_distribution(t=int(t))
            wt = np.asarray(wt, float) / np.sum(wt)
            ess.append(float(1.0 / np.sum(wt**2)))
        gens = pd.DataFrame({"t": pops["t"].to_numpy(int), "epsilon": pops["epsilon"].to_numpy(float),
                             "samples": pops["samples"].to_numpy(int), "particles": pops["particles"].to_numpy(int),
                             "ess": ess})
        gens["acceptance"] = gens["particles"] / gens["samples"].clip(lower=1)
        summ = posterior_summary(space, post, credibility)
        ppc = predictive_check(problem, targets, space, post, ppc_draws, seed, client=c,
                               workers=workers if c is None else 2)
    info = {"population": population, "generations_run": int((gens["t"] >= 0).sum()), "min_epsilon": min_epsilon,
            "final_epsilon": float(gens["epsilon"].iloc[-1]), "simulations": int(hist.total_nr_simulations),
            "seed": seed, "noise": noise, "wall_s": round(time.perf_counter() - t0, 1), "credibility": credibility}
    return CalibrationResult(post, summ, gens, ppc, db, info)


def predictive_check(problem: Problem, targets: Targets, space: Space, post: pd.DataFrame, draws: int = 40,
                     seed: int = 0, **run: Any) -> pd.DataFrame:
    """Statistics simulated at ``draws`` posterior draws (weighted resampling) and at as many
    prior draws (no measurement noise), as quantiles next to the observed values."""
    from .evaluate import evaluate

    rng = np.random.default_rng(seed)
    names = space.names
    idx = rng.choice(len(post), size=int(draws), p=post["weight"].to_numpy(float))
    X_post = post.iloc[idx][names].reset_index(drop=True)
    U = np.column_stack([rng.uniform(*d.bounds, size=int(draws)) for d in space.dims])
    X_prior = pd.DataFrame({d.name: d.from_unit(U[:, k]) for k, d in enumerate(space.dims)})
    Yp = evaluate(problem, X_post, seed=seed, **run)
    Y0 = evaluate(problem, X_prior, seed=seed, **run)
    se, obs = targets.se(), targets.observed()
    rows = []
    for s in targets.statistics:
        a, b = Yp[s.statistic].to_numpy(float), Y0[s.statistic].to_numpy(float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        q = lambda v, p: float(np.quantile(v, p)) if len(v) else float("nan")  # noqa: E731
        lo, hi = q(a, 0.05), q(a, 0.95)
        rows.append({"statistic": s.statistic, "observed": obs[s.statistic], "observed_se": se[s.statistic],
                     "pp_median": q(a, 0.5), "pp_q05": lo, "pp_q95": hi,
                     "prior_median": q(b, 0.5), "prior_q05": q(b, 0.05), "prior_q95": q(b, 0.95),
                     "observed_in_pp90": bool(lo - 2 * se[s.statistic] <= obs[s.statistic] <= hi + 2 * se[s.statistic]),
                     "z_pp_median": (q(a, 0.5) - obs[s.statistic]) / se[s.statistic], "fitted": not s.check_only,
                     "source": s.source})
    return pd.DataFrame(rows)


def write_calibration(res: CalibrationResult, out: str | Path, space: Space, targets: Targets, target_file: str,
                      truth: dict[str, float] | None = None, report: bool = True) -> dict[str, Any]:
    from tmesim._version import __version__
    from tmesim.io.atomic import atomic_write_text
    from tmesim.io.tables import write_bytes, write_json, write_parquet

    from .evaluate import model_hash
    from .report import _img, _table, epsilon_figure, marginals_figure, page, ppc_figure

    out = Path(out)
    write_parquet(res.posterior, out / "posterior.parquet")
    write_parquet(res.summary, out / "posterior_summary.parquet")
    write_parquet(res.generations, out / "generations.parquet")
    write_parquet(res.ppc, out / "ppc.parquet")
    write_parquet(space.table(), out / "space.parquet")
    summary = {"model": space.model.name, "model_hash": model_hash(space.model), "tmesim_version": __version__,
               "targets": targets.name, "target_file": target_file, "engine": space.spec.engine,
               "patients": space.spec.patients, **res.info,
               "posterior": res.summary.to_dict("records"), "ppc": res.ppc.to_dict("records"),
               "generations": res.generations.replace({np.nan: None}).to_dict("records")}
    write_json(summary, out / "summary.json")
    if report:
        m = marginals_figure(res.posterior, res.posterior["weight"].to_numpy(float), space, truth)
        p = ppc_figure(res.ppc)
        e = epsilon_figure(res.generations)
        for name, png in (("marginals.png", m), ("ppc.png", p), ("convergence.png", e)):
            write_bytes(png, out / name)
        atomic_write_text(out / "report.html", page(f"Calibration: {space.model.name} against {targets.name}", [
            ("Settings", f"<p>model hash {summary['model_hash']}, tmesim {summary['tmesim_version']}, "
                         f"{res.info['simulations']} simulations in {res.info['wall_s']} s, population "
                         f"{res.info['population']}, {res.info['generations_run']} generations, final epsilon "
                         f"{res.info['final_epsilon']:.3g} (standard-error units).</p>"),
            ("Posterior (weighted median and interval)", _table(res.summary)),
            ("Marginals (prior range on the x axis; dashed: model value)", _img(m, "marginals")),
            ("Posterior-predictive check", _table(res.ppc) + _img(p, "posterior predictive")),
            ("Convergence", _table(res.generations) + _img(e, "epsilon and ESS")),
        ]))
    return summary


def apply_posterior(model: Model, calibration: str | Path, out: str | Path) -> Path:
    """Write ``out``: ``model`` with each calibrated parameter at its posterior median, its source
    ``fit:<target file> (posterior median, 90% interval …; prior: <old source>)``."""
    import json

    import yaml

    from tmesim.io.atomic import atomic_write_text

    from .space import Address

    cal = Path(calibration)
    f = cal / "summary.json"
    if not f.exists():
        raise ModelError(str(cal), "not a calibration folder (no summary.json); run tmesim calibrate first")
    summary = json.loads(f.read_text())
    if model.therapies:
        raise ModelError("model", "--apply writes therapy-free models; remove the therapies first")
    m = model.model_copy(deep=True)
    for r in summary["posterior"]:
        addr = Address.parse(r["address"])
        old = _old_source(m, addr)
        src = (f"fit:{summary['target_file']} (posterior median; {int(100 * r['credibility'])}% interval "
               f"{r['q_low']:.4g}-{r['q_high']:.4g} {r['unit']}; prior range {r['prior_low']:.4g}-{r['prior_high']:.4g}"
               + (f"; before: {old}" if old else "") + ")")
        addr.set(m, float(r["median"]), src)
    data = m.model_dump(mode="json")
    data.pop("drugs", None)
    from tmesim.model import model_from_dict

    model_from_dict(data)  # the written file must load
    atomic_write_text(out, "# written by tmesim calibrate --apply from " + str(cal) + "\n"
                      + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return Path(out)


def _old_source(model: Model, addr: Any) -> str | None:
    if addr.kind == "rule":
        return addr._rule(model).source
    if addr.kind == "cell":
        return model.cell_type(addr.keys[0]).behaviours[addr.keys[1]].source
    node, last = addr._body_parent(model)
    return (node[last] if isinstance(node, dict) else getattr(node, last)).source


def coverage(space: Space, res: CalibrationResult, truth: dict[str, float]) -> dict[str, bool]:
    """Whether each true value lies within the posterior's credible interval."""
    s = res.summary.set_index("parameter")
    return {n: bool(s.loc[n, "q_low"] <= truth[n] <= s.loc[n, "q_high"]) for n in truth}


def synthetic_targets(problem: Problem, truth: dict[str, float], se: dict[str, float], seed: int) -> Targets:
    """Targets made by the model itself: statistics at ``truth`` plus Gaussian noise of ``se``."""
    sim = simulate(truth, 0, problem)
    rng = np.random.default_rng(seed)
    stats = [{"statistic": s, "observed": float(sim[s]) + float(rng.normal(0.0, se[s])), "se": se[s],
              "source": "assumption: synthetic data simulated by the model itself at known parameters"} for s in se]
    return Targets.model_validate({"name": "synthetic", "statistics": stats})




__all__ = ["ABCModel", "CalibrationResult", "SEDistance", "apply_posterior", "apply_params", "coverage",
           "posterior_summary", "predictive_check", "run_abc", "synthetic_targets", "weighted_quantile",
           "write_calibration"]
