"""Figures of a run (matplotlib, Agg backend): maps, curves, field heat maps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from tmesim.model.roles import Role  # noqa: E402

from .palette import pretty, type_colors  # noqa: E402


def spatial_map(cells: pd.DataFrame, config: dict, day: float, ax=None) -> Figure:  # noqa: ANN001
    """Cells as squares at their lattice sites, coloured by type; dead cells in grey."""
    model = config["model"]
    colors = type_colors(model)
    dx = float(model["domain"]["site_size"]["value"])
    shape = model["domain"]["shape"]
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.4, 5.6))
        fig.subplots_adjust(left=0.1, right=0.64, bottom=0.09, top=0.94)  # room for the legend
    cells2d = cells
    if model["domain"]["dims"] == 3:  # the central z slice
        zc = (shape[2] // 2 + 0.5) * dx
        cells2d = cells[np.isclose(cells.z_um, zc)]
    # One pixel per lattice site (an RGBA raster): as fast for 10^6 cells as for 10^3, and crisp.
    nx_, ny_ = int(shape[0]), int(shape[1])
    img = np.ones((ny_, nx_, 4))
    ix = np.clip((cells2d.x_um.to_numpy() / dx).astype(int), 0, nx_ - 1)
    iy = np.clip((cells2d.y_um.to_numpy() / dx).astype(int), 0, ny_ - 1)
    dead = (cells2d.status != "live").to_numpy()
    img[iy[dead], ix[dead]] = to_rgba("#DDDDDD")
    handles = [Patch(color="#DDDDDD", label="dead cell")]
    types = cells2d.cell_type.to_numpy()
    for name, color in colors.items():
        sel = (types == name) & ~dead
        if sel.any():
            img[iy[sel], ix[sel]] = to_rgba(color)
            handles.append(Patch(color=color, label=pretty(name, model)))
    ax.imshow(img, origin="lower", extent=(0, nx_ * dx, 0, ny_ * dx), interpolation="nearest")
    ax.set_xlim(0, shape[0] * dx)
    ax.set_ylim(0, shape[1] * dx)
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"Cell types, day {day:g}")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig or ax.figure


def population_curves(summary: pd.DataFrame, config: dict) -> Figure:
    colors = type_colors(config["model"])
    live = summary[~summary.state.isin(["apoptotic", "necrotic", "killed"])]
    counts = live.groupby(["time_days", "cell_type"])["count"].sum().unstack(fill_value=0)
    fig, ax = plt.subplots(figsize=(8.8, 4.2))
    fig.subplots_adjust(left=0.09, right=0.66, bottom=0.13, top=0.92)  # room for the legend
    for name in counts.columns:
        if counts[name].max() > 0:
            ax.plot(counts.index, counts[name], color=colors.get(name, "#777777"), label=pretty(name, config["model"]), lw=1.8)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("live cells")
    ax.set_title("Population per cell type")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig


def _types_with_role(config: dict | None, role: str) -> list[str]:
    cts = config["model"]["cell_types"] if config is not None else []
    return [ct["name"] for ct in cts if ct.get("role") == role]


def state_shares(summary: pd.DataFrame, config: dict | None = None) -> Figure:
    """EMT state shares of cancer cells and the M1/M2 macrophage share over time."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    emt = summary[summary.state.isin(["epithelial", "hybrid", "mesenchymal"])]
    if len(emt):
        tab = emt.groupby(["time_days", "state"])["count"].sum().unstack(fill_value=0)
        share = tab.div(tab.sum(1).replace(0, np.nan), axis=0)
        for state, color in (("epithelial", "#4477AA"), ("hybrid", "#CCBB44"), ("mesenchymal", "#EE6677")):
            if state in share:
                axes[0].plot(share.index, share[state], label=f"{state}", color=color, lw=1.8)
    axes[0].set_ylim(0, 1)
    axes[0].set_xlabel("time (days)")
    axes[0].set_ylabel("share of live cancer cells")
    axes[0].set_title("EMT states")
    axes[0].legend(fontsize=8, frameon=False)
    live = summary[summary.state == "live"]
    tab = live.groupby(["time_days", "cell_type"])["count"].sum().unstack(fill_value=0)
    m1 = [t for t in _types_with_role(config, Role.M1) if t in tab]
    m2 = [t for t in _types_with_role(config, Role.M2) if t in tab]
    if m1 and m2:
        total = (tab[m1].sum(axis=1) + tab[m2].sum(axis=1)).replace(0, np.nan)
        axes[1].plot(tab.index, tab[m2].sum(axis=1) / total, color="#117733", label="M2 share of macrophages", lw=1.8)
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel("time (days)")
    axes[1].set_ylabel("share")
    axes[1].set_title("Macrophage polarisation")
    axes[1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def tissue_curves(metrics: pd.DataFrame) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    col = next((c for c in metrics.columns if c.startswith("vessel_density")), None)
    if col:
        axes[0].plot(metrics.time_days, metrics[col], color="#AA3377", lw=1.8, label="vessel cells")
        axes[0].set_ylabel("vessel density (per mm²)" if col.endswith("mm2") else "vessel density (per mm³)")
    axes[0].set_xlabel("time (days)")
    axes[0].set_title("Vessel density")
    if "hypoxic_fraction" in metrics:
        axes[1].plot(metrics.time_days, metrics.hypoxic_fraction, color="#332288", lw=1.8, label="pO2 < 10 mmHg")
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel("time (days)")
    axes[1].set_ylabel("fraction of occupied sites")
    axes[1].set_title("Hypoxic fraction")
    for ax in axes:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def field_maps(fields, config: dict, day_index: int = -1) -> Figure:  # noqa: ANN001 - xarray.Dataset
    """One heat map per substrate at one output time, tiled as a mosaic in a single image.

    Each tile is drawn between its field's own minimum and maximum (one shared colour bar:
    0 = the tile's minimum, 1 = its maximum); its label gives the substrate, unit and range, and
    every tile spans the whole domain (size in the title). One image in one axes, instead of an
    axes and a colour bar per substrate, because matplotlib spent most of the report's time
    creating and laying out those 44 axes.
    """
    names = list(fields.data_vars)
    ncol = 4
    nrow = max(1, int(np.ceil(len(names) / ncol)))
    tiles, labels = [], []
    for name in names:
        da = fields[name].isel(time=day_index)
        da = da.isel(z=da.sizes["z"] // 2)
        v = np.asarray(da.values, dtype=float)
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        tiles.append((v - lo) / (hi - lo) if hi > lo else np.zeros_like(v))
        labels.append(f"{pretty(name)} ({da.attrs.get('units', '')}): {lo:.3g}–{hi:.3g}")
    ny, nx = tiles[0].shape if tiles else (1, 1)
    gx, gy = max(1, nx // 12), max(1, ny // 4)  # white gaps; room for each tile's label
    mosaic = np.full((nrow * (ny + gy), ncol * (nx + gx)), np.nan)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncol)
        y0 = (nrow - 1 - r) * (ny + gy)
        mosaic[y0:y0 + ny, c * (nx + gx):c * (nx + gx) + nx] = tile
    height = 9.2 * mosaic.shape[0] / mosaic.shape[1] + 0.45
    fig = plt.figure(figsize=(10.5, height))
    ax = fig.add_axes((0.01, 0.01, 0.876, 1 - 0.45 / height - 0.01))
    im = ax.imshow(mosaic, origin="lower", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    for k, label in enumerate(labels):
        r, c = divmod(k, ncol)
        ax.text(c * (nx + gx), (nrow - 1 - r) * (ny + gy) + ny + gy * 0.15, label, fontsize=7, va="bottom")
    ax.axis("off")
    cbar = fig.colorbar(im, cax=fig.add_axes((0.91, 0.3, 0.015, 0.4)))
    cbar.set_label("within each tile: 0 = its minimum, 1 = its maximum", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    t = float(fields["time"].values[day_index])
    x = fields["x"].values
    y = fields["y"].values
    width, height = x[-1] + x[0], y[-1] + y[0]
    fig.suptitle(f"Substrate fields, day {t:g} (each tile {width:.0f} µm × {height:.0f} µm; "
                 f"{'central z slice, ' if fields.sizes.get('z', 1) > 1 else ''}x right, y up)", fontsize=10)
    return fig


def interaction_graph(config: dict) -> Figure:
    """Cell types and signals as nodes; secretion (type → signal) and response (signal → type) edges."""
    import networkx as nx

    model = config["model"]
    colors = type_colors(model)
    subs = {s["name"] for s in model["substrates"]}
    g = nx.DiGraph()
    for ct in model["cell_types"]:
        g.add_node(ct["name"], kind="cell")
        for beh, p in ct["behaviours"].items():
            for s in subs:
                if beh in (f"{s} secretion", f"{s} export") and float(p["value"]) > 0:
                    g.add_edge(ct["name"], s, kind="secretes")
    for r in model["rules"]:
        if r["signal"] in subs:
            g.add_edge(r["signal"], r["cell_type"], kind=r["direction"])
        elif r["signal"].startswith("contact with "):
            other = r["signal"].removeprefix("contact with ")
            if other in colors:
                g.add_edge(other, r["cell_type"], kind="contact")
    fig, ax = plt.subplots(figsize=(9, 7))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.95)
    # Two rings, signals inside and cell types outside: every edge joins a cell type and a signal
    # (or two cell types), the picture is the same for the same model, and it costs nothing
    # (a force-directed layout took seconds of the report for this graph).
    rings = [[n for n in g if n not in colors], [n for n in g if n in colors]]
    pos = nx.shell_layout(g, nlist=[r for r in rings if r]) if len(g) > 1 else {n: (0, 0) for n in g}
    node_colors = [colors.get(n, "#FFFFFF") for n in g]
    edge_colors = {"secretes": "#999999", "increases": "#228833", "decreases": "#EE6677", "contact": "#4477AA"}
    nx.draw_networkx_edges(g, pos, ax=ax, edge_color=[edge_colors[d["kind"]] for *_, d in g.edges(data=True)],
                           arrowsize=8, width=0.8, alpha=0.7)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=node_colors, edgecolors="#333333",
                           node_shape="o", node_size=[500 if n in colors else 300 for n in g])
    nx.draw_networkx_labels(g, pos, ax=ax, labels={n: pretty(n, model) for n in g}, font_size=7)
    for kind, c in edge_colors.items():
        ax.plot([], [], color=c, label=kind)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.set_title("Interaction network: cell types (filled) and signals (white)")
    ax.axis("off")
    return fig


ORGAN_COLORS = {"bone": "#BBBBBB", "lung": "#4477AA", "liver": "#AA3377", "brain": "#228833"}


def body_curves(ctc: pd.DataFrame, burden: pd.DataFrame, arrivals: pd.DataFrame) -> Figure:
    """Whole body over the life history: CTCs per 7.5 mL, metastatic burden, organ priming."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    x = ctc["days_from_diagnosis"] / 365.25
    axes[0].plot(x, ctc["ctc_per_7_5ml"], color="#CC3311", label="all CTCs")
    axes[0].plot(x, ctc["detectable_per_7_5ml"], color="#EE7733", ls="--", label="EpCAM-detectable")
    axes[0].plot(x, ctc["cluster_cells_per_7_5ml"], color="#0077BB", ls=":", label="cells in clusters")
    axes[0].set_yscale("symlog", linthresh=0.1)
    axes[0].set_ylabel("CTCs per 7.5 mL blood")
    for organ, color in ORGAN_COLORS.items():
        b = burden[burden["organ"] == organ]
        axes[1].plot(b["days_from_diagnosis"] / 365.25, b["cells"], color=color, label=organ)
        a = arrivals[arrivals["organ"] == organ]
        axes[2].plot((a["time_days"] - (ctc["time_days"] - ctc["days_from_diagnosis"]).iloc[0]) / 365.25,
                     a["priming"], color=color, label=organ)
    if burden["cells"].max() > 0:
        axes[1].set_yscale("symlog", linthresh=1.0)
    else:
        axes[1].set_ylim(0, 1)
        axes[1].text(0.5, 0.5, "no metastatic colony", transform=axes[1].transAxes, ha="center", color="#777777")
    axes[1].set_ylabel("metastatic cells per organ")
    axes[2].set_ylabel("exosome priming (0-1)")
    for ax in axes:
        ax.axvline(0.0, color="#999999", lw=0.8)
        ax.set_xlabel("years from diagnosis")
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def site_shares_figure(table: pd.DataFrame) -> Figure:
    """Share of metastatic patients with each site, per subtype, against published figures.

    ``table`` has columns subtype, organ, simulated_percent, review_low_percent,
    review_high_percent (NaN where no figure is published), as written by
    ``tmesim.body.organotropism.site_shares``.
    """
    subtypes = list(dict.fromkeys(table["subtype"]))
    organs = list(ORGAN_COLORS)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(organs)
    for k, organ in enumerate(organs):
        rows = table[table["organ"] == organ].set_index("subtype").reindex(subtypes)
        x = np.arange(len(subtypes)) + (k - (len(organs) - 1) / 2) * width
        ax.bar(x, rows["simulated_percent"], width, color=ORGAN_COLORS[organ], label=f"{organ} (simulated)")
        lo, hi = rows["review_low_percent"].to_numpy(float), rows["review_high_percent"].to_numpy(float)
        ok = np.isfinite(lo)
        ax.errorbar(x[ok], (lo[ok] + hi[ok]) / 2, yerr=(hi[ok] - lo[ok]) / 2 + 0.6, fmt="none", ecolor="black",
                    elinewidth=2, capsize=4, label="published (review:112)" if k == 0 else None)
    ax.set_xticks(np.arange(len(subtypes)), subtypes)
    ax.set_ylabel("% of metastatic patients")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=3, frameon=False)
    fig.tight_layout()
    return fig
