"""Analysis outputs of a cohort/trial folder: tables, Kaplan–Meier figure and an HTML report.

The Kaplan–Meier figure is drawn by lifelines (curves, confidence bands, censoring ticks and
``add_at_risk_counts`` under each panel) on a months axis, each arm in a fixed colour
(:data:`ARM_COLORS`, by the arm's position in the trial). Log-rank p-values and a
proportional-hazards test per endpoint sit next to the Cox hazard ratios.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.io.trial import write_bytes, write_page, write_summary, write_table

from .markers import MARKERS
from .survival import (
    arm_hazard_ratios,
    endpoints_of,
    km_table,
    logrank_tests,
    marker_hazard_ratios,
    proportional_hazards_tests,
)

DAYS_PER_MONTH = 365.25 / 12
# Fixed arm colours (Paul Tol's bright scheme): arm k of the trial always gets colour k, so the
# reference arm is blue in every figure whatever order the patients finished in.
ARM_COLORS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")


def arm_color(arms: list[str], arm: str) -> str:
    return ARM_COLORS[arms.index(arm) % len(ARM_COLORS)]


def _plot_km(df: pd.DataFrame, endpoints: list[str], arms: list[str], path: Path) -> bytes:
    """Kaplan–Meier curves per endpoint in months, numbers at risk from lifelines' add_at_risk_counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    fig, axes = plt.subplots(1, len(endpoints), figsize=(5.6 * len(endpoints), 5.4), squeeze=False)
    for ax, ep in zip(axes[0], endpoints, strict=True):
        fitters = []
        for arm in arms:
            sub = df[df["arm"] == arm]
            if not len(sub):
                continue
            kmf = KaplanMeierFitter().fit(sub[f"{ep}_days"] / DAYS_PER_MONTH, sub[f"{ep}_event"].astype(bool),
                                          label=str(arm)[:22])
            kmf.plot_survival_function(ax=ax, ci_show=True, color=arm_color(arms, arm), show_censors=True,
                                       censor_styles={"ms": 4, "marker": "|"})
            fitters.append(kmf)
        horizon = float(df[f"{ep}_days"].max()) / DAYS_PER_MONTH
        step = 3.0 if horizon <= 24 else 6.0 if horizon <= 60 else 12.0
        ax.set_xticks(np.arange(0.0, horizon + 1e-9, step))
        ax.set(xlabel="months from randomisation", ylabel="probability", title=ep.upper(), ylim=(0, 1.02),
               xlim=(0, horizon))
        ax.legend(fontsize=8)
        if fitters:
            add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"], fig=fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path.parent, path.name, buf.getvalue())
    return buf.getvalue()


