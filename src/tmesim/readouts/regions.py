"""Digital-spatial-profiling-like region readouts: per-ROI protein, RNA, cell and field means.

Regions come from the snapshot's tumor mask. Live cancer cells (cell types whose role is
``cancer``) mark their lattice sites; the mask is the sites where
the share of cancer cells within ``MASK_WINDOW`` sites exceeds ``MASK_THRESHOLD``, holes
filled. With ``d`` the signed distance (µm) from the mask boundary (negative inside):

* ``tumor-core``: ``d < -margin/2``;
* ``invasive-margin``: ``|d| <= margin/2`` (a band of width ``margin``, default 200 µm,
  centred on the border, as pathologists delineate the invasive margin);
* ``stroma``: ``d > margin/2``;
* ``whole``: every site of the section.

As in :mod:`tmesim.readouts.clinical`, a 3D run is read on its central z slice.

For each ROI (:func:`region_profiles`) the table has, per analyte:

* ``cells``: ``n_cells``, ``area_mm2``, ``density_per_mm2``, ``share_<type>`` and
  ``cd45_share`` (cells whose profile expresses PTPRC);
* ``protein``: the mean per cell of the expected share of the analyte's gene in the cell's
  transcripts × 10⁴ (assumption: protein abundance proportional to mRNA; arbitrary units),
  for a DSP-like antibody panel (``PROTEIN_PANEL``: CD45, PanCK, CD8, CD68, PD-L1, SMA, …);
* ``rna``: the pooled expected counts per 10⁴ of the ROI (every gene of the panel), as a
  whole-ROI RNA profile is read;
* ``field``: the mean concentration of each substrate over the ROI's sites (the secreted
  proteins themselves), from ``fields.zarr``.

The values are expectations of the count model (no sampling noise), so they are exact
functions of the snapshot. :func:`compare_regions` puts two snapshot days side by side
(e.g. before and after a therapy) with differences and log2 fold changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory
from tmesim.model.roles import Role

from ._common import live_cells, open_run, snapshot_day, state_variables
from .clinical import _geometry, _types, section_cells
from .expression import ExpressionModel, expression_model

ROIS = ("tumor-core", "invasive-margin", "stroma", "whole")
DEFAULT_ROIS = ("tumor-core", "invasive-margin", "stroma")
MARGIN_UM = 200.0  # assumption: the invasive margin as a band of ±100 µm around the tumor border
MASK_WINDOW = 5  # sites; assumption: the tumor mask is read at the scale of a few cells
MASK_THRESHOLD = 0.3  # assumption: a window with ≥30 % cancer cells is tumor tissue
CD45_GENE, CD45_MIN = "PTPRC", 10.0  # a cell type is CD45+ when its PTPRC weight is ≥ this

# DSP-like protein panel: protein name -> gene of the panel
PROTEIN_PANEL: dict[str, str] = {
    "CD45": "PTPRC", "PanCK": "KRT8", "EpCAM": "EPCAM", "E-cadherin": "CDH1", "Vimentin": "VIM",
    "CD44": "CD44", "ALDH1": "ALDH1A1", "Ki-67": "MKI67", "PD-L1": "CD274", "CD3": "CD3E", "CD4": "CD4",
    "CD8": "CD8A", "GZMB": "GZMB", "PD-1": "PDCD1", "FOXP3": "FOXP3", "CD25": "IL2RA", "CD56": "NCAM1",
    "CD20": "MS4A1", "CD19": "CD19", "CD68": "CD68", "CD163": "CD163", "CD206": "MRC1", "CD14": "CD14",
    "CD11b": "ITGAM", "CD33": "CD33", "SMA": "ACTA2", "FAP": "FAP", "PDPN": "PDPN", "S100A4": "S100A4",
    "CD31": "PECAM1", "VEGFR2": "KDR", "Adiponectin": "ADIPOQ",
}


def parse_rois(rois: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """ROI names from a list or a comma-separated string; ``ModelError`` for unknown names."""
    if rois is None:
        return list(DEFAULT_ROIS)
    items = [r.strip() for r in (rois.split(",") if isinstance(rois, str) else rois)]
    items = [r for r in items if r]
    if not items:
        raise ModelError("roi", f"no region given; allowed: {', '.join(ROIS)}")
    for r in items:
        if r not in ROIS:
            raise ModelError("roi", f"unknown region {r!r}; allowed: {', '.join(ROIS)}")
    return list(dict.fromkeys(items))


def _signed_distance(rd: RunDirectory, cells: pd.DataFrame, geom: dict, margin: float) -> tuple[np.ndarray, float]:
    """Signed distance (µm, negative inside the tumor) on the section's sites (ny, nx)."""
    from scipy import ndimage

    nx, ny = geom["shape"][0], geom["shape"][1]
    site = geom["site"]
    live = section_cells(cells, geom)
    tumor = live[live["cell_type"].astype(str).isin(_types(geom, Role.CANCER))]
    grid = np.zeros((ny, nx), np.float64)
    ix = np.clip(np.floor(tumor["x_um"].to_numpy() / site).astype(int), 0, nx - 1)
    iy = np.clip(np.floor(tumor["y_um"].to_numpy() / site).astype(int), 0, ny - 1)
    grid[iy, ix] = 1.0
    if not grid.any():
        return np.full((ny, nx), np.inf), site  # no tumor: everything is stroma
    share = ndimage.uniform_filter(grid, size=MASK_WINDOW, mode="constant")
    mask = ndimage.binary_fill_holes(share >= MASK_THRESHOLD)
    if not mask.any():
        mask = grid > 0
    outside = ndimage.distance_transform_edt(~mask)
    inside = ndimage.distance_transform_edt(mask)
    return (outside - inside) * site, site


