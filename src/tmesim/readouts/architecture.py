"""Immune architecture of a section from cell positions: cold, mixed or compartmentalized.

Keren et al. (Cell 2018;174:1373, doi:10.1016/j.cell.2018.08.039) imaged 41 triple-negative
breast tumors by MIBI-TOF and found three architectures: *cold* (few immune cells), *mixed*
(immune cells intermixed with tumor cells) and *compartmentalized* (immune cells abundant
but segregated from tumor cells in the stroma), compartmentalized tumors having the best
survival. They separated them by the number of immune cells in a field of view and by a
*mixing score*: the number of immune–tumor cell contacts divided by the number of
immune–immune contacts.

The same code reads simulated sections (run snapshots) and real ones (cell tables with
positions and classes), from a table with columns ``x_um``, ``y_um`` and ``compartment``
(``tumor``, ``immune``, ``stroma``, ``endothelial``) plus a boolean ``t_cell``:

* ``immune_share_window``: immune cells among the cells of the *tumor window* (cells within
  ``WINDOW_UM`` of a tumor-region cell, i.e. the tumor and the stroma next to it, what an
  imaging field placed on a tumor covers);
* ``immune_share_tumor``: immune cells among the cells of tumor regions (cells whose
  neighbourhood of radius ``REGION_UM`` is at least half tumor cells);
* ``mixing_score``: immune–tumor pairs / immune–immune pairs of *touching* cells, i.e. closer
  than ``CONTACT_FACTOR`` × the section's median nearest-neighbour distance (Keren et al.
  counted contacts between segmented cells; the factor makes lattice sections, where
  neighbours sit 20-28 µm apart, and IMC sections, ~10 µm apart, count the same thing);
* ``t_to_tumor_median_um`` and ``t_within_30um``: distance from each T cell to the nearest
  tumor cell (IMC panels without CD8 count all T cells; simulated sections count CD8 T cells).

Classification: ``cold`` when ``immune_share_window < COLD_SHARE``; else ``mixed`` when
``mixing_score >= MIXING_CUTOFF``, else ``compartmentalized``.

Thresholds. Keren et al. called a tumor cold with fewer than 250 immune cells in an 800 µm
field (0.64 mm²), about 390 immune cells per mm². Sections differ in cell density (20 µm
lattice sites hold at most 2500 cells per mm², the Jackson IMC cores about 5000), so the cut
is expressed as a share: 390 of ~5000 cells per mm² is ``COLD_SHARE`` = 0.08 (assumption:
the density of the IMC cores stands for Keren's fields). ``MIXING_CUTOFF`` = 0.22 is the
assumption that separates the two infiltrated modes of Keren's mixing-score distribution
(their Fig. 5); it is a parameter of :func:`classify` so a user can set their own.

Hand-written (scipy ``cKDTree`` pair counts) because squidpy has no mixing score; squidpy's
neighbourhood enrichment is used by :mod:`tmesim.readouts.tissue`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COMPARTMENTS = ("tumor", "immune", "stroma", "endothelial")
ARCHETYPES = ("cold", "mixed", "compartmentalized")
CONTACT_FACTOR = 1.5  # assumption: touching cells lie within 1.5 median nearest-neighbour distances
REGION_UM = 50.0  # assumption: a tumor region is read at the scale of a few cells
WINDOW_UM = 200.0  # assumption: an imaging field placed on a tumor covers the stroma within ~200 µm of its nests
COLD_SHARE = 0.08  # see module docstring
MIXING_CUTOFF = 0.22  # see module docstring
NEAR_UM = 30.0


def _tree(xy: np.ndarray):  # noqa: ANN202 - scipy.spatial.cKDTree
    from scipy.spatial import cKDTree

    return cKDTree(xy)


def _pairs(tree_a, tree_b, r: float) -> int:  # noqa: ANN001
    return int(tree_a.count_neighbors(tree_b, r))


def architecture_metrics(cells: pd.DataFrame, contact_um: float | None = None) -> dict[str, float]:
    """The metrics of the module docstring for one section (columns x_um, y_um, compartment, t_cell)."""
    xy = cells[["x_um", "y_um"]].to_numpy(float)
    comp = cells["compartment"].to_numpy()
    tum = comp == "tumor"
    imm = comp == "immune"
    n = len(cells)
    out: dict[str, float] = {"n_cells": float(n), "n_immune": float(imm.sum()), "n_tumor": float(tum.sum()),
                             "immune_share": float(imm.mean()) if n else float("nan")}
    if n == 0:
        return out | {k: float("nan") for k in ("immune_share_window", "immune_share_tumor", "mixing_score",
                                                 "t_to_tumor_median_um", "t_within_30um")}
    tree = _tree(xy)
    if contact_um is None:
        d2, _ = tree.query(xy, k=2)
        contact_um = CONTACT_FACTOR * float(np.median(d2[:, 1])) if n > 1 else 0.0
    out["contact_um"] = float(contact_um)
    # tumor regions: at least half of the cells within REGION_UM are tumor cells
    nbrs = tree.query_ball_point(xy, REGION_UM)
    frac = np.array([tum[idx].mean() for idx in nbrs])
    region = frac >= 0.5
    if region.any():
        d_region, _ = _tree(xy[region]).query(xy)
        window = d_region <= WINDOW_UM
    else:
        window = np.zeros(n, bool)
    out["tumor_region_share"] = float(region.mean())
    out["immune_share_window"] = float(imm[window].mean()) if window.any() else 0.0
    out["immune_share_tumor"] = float(imm[region].mean()) if region.any() else 0.0
    if imm.sum() >= 2:
        ti = _tree(xy[imm])
        ii = _pairs(ti, ti, contact_um) - int(imm.sum())  # ordered pairs minus self-pairs
        it = _pairs(ti, _tree(xy[tum]), contact_um) if tum.any() else 0
        out["mixing_score"] = float(it / (ii / 2)) if ii > 0 else float("inf") if it else float("nan")
    else:
        out["mixing_score"] = float("nan")
    tc = cells["t_cell"].to_numpy(bool)
    if tc.any() and tum.any():
        d, _ = _tree(xy[tum]).query(xy[tc])
        out["t_to_tumor_median_um"] = float(np.median(d))
        out["t_within_30um"] = float((d <= NEAR_UM).mean())
    else:
        out["t_to_tumor_median_um"] = float("nan")
        out["t_within_30um"] = float("nan")
    return out


def classify(metrics: dict[str, float], cold_share: float = COLD_SHARE,
             mixing_cutoff: float = MIXING_CUTOFF) -> str:
    """The archetype of a section from :func:`architecture_metrics`."""
    if not metrics.get("immune_share_window", 0.0) >= cold_share:
        return "cold"
    m = metrics.get("mixing_score", float("nan"))
    return "mixed" if np.isfinite(m) and m >= mixing_cutoff or m == float("inf") else "compartmentalized"


def architecture(cells: pd.DataFrame, **kw: Any) -> pd.Series:
    """Metrics and ``archetype`` of one section (see module docstring)."""
    m = architecture_metrics(cells, **{k: v for k, v in kw.items() if k == "contact_um"})
    arch = classify(m, **{k: v for k, v in kw.items() if k in ("cold_share", "mixing_cutoff")})
    return pd.Series({**m, "archetype": arch})