def _plot_forest_and_sites(df: pd.DataFrame, hr: pd.DataFrame, mhr: pd.DataFrame, arms: list[str]) -> bytes:
    """Forest plot (arm and marker hazard ratios with 95% CI) and metastatic sites per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for _, r in hr.iterrows():
        rows.append((f"{r.get('endpoint', '')}: {r.get('arm', r.get('comparison', 'arm'))}", r["hr"], r["ci_lower"], r["ci_upper"]))
    for _, r in mhr.iterrows():
        rows.append((f"{r['endpoint']}: {r['marker']} (per SD)", r["hr_per_sd"], r["ci_lower"], r["ci_upper"]))
    organs = [c[4:-6] for c in df.columns if c.startswith("met_") and c.endswith("_event")]
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.0, 0.28 * len(rows) + 1)), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    for k, (_label, h, lo, hi) in enumerate(rows):
        y = len(rows) - k
        ax.plot([lo, hi], [y, y], color="#555555")
        ax.plot([h], [y], "s", color="#CC3311" if h > 1 else "#0077BB")
    ax.set_yticks(range(len(rows), 0, -1), [r[0] for r in rows], fontsize=7)
    ax.axvline(1.0, color="#999999", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("hazard ratio (95% CI)")
    ax = axes[1]
    if organs:
        share = df.groupby("arm")[[f"met_{o}_event" for o in organs]].mean() * 100
        share.columns = organs
        share = share.reindex([a for a in arms if a in share.index])
        share.T.plot.bar(ax=ax, rot=0, color=[arm_color(arms, a) for a in share.index])
        ax.set_ylabel("% of patients with a metastasis")
        ax.set_title("metastatic sites by arm", fontsize=9)
    else:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def analyse(df: pd.DataFrame, out: Path, name: str, arms: list[str], endpoints: list[str], wall_s: float,
            report: bool = True) -> dict[str, Any]:
    """Write ``patients.parquet``, ``km_<endpoint>.parquet``, ``hazard_ratios.csv``,
    ``marker_hazard_ratios.csv``, ``summary.json``, ``km.png`` and ``report.html``."""
    out.mkdir(parents=True, exist_ok=True)
    write_table(out, "patients.parquet", df)
    eps = [e for e in endpoints_of(df) if e in ("pfs", "os") and e in endpoints]
    if "metastasis" in endpoints:
        eps += [e for e in endpoints_of(df) if e.startswith("met_")]
    order = {a: k for k, a in enumerate(arms)}
    df = df.sort_values(["arm", "patient_id"], key=lambda c: c.map(order) if c.name == "arm" else c,
                        kind="stable").reset_index(drop=True)
    km = {ep: km_table(df, ep) for ep in eps}
    for ep, tab in km.items():
        write_table(out, f"km_{ep}.parquet", tab)
    hr = arm_hazard_ratios(df, eps, arms) if len(arms) > 1 else pd.DataFrame()
    write_table(out, "hazard_ratios.csv", hr)
    lr = logrank_tests(df, eps, arms) if len(arms) > 1 else pd.DataFrame()
    write_table(out, "logrank.csv", lr)
    ph = proportional_hazards_tests(df, eps, arms) if len(arms) > 1 else pd.DataFrame()
    write_table(out, "proportional_hazards.csv", ph)
    mhr = marker_hazard_ratios(df, [e for e in ("pfs", "os") if e in eps], arms=arms)
    write_table(out, "marker_hazard_ratios.csv", mhr)
    summary: dict[str, Any] = {
        "name": name, "patients": int(len(df)), "arms": {a: int((df["arm"] == a).sum()) for a in arms},
        "wall_s": round(wall_s, 2), "patients_per_s": round(len(df) / wall_s, 2) if wall_s > 0 else None,
        "medians_days": {ep: km[ep].attrs.get("medians", {}) for ep in eps if ep in ("pfs", "os")},
        "events": {ep: {a: int(df.loc[df["arm"] == a, f"{ep}_event"].sum()) for a in arms} for ep in eps},
        "hazard_ratios": hr.replace({np.nan: None}).to_dict("records"),
        "logrank": lr.replace({np.nan: None}).to_dict("records"),
        "proportional_hazards": ph.replace({np.nan: None}).to_dict("records"),
        "marker_hazard_ratios": mhr.replace({np.nan: None}).to_dict("records"),
    }
    write_summary(out, summary)
    if report and eps:
        png = _plot_km(df, [e for e in eps if e in ("pfs", "os")] or eps[:1], arms, out / "km.png")
        _html(out / "report.html", name, df, summary, hr, mhr, png, lr, ph, arms)
    return summary


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda x: f"{x:.3g}", border=0) if len(df) else "<p>none</p>"


def _html(path: Path, name: str, df: pd.DataFrame, summary: dict[str, Any], hr: pd.DataFrame, mhr: pd.DataFrame,
          png: bytes, lr: pd.DataFrame, ph: pd.DataFrame, arms: list[str]) -> None:
    resp = df.groupby("arm")["best_response"].value_counts().unstack(fill_value=0).reset_index() \
        if "best_response" in df else pd.DataFrame()
    med = pd.DataFrame([{"endpoint": ep, "arm": a, "median_days": v} for ep, d in summary["medians_days"].items()
                        for a, v in d.items()])
    markers = df.groupby("arm")[[m for m in MARKERS if m in df]].median().reset_index()
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>Virtual trial: {html.escape(name)}</h1>
<p>{summary['patients']} patients ({', '.join(f'{k}: {v}' for k, v in summary['arms'].items())}),
engine {html.escape(str(df['engine'].iloc[0]) if 'engine' in df and len(df) else '?')},
wall time {summary['wall_s']} s ({summary['patients_per_s']} patients/s).</p>
<h2>Kaplan–Meier curves</h2><img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="KM curves">
<h2>Medians (days)</h2>{_table(med)}
<h2>Hazard ratios (Cox, 95% CI; vs the first arm)</h2>{_table(hr)}
<h2>Log-rank tests (vs the first arm)</h2>{_table(lr)}
<h2>Proportional-hazards check (Grambsch–Therneau, rank time; small p: the HR changes over time)</h2>{_table(ph)}
<h2>Forest plot and metastatic sites</h2><img src="data:image/png;base64,{base64.b64encode(_plot_forest_and_sites(df, hr, mhr, arms)).decode()}" alt="forest plot and metastatic sites">
<h2>Best overall response (RECIST-like)</h2>{_table(resp)}
<h2>Prognostic markers at day 0: Cox HR per SD of log(marker), adjusted for arm</h2>{_table(mhr)}
<h2>Marker medians per arm</h2>{_table(markers)}
<p>Definitions: see <code>tmesim.cohort.endpoints</code> (burden, RECIST progression, death) and
<code>tmesim.cohort.markers</code>. Per-patient tables: <code>patients/&lt;arm&gt;/patient_*.parquet</code>,
combined in <code>patients.parquet</code>.</p></body></html>"""
    write_page(path.parent, path.name, body)


__all__ = ["analyse"]