def _label(d: np.ndarray, margin: float) -> np.ndarray:
    half = margin / 2.0
    return np.where(d < -half, "tumor-core", np.where(d <= half, "invasive-margin", "stroma")).astype(object)


def region_labels(run_dir: str | Path | RunDirectory, cells: pd.DataFrame, margin: float = MARGIN_UM) -> np.ndarray:
    """Region of each cell of ``cells`` (tumor-core / invasive-margin / stroma); in a 3D run
    the mask is that of the central z slice and cells are labelled by their x, y."""
    rd = open_run(run_dir)
    geom = _geometry(rd)
    snap = cells if "status" in cells else cells.assign(status="live")
    d, site = _signed_distance(rd, snap, geom, margin)
    nx, ny = geom["shape"][0], geom["shape"][1]
    ix = np.clip(np.floor(cells["x_um"].to_numpy() / site).astype(int), 0, nx - 1)
    iy = np.clip(np.floor(cells["y_um"].to_numpy() / site).astype(int), 0, ny - 1)
    return _label(d[iy, ix], margin)


def _field_means(rd: RunDirectory, day: float, site_labels: np.ndarray, geom: dict) -> dict[str, dict[str, tuple[float, str]]]:
    """ROI -> substrate -> (mean concentration, unit) at ``day``."""
    if not (rd.path / "fields.zarr").exists():
        return {}
    ds = rd.fields()
    times = np.asarray(ds["time"].values, dtype=float)
    if not len(times):
        return {}
    ti = int(np.argmin(np.abs(times - day)))
    if abs(times[ti] - day) > 1e-6:
        return {}
    z = ds.sizes["z"] // 2
    out: dict[str, dict[str, tuple[float, str]]] = {}
    arrays = {name: (np.asarray(ds[name].isel(time=ti, z=z).values, dtype=np.float64), ds[name].attrs.get("units", ""))
              for name in ds.data_vars}
    for roi in ROIS:
        sel = np.ones(site_labels.shape, bool) if roi == "whole" else site_labels == roi
        out[roi] = {name: (float(a[sel].mean()) if sel.any() else float("nan"), unit) for name, (a, unit) in arrays.items()}
    return out


