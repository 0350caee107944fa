"""The self-contained run report (report.html): figures inlined as PNG, no server needed."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from tmesim.io import RunDirectory
from tmesim.io.atomic import atomic_write_text

from . import figures
from .palette import pretty


def _png(fig) -> str:  # noqa: ANN001
    # Figures lay themselves out (fixed margins or tight_layout): bbox_inches="tight" would draw
    # every figure twice.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(fig, alt: str) -> str:  # noqa: ANN001
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}"/><figcaption>{html.escape(alt)}</figcaption></figure>'


def _body_section(rd: RunDirectory) -> str:
    """Whole-body results of a run made with --body: CTCs, metastases per organ, niches."""
    info = rd.body_info()
    fm = rd.body("first_metastasis").copy()
    fm["days_from_diagnosis"] = fm["days_from_diagnosis"].map(lambda d: "none" if d != d else f"{d:.0f}")
    seeding = rd.body("seeding")
    fm["colonies founded"] = [int((seeding["organ"] == o).sum()) for o in fm["organ"]]
    sites = ", ".join(info["metastatic_sites"]) or "none"
    out = [f"<h2>Whole body</h2><p>Diagnosis at day {info['diagnosis_day']:.0f} of the simulated life history; "
           f"metastatic sites detected by the end of follow-up: <b>{html.escape(sites)}</b>. Organ niches were "
           "simulated spatially (growth per day after MET in the table); dormant pools as expected values; "
           "colony founding as a seeded Poisson process.</p>",
           _img(figures.body_curves(rd.body("ctc"), rd.body("burden"), rd.body("arrivals")),
                "CTCs per 7.5 mL, metastatic cells per organ and exosome priming over the life history"),
           fm.to_html(classes="data", index=False),
           pd.DataFrame(rd.body("seeding_per_cell")).to_html(classes="data", index=False, float_format="%.3g")]
    return "".join(out)


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into a run directory and return its path."""
    rd = RunDirectory(run_dir)
    cfg = rd.config
    model = cfg["model"]
    info = rd.info
    summary, metrics = rd.summary(), rd.metrics()
    times = rd.snapshot_times()
    picks = sorted({times[0], times[len(times) // 2], times[-1]}) if times else []
    parts = [f"<h1>tmesim run: {html.escape(model['name'])}</h1>",
             f"<p>{html.escape(model.get('description', ''))}</p>",
             "<table class='meta'>" + "".join(
                 f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in (
                     ("tmesim version", cfg["tmesim_version"]), ("engine", cfg["engine"]), ("seed", cfg["seed"]),
                     ("simulated days", cfg["days"]), ("status", info.get("status")),
                     ("wall time (s)", info.get("wall_seconds")), ("cells at end", info.get("n_cells")),
                     ("domain", f"{model['domain']['shape']} sites × {model['domain']['site_size']['value']} µm"),
                     ("run format version", cfg["format_version"]))) + "</table>",
             "<p class='note'>Interactive map over time: <code>tmesim view RUN_DIR</code> (writes and serves "
             "<code>viewer.html</code>); animation: <code>tmesim animate RUN_DIR --out tumor.gif</code>.</p>"]
    parts.append("<h2>Spatial map of cell types</h2><div class='row'>")
    for day in picks:
        parts.append(_img(figures.spatial_map(rd.cells(day), cfg, day), f"Cell types at day {day:g}"))
    parts.append("</div><h2>Populations</h2>")
    parts.append(_img(figures.population_curves(summary, cfg), "Live cells per type over time (log scale above 10)"))
    parts.append(_img(figures.state_shares(summary, cfg), "EMT state shares of cancer cells; M2 share of macrophages"))
    parts.append(_img(figures.tissue_curves(metrics), "Vessel density and hypoxic fraction"))
    parts.append("<h2>Substrate fields</h2>")
    parts.append(_img(figures.field_maps(rd.fields(), cfg), "Substrate concentrations at the last output"))
    parts.append("<h2>Interaction network</h2>")
    parts.append(_img(figures.interaction_graph(cfg), "Secretion and response edges of the model"))
    ev = rd.events()
    if len(ev):
        tab = ev.groupby(["event", "cell_type"]).size().unstack(fill_value=0)
        parts.append("<h2>Events</h2>" + tab.to_html(classes="data"))
    if rd.has_body:
        parts.append(_body_section(rd))
    parts.append("<h2>Rules and their sources</h2><table class='data'><tr><th>cell type</th><th>signal</th>"
                 "<th>direction</th><th>behaviour</th><th>saturation</th><th>half-max</th><th>Hill</th>"
                 "<th>source</th><th>statement</th></tr>")
    for r in model["rules"]:
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in (
            pretty(r["cell_type"], model), pretty(r["signal"], model), r["direction"], r["behaviour"], f"{r['saturation']:g}",
            f"{r['half_max']:g}", f"{r['hill_power']:g}", r.get("source") or "", r.get("statement") or "")) + "</tr>")
    parts.append("</table>")
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>tmesim report: {html.escape(model['name'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
img{{max-width:100%}} figure{{margin:0.5em}} .row{{display:flex;flex-wrap:wrap}} .row figure{{flex:1 1 360px}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
figcaption{{font-size:0.85em;color:#555}}</style></head><body>{''.join(parts)}</body></html>"""
    out = Path(run_dir) / "report.html"
    atomic_write_text(out, page)
    return out
