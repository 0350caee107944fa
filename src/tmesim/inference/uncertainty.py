"""Virtual trials over posterior draws: a hazard ratio with sampling and parameter uncertainty.

A calibration folder's posterior (``posterior.parquet``) is resampled by weight into
``draws`` parameter sets. Each draw runs the trial with the model at those values and its own
virtual patients (trial seed + draw index), so every sub-trial carries its own sampling noise.
Per draw the Cox HR and its standard error on the log scale are recorded; the combined
interval is that of the mixture of N(log HR_k, se_k²) over draws (sampling and parameter
uncertainty together); the between-draw spread of log HR alone is reported too.

With ``contacts: measured`` (mean-field) every draw uses the contact table of the model at its
own values (``contacts_model.csv``): the contact enrichment is not re-measured per draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.model import Model, ModelError

from .space import Address, apply_params


def posterior_draws(calibration: str | Path, draws: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Address]]:
    """``draws`` parameter sets resampled by weight from a calibration folder, and their addresses."""
    cal = Path(calibration)
    if not (cal / "posterior.parquet").exists() or not (cal / "space.parquet").exists():
        raise ModelError(str(cal), "not a calibration folder (posterior.parquet, space.parquet); run tmesim calibrate first")
    post = pd.read_parquet(cal / "posterior.parquet")
    space = pd.read_parquet(cal / "space.parquet")
    addrs = {r["name"]: Address.parse(r["address"]) for _, r in space.iterrows()}
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(post), size=int(draws), p=post["weight"].to_numpy(float) / post["weight"].sum())
    return post.iloc[idx][list(addrs)].reset_index(drop=True), addrs


def _mixture_interval(log_hr: np.ndarray, se: np.ndarray, seed: int, level: float = 0.95) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    ok = np.isfinite(log_hr) & np.isfinite(se)
    if not ok.any():
        return float("nan"), float("nan"), float("nan")
    x = (log_hr[ok][:, None] + se[ok][:, None] * rng.standard_normal((int(ok.sum()), 4000))).ravel()
    a = (1 - level) / 2
    return float(np.exp(np.median(x))), float(np.exp(np.quantile(x, a))), float(np.exp(np.quantile(x, 1 - a)))


def posterior_trial(spec: Any, calibration: str | Path, out: str | Path, draws: int = 8, model: Model | None = None,
                    seed: int = 0, workers: int = 2, scheduler: str | None = None, base: Path | None = None) -> dict[str, Any]:
    """Run ``spec`` (a :class:`tmesim.cohort.trial.TrialSpec`) once per posterior draw into
    ``out/draw_<k>`` and combine the hazard ratios (``out/draws.parquet``, ``out/summary.json``)."""
    from tmesim.cohort.runner import dask_client
    from tmesim.cohort.trial import run_trial
    from tmesim.io.tables import write_json, write_parquet

    out = Path(out)
    model = model or spec.load_model(base)
    X, addrs = posterior_draws(calibration, draws, seed)
    if spec.engine == "meanfield" and spec.contacts == "measured":
        # one contact table (the model's, at its own values) for every draw: re-measuring it
        # takes a spatial run per draw, and the contact structure is not what was calibrated
        from tmesim.cohort.contacts import resolve_contacts
        from tmesim.io.tables import write_csv

        cdays = spec.contact_days if spec.contact_days is not None else spec.timing.run_in_days + 7.0
        table = resolve_contacts("measured", model, out, cdays, spec.contact_seed)
        spec = spec.model_copy(update={"contacts": str(write_csv(table, out / "contacts_model.csv").resolve())})
    rows = []
    with dask_client(workers, scheduler) as client:
        for k, vals in enumerate(X.to_dict("records")):
            mk = apply_params(model, None, {n: float(v) for n, v in vals.items()}, addresses=addrs)
            sk = spec.model_copy(update={"seed": int(spec.seed) + k})
            summ = run_trial(sk, out / f"draw_{k:03d}", model=mk, client=client, report=False, base=base)
            for hr in summ["hazard_ratios"]:
                h, lo, hi = hr.get("hr"), hr.get("ci_lower"), hr.get("ci_upper")
                ok = all(v is not None and v > 0 for v in (h, lo, hi))
                rows.append({"draw": k, **vals, "endpoint": hr["endpoint"], "arm": hr["arm"], "hr": h,
                             "log_hr": float(np.log(h)) if ok else np.nan,
                             "se_log_hr": float((np.log(hi) - np.log(lo)) / (2 * 1.959964)) if ok else np.nan})
    df = pd.DataFrame(rows)
    write_parquet(df, out / "draws.parquet")
    combined = []
    for (ep, arm), g in df.groupby(["endpoint", "arm"], sort=False):
        lh, se = g["log_hr"].to_numpy(float), g["se_log_hr"].to_numpy(float)
        med, lo, hi = _mixture_interval(lh, se, seed)
        fin = lh[np.isfinite(lh)]
        combined.append({"endpoint": ep, "arm": arm, "hr": med, "ci_lower": lo, "ci_upper": hi, "draws": int(len(g)),
                         "between_draw_sd_log_hr": float(np.std(fin, ddof=1)) if len(fin) > 1 else float("nan"),
                         "mean_within_se_log_hr": float(np.nanmean(se)) if np.isfinite(se).any() else float("nan")})
    from tmesim._version import __version__

    from .evaluate import model_hash

    summary = {"trial": spec.name, "calibration": str(calibration), "draws": int(draws), "seed": seed,
               "n": int(spec.n), "trial_seed": int(spec.seed), "model_hash": model_hash(model),
               "tmesim_version": __version__, "hazard_ratios": combined}
    write_json(summary, out / "summary.json")
    return summary


__all__ = ["posterior_draws", "posterior_trial"]
