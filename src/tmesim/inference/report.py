"""Figures and HTML reports of sensitivity and calibration folders (matplotlib, Agg)."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ranking_figure(rank: pd.DataFrame) -> bytes:
    """Per output: total (ST) and first-order (S1) Sobol indices with 95% CIs, ranked; screened-out
    parameters shown by their relative Morris μ* (hatched)."""
    plt = _plt()
    outs = list(dict.fromkeys(rank["output"]))
    fig, axes = plt.subplots(1, len(outs), figsize=(4.6 * len(outs), 0.32 * rank.groupby("output").size().max() + 1.6),
                             squeeze=False)
    for ax, out in zip(axes[0], outs, strict=True):
        sub = rank[rank["output"] == out].iloc[::-1]
        y = np.arange(len(sub))
        st = sub["ST"].fillna(0).to_numpy()
        ax.barh(y, st, xerr=sub["ST_conf"].fillna(0).to_numpy(), color="#0077BB", alpha=0.85, label="total ST")
        ax.barh(y, sub["S1"].fillna(0).to_numpy(), height=0.4, color="#EE7733", label="first-order S1")
        scr = sub["stage"] == "screened out"
        ax.barh(y[scr], sub["mu_star_rel"][scr].to_numpy() * max(float(np.nanmax(st)) if len(st) else 1.0, 1e-9),
                color="none", edgecolor="#999999", hatch="//", label="screened out: Morris μ* (rel.)")
        ax.set_yticks(y, sub["parameter"], fontsize=7)
        ax.set_title(out, fontsize=9)
        ax.set_xlabel("Sobol index (95% CI)")
        ax.axvline(0, color="#333333", lw=0.6)
    axes[0][0].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def _img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{html.escape(alt)}" style="max-width:100%">'


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda x: f"{x:.3g}", border=0) if len(df) else "<p>none</p>"


STYLE = ("<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse}"
         "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style>")


def page(title: str, parts: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>{c}" for h, c in parts)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{STYLE}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"


def marginals_figure(posterior: pd.DataFrame, weights: np.ndarray, space: Any, truth: dict[str, float] | None = None) -> bytes:
    """Weighted posterior histograms on the sampling scale, prior range as the x-axis, model value dashed."""
    plt = _plt()
    dims = list(space.dims)
    fig, axes = plt.subplots(1, len(dims), figsize=(3.6 * len(dims), 3.0), squeeze=False)
    for ax, d in zip(axes[0], dims, strict=True):
        u = d.to_unit(posterior[d.name].to_numpy(float))
        lo, hi = d.bounds
        ax.hist(u, bins=20, range=(lo, hi), weights=weights, density=True, color="#0077BB", alpha=0.8)
        ax.axvline(float(d.to_unit(d.value)), color="#333333", ls="--", lw=1, label="model value")
        if truth and d.name in truth:
            ax.axvline(float(d.to_unit(truth[d.name])), color="#CC3311", lw=1.2, label="truth")
        ax.set_xlabel(("log10 " if d.scale == "log" else "") + f"{d.name} [{d.unit}]", fontsize=8)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def ppc_figure(ppc: pd.DataFrame) -> bytes:
    """Posterior-predictive intervals against each observed statistic (± its standard error)."""
    plt = _plt()
    n = len(ppc)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), squeeze=False)
    for ax, (_, r) in zip(axes[0], ppc.iterrows(), strict=True):
        ax.errorbar([0], [r["observed"]], yerr=[[r["observed_se"]], [r["observed_se"]]], fmt="s", color="#333333",
                    label="observed ± SE")
        ax.errorbar([1], [r["pp_median"]], yerr=[[r["pp_median"] - r["pp_q05"]], [r["pp_q95"] - r["pp_median"]]],
                    fmt="o", color="#0077BB", label="posterior predictive (90%)")
        ax.errorbar([2], [r["prior_median"]], yerr=[[r["prior_median"] - r["prior_q05"]], [r["prior_q95"] - r["prior_median"]]],
                    fmt="o", color="#BBBBBB", label="prior predictive (90%)")
        ax.set_xticks([0, 1, 2], ["data", "posterior", "prior"], fontsize=7)
        vals = np.array([r["observed"] - r["observed_se"], r["pp_q05"], r["prior_q05"], r["prior_q95"], r["pp_q95"]], float)
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if len(vals) and vals.max() / vals.min() > 20:  # heavy tails: a linear axis would hide the data
            ax.set_yscale("log")
        ax.set_title(str(r["statistic"]), fontsize=8)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def epsilon_figure(pops: pd.DataFrame) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8))
    p = pops[pops["t"] >= 0]
    axes[0].semilogy(p["t"], p["epsilon"], "o-")
    axes[0].set(xlabel="generation", ylabel="epsilon")
    axes[1].plot(p["t"], p["ess"], "o-")
    axes[1].set(xlabel="generation", ylabel="effective sample size")
    fig.tight_layout()
    return _png(fig)


__all__ = ["epsilon_figure", "marginals_figure", "page", "ppc_figure", "ranking_figure"]