def _profile(rd: RunDirectory, day: float, rois: list[str], margin: float, em: ExpressionModel) -> pd.DataFrame:
    geom = _geometry(rd)
    cells = live_cells(rd, day)
    sec = section_cells(cells, geom).reset_index(drop=True)
    d, site = _signed_distance(rd, cells, geom, margin)
    site_labels = _label(d, margin)
    nx, ny = geom["shape"][0], geom["shape"][1]
    ix = np.clip(np.floor(sec["x_um"].to_numpy() / site).astype(int), 0, nx - 1)
    iy = np.clip(np.floor(sec["y_um"].to_numpy() / site).astype(int), 0, ny - 1)
    labels = site_labels[iy, ix]
    codes = pd.Categorical(sec["cell_type"].astype(str), categories=em.types).codes.astype(np.int64)
    variables = state_variables(rd, sec)
    frac = em.expected_fractions(codes, {v: sec[v].to_numpy(np.float64) for v in variables}) if len(sec) else \
        np.zeros((0, len(em.genes)))
    lib = em.library[codes] if len(sec) else np.zeros(0)
    gidx = {g: i for i, g in enumerate(em.genes)}
    cd45_types = {t for ti, t in enumerate(em.types) if CD45_GENE in gidx and em.base[ti, gidx[CD45_GENE]] >= CD45_MIN}
    fields = _field_means(rd, day, site_labels, geom)
    site_area = site * site / 1e6
    rows: list[tuple] = []
    for roi in rois:
        sel = np.ones(len(sec), bool) if roi == "whole" else labels == roi
        n = int(sel.sum())
        area = float((np.ones_like(site_labels, bool) if roi == "whole" else site_labels == roi).sum()) * site_area
        types = sec["cell_type"].astype(str).to_numpy()[sel]
        rows += [(roi, "cells", "n_cells", "cells", float(n)), (roi, "cells", "area_mm2", "mm2", area),
                 (roi, "cells", "density_per_mm2", "cells/mm2", n / area if area > 0 else float("nan"))]
        for t in em.types:
            rows.append((roi, "cells", f"share_{t}", "fraction", float((types == t).mean()) if n else float("nan")))
        rows.append((roi, "cells", "cd45_share", "fraction",
                     float(np.isin(types, list(cd45_types)).mean()) if n else float("nan")))
        f = frac[sel]
        for prot, gene in PROTEIN_PANEL.items():
            if gene in gidx:
                rows.append((roi, "protein", prot, "a.u. (per cell)",
                             float(f[:, gidx[gene]].mean() * 1e4) if n else float("nan")))
        pooled = (lib[sel, None] * f).sum(axis=0)
        total = pooled.sum()
        for g, gi in gidx.items():
            rows.append((roi, "rna", g, "counts per 10k", float(pooled[gi] / total * 1e4) if total > 0 else float("nan")))
        for name, (val, unit) in fields.get(roi, {}).items():
            rows.append((roi, "field", name, unit, val))
    df = pd.DataFrame(rows, columns=["roi", "kind", "analyte", "unit", "value"])
    df.insert(0, "day", float(day))
    return df


def _check_margin(margin: float) -> None:
    if not margin > 0:
        raise ModelError("margin", f"the invasive-margin width must be > 0 µm, got {margin}")


def region_profiles(run_dir: str | Path | RunDirectory, rois: str | list[str] | None = None,
                    day: float | None = None, margin: float = MARGIN_UM) -> pd.DataFrame:
    """Per-region means of one snapshot as a tidy table: ``day, roi, kind, analyte, unit, value``.

    ``rois``: names from ``ROIS`` (list or comma-separated; default tumor-core,
    invasive-margin, stroma); ``day``: a snapshot time (default: the last); ``margin``: width
    of the invasive-margin band in µm.
    """
    names = parse_rois(rois)
    _check_margin(margin)
    rd = open_run(run_dir)
    t = snapshot_day(rd, day)
    return _profile(rd, t, names, float(margin), expression_model(rd.model()))


def parse_days(days: str | tuple[float, float] | list[float]) -> tuple[float, float]:
    """Two snapshot days from ``"0,7"`` or a pair."""
    try:
        items = [float(x) for x in (days.split(",") if isinstance(days, str) else days)]
    except ValueError:
        raise ModelError("compare_days", f"expected two days such as '0,7', got {days!r}") from None
    if len(items) != 2:
        raise ModelError("compare_days", f"expected two days such as '0,7', got {days!r}")
    return items[0], items[1]


def compare_regions(run_dir: str | Path | RunDirectory, days: str | tuple[float, float] | list[float],
                    rois: str | list[str] | None = None, margin: float = MARGIN_UM) -> pd.DataFrame:
    """Region profiles at two snapshot days side by side (e.g. before and after a therapy).

    Columns: ``roi, kind, analyte, unit, day_before, value_before, day_after, value_after,
    difference`` (after − before) and ``log2_fold_change`` (log2 of after/before; NaN when
    either is 0 or missing). The regions are delineated anew at each day.
    """
    names = parse_rois(rois)
    a, b = parse_days(days)
    _check_margin(margin)
    rd = open_run(run_dir)
    ta, tb = snapshot_day(rd, a, "compare_days"), snapshot_day(rd, b, "compare_days")
    em = expression_model(rd.model())
    pa = _profile(rd, ta, names, float(margin), em).drop(columns="day")
    pb = _profile(rd, tb, names, float(margin), em).drop(columns="day")
    keys = ["roi", "kind", "analyte", "unit"]
    m = pa.merge(pb, on=keys, how="left", suffixes=("_before", "_after"), sort=False)
    m.insert(4, "day_before", ta)
    m.insert(6, "day_after", tb)
    m["difference"] = m["value_after"] - m["value_before"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = m["value_after"] / m["value_before"]
        m["log2_fold_change"] = np.where((m["value_before"] > 0) & (m["value_after"] > 0), np.log2(ratio), np.nan)
    return m
