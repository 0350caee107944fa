"""Figure of a simulated section next to a real one (``tmesim readout compare-tissue``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"Tumor": "#CC3311", "Stroma": "#DDCC77", "T": "#0077BB", "Macrophage": "#117733",
          "Endothelial": "#AA3377", "B": "#EE7733", "Other": "#BBBBBB"}


def _scatter(ax, sec: pd.DataFrame, title: str) -> None:  # noqa: ANN001
    for cls, col in COLORS.items():
        s = sec[sec["coarse"] == cls]
        if len(s):
            ax.scatter(s["x_um"], s["y_um"], s=3 if cls in ("Tumor", "Stroma") else 6, c=col, label=cls,
                       linewidths=0)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("µm")


def comparison_figure(table: pd.DataFrame, out: str | Path, title: str = "") -> Path:
    """Write a PNG: the two sections, composition, and the distance / clustering statistics."""
    sim, real = table.attrs["sections"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 10))
    arch = table.loc["archetype"]
    _scatter(axes[0, 0], real, f"tissue ({arch['tissue']})")
    _scatter(axes[0, 1], sim, f"simulated, day {table.attrs.get('day', 0):g} ({arch['simulated']})")
    axes[0, 0].legend(markerscale=3, fontsize=7, loc="upper right")
    comp = table.loc[[i for i in table.index if i.startswith("share_")], ["simulated", "tissue"]].astype(float)
    comp.index = [i.removeprefix("share_") for i in comp.index]
    x = np.arange(len(comp))
    axes[1, 0].bar(x - 0.2, comp["tissue"], 0.4, label="tissue", color="#777777")
    axes[1, 0].bar(x + 0.2, comp["simulated"], 0.4, label="simulated", color="#0077BB")
    axes[1, 0].set_xticks(x, comp.index, rotation=30, fontsize=8)
    axes[1, 0].set_ylabel("share of cells")
    axes[1, 0].legend(fontsize=8)
    keys = [i for i in table.index if i.startswith(("nn_", "cross_k_", "nhood_z_"))] + ["mixing_score", "immune_share_window"]
    stats = table.loc[[k for k in keys if k in table.index], ["simulated", "tissue"]].astype(float)
    y = np.arange(len(stats))
    axes[1, 1].barh(y + 0.2, stats["tissue"], 0.4, color="#777777", label="tissue")
    axes[1, 1].barh(y - 0.2, stats["simulated"], 0.4, color="#0077BB", label="simulated")
    axes[1, 1].set_yticks(y, stats.index, fontsize=7)
    axes[1, 1].set_xscale("symlog", linthresh=1)
    axes[1, 1].set_title("distances (µm), cross-K ratio, enrichment z, mixing", fontsize=9)
    fig.suptitle(title or "simulated vs real section", fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
