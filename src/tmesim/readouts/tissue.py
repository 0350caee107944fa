"""Simulated vs real sections, read with the same code.

Both sides become one table of cells (``x_um``, ``y_um``, ``coarse``: the IMC coarse
classes Tumor, Stroma, T, Macrophage, Endothelial, B, Other) and go through
:func:`section_statistics`:

* ``share_<class>``: composition;
* ``nhood_z_<a>_<b>``: squidpy neighbourhood-enrichment z-scores (Delaunay neighbours,
  200 permutations, seed 0) for T–Tumor, Macrophage–Tumor, T–Stroma, Tumor–Tumor;
* ``nn_<a>_to_<b>_um``: median distance from each cell of class a to the nearest of class b
  (T→Tumor, Macrophage→Tumor, Tumor→Endothelial, T→Endothelial);
* ``cross_k_T_Tumor_<r>``: the cross-type pair-correlation ratio K_T,Tumor(r)/(π r²): the
  mean number of tumor cells within r of a T cell divided by what the tumor cells' overall
  density would put there (1 = independence, < 1 = T cells avoid tumor, > 1 = attracted),
  r = 30, 60, 120 µm; no edge correction (assumption: both sections are read the same way);
* the immune architecture of :mod:`tmesim.readouts.architecture` (metrics and archetype).

A simulated cell's class is :func:`tmesim.readouts.reference.coarse_class` of its role
(CD8, CD4 and regulatory T cells are ``T``); a real cell's class is the file's
``coarse_type`` column when it has one, else the role of the catalog cell type its label
maps to, through the same function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory
from tmesim.model.roles import GROUPS, Role

from .architecture import architecture
from .reference import coarse_class

CLASSES = ("Tumor", "Stroma", "T", "Macrophage", "Endothelial", "B", "Other")
_IMMUNE = {"T", "Macrophage", "B"}
_COMPARTMENT = {"Tumor": "tumor", "T": "immune", "Macrophage": "immune", "B": "immune", "Stroma": "stroma",
                "Endothelial": "endothelial"}
NHOOD_PAIRS = (("T", "Tumor"), ("Macrophage", "Tumor"), ("T", "Stroma"), ("Tumor", "Tumor"))
NN_PAIRS = (("T", "Tumor"), ("Macrophage", "Tumor"), ("Tumor", "Endothelial"), ("T", "Endothelial"))
RADII_UM = (30.0, 60.0, 120.0)
N_PERMS = 200


def simulated_section(cells: pd.DataFrame, roles: dict[str, str | None],
                      vessel_types: set[str] | None = None) -> pd.DataFrame:
    """Live cells of a run snapshot as a section table (x_um, y_um, coarse, compartment, t_cell).

    ``roles`` maps each cell type to its model role (``CellType.role``); classes follow
    :func:`tmesim.readouts.reference.coarse_class`, immune cells are the roles of
    ``GROUPS["immune"]`` and T cells for distances are CD8 T cells.
    """
    live = cells[cells["status"] == "live"] if "status" in cells else cells
    types = live["cell_type"].astype(str)
    role = types.map(lambda t: roles.get(t))
    coarse = role.map(coarse_class)
    if vessel_types:
        coarse = coarse.where(~types.isin(vessel_types), "Endothelial")
    other_immune = role.isin(GROUPS["immune"]) & (coarse == "Other")
    comp = coarse.map(_COMPARTMENT).fillna("stroma").where(~other_immune, "immune")
    return pd.DataFrame({"x_um": live["x_um"].to_numpy(float), "y_um": live["y_um"].to_numpy(float),
                         "coarse": coarse.to_numpy(), "compartment": comp.to_numpy(),
                         "t_cell": (role == Role.CD8_T).to_numpy()})


def real_section(cells: pd.DataFrame) -> pd.DataFrame:
    """A real section (columns x_um, y_um and ``coarse_type`` or ``cell_type``) as a section table."""
    if "coarse_type" in cells:
        coarse = cells["coarse_type"].astype(str).replace({"B_T_mixed": "B"})
        coarse = coarse.where(coarse.isin(CLASSES), "Other")
    elif "role" in cells:
        coarse = cells["role"].map(coarse_class)
    else:
        raise ModelError("tissue", "the section needs a coarse_type or role column")
    return pd.DataFrame({"x_um": cells["x_um"].to_numpy(float), "y_um": cells["y_um"].to_numpy(float),
                         "coarse": coarse.to_numpy(), "compartment": coarse.map(_COMPARTMENT).fillna("stroma").to_numpy(),
                         "t_cell": (coarse == "T").to_numpy()})


def _nhood(sec: pd.DataFrame) -> dict[str, float]:
    out = {f"nhood_z_{a}_{b}": float("nan") for a, b in NHOOD_PAIRS}
    try:
        import anndata as ad
        import squidpy as sq
    except ImportError:  # the readouts extra is optional; the other statistics need no squidpy
        return out
    present = sec["coarse"].value_counts()
    if len(present) < 2 or len(sec) < 10:
        return out
    a = ad.AnnData(obs=pd.DataFrame({"coarse": pd.Categorical(sec["coarse"])}, index=[str(i) for i in range(len(sec))]))
    a.obsm["spatial"] = sec[["x_um", "y_um"]].to_numpy(float)
    sq.gr.spatial_neighbors(a, coord_type="generic", delaunay=True)
    sq.gr.nhood_enrichment(a, cluster_key="coarse", seed=0, n_perms=N_PERMS, show_progress_bar=False)
    cats = list(a.obs["coarse"].cat.categories)
    z = pd.DataFrame(a.uns["coarse_nhood_enrichment"]["zscore"], index=cats, columns=cats)
    for x, y in NHOOD_PAIRS:
        if x in cats and y in cats:
            out[f"nhood_z_{x}_{y}"] = float(z.loc[x, y])
    return out


def section_statistics(sec: pd.DataFrame, nhood: bool = True) -> pd.Series:
    """Every statistic of the module docstring for one section table."""
    from scipy.spatial import cKDTree

    n = len(sec)
    out: dict[str, Any] = {"n_cells": n}
    counts = sec["coarse"].value_counts()
    for c in CLASSES:
        out[f"share_{c}"] = float(counts.get(c, 0) / n) if n else float("nan")
    xy = sec[["x_um", "y_um"]].to_numpy(float)
    cls = sec["coarse"].to_numpy()
    for a, b in NN_PAIRS:
        sa, sb = cls == a, cls == b
        if sa.any() and sb.any():
            d, _ = cKDTree(xy[sb]).query(xy[sa])
            out[f"nn_{a}_to_{b}_um"] = float(np.median(d))
        else:
            out[f"nn_{a}_to_{b}_um"] = float("nan")
    t, tum = cls == "T", cls == "Tumor"
    area = float(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])) if n > 1 else 0.0
    for r in RADII_UM:
        if t.any() and tum.any() and area > 0:
            k = cKDTree(xy[t]).count_neighbors(cKDTree(xy[tum]), r) / t.sum()
            out[f"cross_k_T_Tumor_{r:g}"] = float(k / (tum.sum() / area * np.pi * r * r))
        else:
            out[f"cross_k_T_Tumor_{r:g}"] = float("nan")
    if nhood:
        out.update(_nhood(sec))
    out.update(architecture(sec).to_dict())
    return pd.Series(out)


def _run_section(rd: RunDirectory, day: float | None) -> tuple[pd.DataFrame, float]:
    from ._common import snapshot_day

    d = snapshot_day(rd, day)
    model = rd.model()
    roles = {ct.name: ct.role for ct in model.cell_types}
    vessels = {ct.name for ct in model.cell_types if ct.vessel}
    return simulated_section(rd.cells(d), roles, vessels), d


def tissue_section(path: str | Path, sample: str | None = None, labels: str | Path | None = None) -> pd.DataFrame:
    """A real section from a tissue file (the same reader as ``tmesim run --from-tissue``)."""
    from tmesim.io.tissue import read_label_mapping, read_tissue

    mapping = read_label_mapping(labels)
    cells = read_tissue(path, mapping, sample)
    raw = pd.read_csv(path) if str(path).endswith((".csv", ".csv.gz")) else None
    if raw is not None and "coarse_type" in raw.columns and mapping.label_column in raw.columns:
        # the file's own coarse classes for the same rows (IMC tables carry them)
        lut = raw.drop_duplicates(mapping.label_column).set_index(mapping.label_column)["coarse_type"].astype(str)
        cells["coarse_type"] = cells["label"].map(lut).fillna("Other")
    else:
        model_roles = _catalog_roles()
        cells["role"] = cells["label"].map(lambda v: model_roles.get(mapping.map.get(v) or ""))
    return real_section(cells)


def _catalog_roles() -> dict[str, str | None]:
    """Roles of the catalog's cell types (what the shipped label mappings name)."""
    from tmesim.model import load_model
    from tmesim.presets import preset_path

    return {ct.name: ct.role for ct in load_model(preset_path("catalog")).cell_types}


