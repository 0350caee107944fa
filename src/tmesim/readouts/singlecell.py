"""Synthetic single-cell and spatial transcriptomics of a run snapshot, as AnnData.

* :func:`scrna_anndata` samples ``n_cells`` live cells of a snapshot (without replacement
  when the snapshot has enough, else with replacement, recorded in ``uns``), as a dissociated
  single-cell experiment would, and draws their counts from the count model of
  :mod:`tmesim.readouts.expression` (negative binomial with per-type and per-state means,
  library-size variation and dropout).
* :func:`spatial_anndata` keeps every live cell with its position: ``obsm["spatial"]`` holds
  x, y (and z for a 3D run) in µm, so squidpy's graph tools run on it directly.

Both give ``X`` = counts (CSR, float32), ``var`` = the gene panel (``kind``: housekeeping /
marker / cytokine; ``substrate`` for cytokine genes), ``obs`` = the true ``cell_type`` and
``state`` (categorical), the state variables, position, ``region`` (tumor-core /
invasive-margin / stroma, see :mod:`tmesim.readouts.regions`), drawn ``library_size`` and
``total_counts``, and ``uns["tmesim"]`` = provenance (run, snapshot day, seed, count model,
data-file hash). Same run, day and seed give identical files.

anndata is imported only when these functions run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory

from ._common import generator, live_cells, open_run, provenance, snapshot_day, state_variables
from .expression import COUNT_MODEL, ExpressionModel, data_hash, expression_model

SCRNA_PURPOSE = 0x5C1  # RNG stream of the scRNA sampling
SPATIAL_PURPOSE = 0x5A7  # RNG stream of the spatial counts


def _require(module: str, extra: str = "readouts") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelError(module, f"this readout needs the {module!r} package; install it with "
                                 f"pip install 'tmesim[{extra}]'") from exc


def _build(rd: RunDirectory, cells: pd.DataFrame, em: ExpressionModel, rng: np.random.Generator,
           uns: dict[str, Any], spatial: bool) -> Any:
    ad = _require("anndata")
    import scipy.sparse as sp

    from .regions import region_labels

    codes = pd.Categorical(cells["cell_type"].astype(str), categories=em.types).codes
    if (codes < 0).any():  # pragma: no cover - snapshot types come from the same model
        raise ModelError("cell_type", "snapshot has cell types the run's model does not declare")
    variables = state_variables(rd, cells)
    vals = {v: cells[v].to_numpy(dtype=np.float64) for v in variables}
    counts, lib = em.sample_counts(codes.astype(np.int64), vals, rng)
    obs = pd.DataFrame({
        "uid": cells["uid"].to_numpy(np.int64),
        "cell_type": pd.Categorical(cells["cell_type"].astype(str), categories=em.types),
        "state": pd.Categorical(cells["state"].astype(str)),
        **{v: cells[v].to_numpy(np.float32) for v in variables},
        "x_um": cells["x_um"].to_numpy(np.float64), "y_um": cells["y_um"].to_numpy(np.float64),
        "z_um": cells["z_um"].to_numpy(np.float64),
        "region": pd.Categorical(region_labels(rd, cells), categories=["tumor-core", "invasive-margin", "stroma"]),
        "library_size": lib.astype(np.float32),
        "total_counts": counts.sum(axis=1).astype(np.int64),
    })
    obs.index = [f"cell{i}_uid{u}" for i, u in enumerate(obs["uid"])]
    var = pd.DataFrame({"kind": pd.Categorical(em.gene_kind, categories=["housekeeping", "marker", "cytokine"]),
                        "substrate": em.gene_substrate}, index=pd.Index(em.genes, name="gene"))
    a = ad.AnnData(X=sp.csr_matrix(counts.astype(np.float32)), obs=obs, var=var)
    if spatial:
        dims = int(rd.config["model"]["domain"]["dims"])
        cols = ["x_um", "y_um", "z_um"][:dims]
        a.obsm["spatial"] = cells[cols].to_numpy(np.float64)
    uns = dict(uns)
    uns["count_model"] = dict(COUNT_MODEL)
    uns["data_sha256"] = data_hash()
    uns["fallback_profiles"] = dict(em.fallback)
    a.uns["tmesim"] = uns
    return a


def scrna_anndata(run_dir: str | Path | RunDirectory, n_cells: int = 5000, day: float | None = None,
                  seed: int = 0) -> Any:
    """A synthetic single-cell RNA-seq dataset (AnnData) of ``n_cells`` cells of one snapshot.

    ``day`` must be a snapshot time of the run (default: the last). Raises ``ModelError``
    for a missing run directory or day, ``n_cells`` ≤ 0, or a snapshot without live cells.
    """
    if int(n_cells) <= 0:
        raise ModelError("cells", f"number of cells must be a positive integer, got {n_cells}")
    rd = open_run(run_dir)
    t = snapshot_day(rd, day)
    cells = live_cells(rd, t)
    if not len(cells):
        raise ModelError("day", f"the snapshot at day {t:g} has no live cells")
    rng = generator(seed, SCRNA_PURPOSE)
    replace = int(n_cells) > len(cells)
    pick = np.sort(rng.choice(len(cells), size=int(n_cells), replace=replace))
    sample = cells.iloc[pick].reset_index(drop=True)
    em = expression_model(rd.model())
    uns = provenance(rd, "scrna", t, seed=int(seed), n_cells=int(n_cells), n_live_cells=int(len(cells)),
                     sampled_with_replacement=bool(replace),
                     sampling="uniform over the snapshot's live cells (all types), sorted by snapshot row")
    return _build(rd, sample, em, rng, uns, spatial=False)


def spatial_anndata(run_dir: str | Path | RunDirectory, day: float | None = None, seed: int = 0) -> Any:
    """Every live cell of one snapshot with counts and ``obsm["spatial"]`` (µm), as AnnData."""
    rd = open_run(run_dir)
    t = snapshot_day(rd, day)
    cells = live_cells(rd, t)
    if not len(cells):
        raise ModelError("day", f"the snapshot at day {t:g} has no live cells")
    em = expression_model(rd.model())
    uns = provenance(rd, "spatial", t, seed=int(seed), n_cells=int(len(cells)),
                     spatial_units="um", spatial_dims=int(rd.config["model"]["domain"]["dims"]))
    return _build(rd, cells, em, generator(seed, SPATIAL_PURPOSE), uns, spatial=True)


def write_h5ad(adata: Any, out: str | Path) -> Path:
    """Write ``adata`` to ``out`` atomically (``ModelError`` naming ``out`` if its folder is missing)."""
    from tmesim.io.atomic import atomic_write

    out = Path(out)
    if not out.parent.is_dir():
        raise ModelError("out", f"folder {str(out.parent)!r} does not exist")
    if out.suffix != ".h5ad":
        raise ModelError("out", f"{str(out)!r} must end in .h5ad")
    atomic_write(out, lambda p: adata.write_h5ad(p))
    return out