def compare_tissue(run_dir: str | Path | RunDirectory, tissue: str | Path, sample: str | None = None,
                   day: float | None = None, labels: str | Path | None = None) -> pd.DataFrame:
    """Statistics of the simulated snapshot and of the real section side by side.

    ``sample`` defaults to the sample a ``--from-tissue`` run started from. Columns:
    ``simulated``, ``tissue``, ``difference`` (simulated − tissue, numeric rows).
    """
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    origin = rd.config.get("origin") or {}
    if sample is None and origin.get("kind") == "tissue":
        sample = origin.get("sample")
    sim, d = _run_section(rd, day)
    real = tissue_section(tissue, sample, labels)
    a, b = section_statistics(sim), section_statistics(real)
    tab = pd.DataFrame({"simulated": a, "tissue": b})
    num = pd.to_numeric(tab["simulated"], errors="coerce") - pd.to_numeric(tab["tissue"], errors="coerce")
    tab["difference"] = num
    tab.attrs.update({"day": d, "sample": sample, "run": str(rd.path), "tissue": str(tissue)})
    tab.attrs["sections"] = (sim, real)
    return tab


def cohort_statistics(tissue: str | Path, labels: str | Path | None = None, nhood: bool = False) -> pd.DataFrame:
    """:func:`section_statistics` for every sample of a tissue file (rows: samples)."""
    from tmesim.io.tissue import read_label_mapping

    mapping = read_label_mapping(labels)
    raw = pd.read_csv(tissue)
    rows = {}
    for sample, g in raw.groupby(mapping.sample_column or "sample"):
        g = g.rename(columns={mapping.x_column: "x_um", mapping.y_column: "y_um"})
        rows[str(sample)] = section_statistics(real_section(g), nhood=nhood)
    return pd.DataFrame(rows).T


def compare_with_cohort(run_dir: str | Path | RunDirectory, tissue: str | Path, day: float | None = None,
                        labels: str | Path | None = None) -> pd.DataFrame:
    """A simulated section's statistics against the cohort's 5th/25th/50th/75th/95th percentiles."""
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    sim, d = _run_section(rd, day)
    s = section_statistics(sim, nhood=False)
    coh = cohort_statistics(tissue, labels)
    rows = []
    for k, v in s.items():
        if k == "archetype":
            share = (coh["archetype"] == v).mean()
            rows.append({"statistic": k, "simulated": v, "cohort_p05": "", "cohort_median": f"{share:.0%} of samples",
                         "cohort_p95": "", "within_5_95": True})
            continue
        col = pd.to_numeric(coh.get(k), errors="coerce") if k in coh else None
        if col is None or col.notna().sum() == 0:
            continue
        q = col.quantile([0.05, 0.5, 0.95]).to_numpy()
        rows.append({"statistic": k, "simulated": float(v), "cohort_p05": q[0], "cohort_median": q[1],
                     "cohort_p95": q[2], "within_5_95": bool(q[0] <= float(v) <= q[2])})
    out = pd.DataFrame(rows).set_index("statistic")
    out.attrs["day"] = d
    return out
