"""Comparison with real tissue: cell-type make-up of the Jackson et al. 2020 IMC cohort.

Jackson HW, Fischer JR, et al. "The single-cell pathology landscape of breast cancer."
Nature 578:615–620 (2020), doi:10.1038/s41586-019-1876-x — the 100-image Basel subset,
one TMA core per patient (see ``shared/data/real/README.md``).

The IMC ``coarse_type`` column has B, B_T_mixed, T, Macrophage, Endothelial, Stroma, Tumor;
``B_T_mixed`` (mixed B and T cell clusters, about 1 % of cells) is counted as B here, as
the data README does ("B / B+T 1.5 %"). The IMC panel has no CD4/CD8/FOXP3, so only these
coarse classes can be compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory
from tmesim.model.roles import GROUPS, Role

COARSE_TYPES = ("Tumor", "Stroma", "T", "Macrophage", "Endothelial", "B")
IMC_FILE = "jackson2020_basel_imc_cells.csv.gz"
_IMC_MERGE = {"B_T_mixed": "B"}

# Coarse IMC class of each cell role (tmesim.model.roles); other roles are "Other".
ROLE_CLASSES: dict[str, str] = {
    Role.CANCER: "Tumor",
    **dict.fromkeys(sorted(GROUPS["stroma"]), "Stroma"),
    **dict.fromkeys(sorted(GROUPS["t_cell"]), "T"),
    **dict.fromkeys((Role.MONOCYTE, Role.MACROPHAGE, Role.M1, Role.M2), "Macrophage"),
    Role.ENDOTHELIAL: "Endothelial",
    Role.B_CELL: "B",
}


def coarse_class(role: str | None) -> str:
    """The IMC coarse class of a cell role (``Other`` for neutrophils, MDSCs, NK, platelets, …)."""
    return ROLE_CLASSES.get(role or "", "Other")


def default_imc_path() -> Path:
    """``$TMESIM_SHARED/data/real/<file>`` if set, else ``shared/data/real/<file>`` in the
    working directory or the nearest folder above it that has one.

    The IMC table is public data that tmesim may use but not redistribute (see the data
    README), so it is not package data; it is looked up next to where tmesim is used.
    """
    env = os.environ.get("TMESIM_SHARED")
    if env:
        return Path(env) / "data" / "real" / IMC_FILE
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / "shared" / "data" / "real" / IMC_FILE
        if candidate.is_file():
            return candidate
    return here / "shared" / "data" / "real" / IMC_FILE


def imc_composition(path: str | Path | None = None, normalize: bool = True) -> pd.DataFrame:
    """Share of each coarse type per patient (rows: ``patient_id``; columns: ``COARSE_TYPES``).

    ``normalize=False`` gives cell counts instead of shares.

    Raises ``ModelError`` when the file is missing or lacks the needed columns.
    """
    p = Path(path) if path is not None else default_imc_path()
    if not p.is_file():
        raise ModelError("imc", f"IMC reference file not found: {str(p)!r} "
                                "(set TMESIM_SHARED to the folder holding data/real/)")
    df = pd.read_csv(p, usecols=lambda c: c in ("patient_id", "coarse_type"))
    if not {"patient_id", "coarse_type"} <= set(df.columns):
        raise ModelError("imc", f"{str(p)!r} needs columns patient_id and coarse_type")
    coarse = df["coarse_type"].replace(_IMC_MERGE)
    tab = pd.crosstab(df["patient_id"], coarse).reindex(columns=list(COARSE_TYPES), fill_value=0)
    return tab.div(tab.sum(axis=1), axis=0) if normalize else tab


def compare_composition(run_dir: str | Path | RunDirectory, day: float | None = None,
                        imc_path: str | Path | None = None) -> pd.DataFrame:
    """Simulated share of each coarse class (live cells of the section) against the IMC cohort.

    Columns: ``simulated_share``, ``imc_median``, ``imc_q25``, ``imc_q75``, ``imc_p05``,
    ``imc_p95``, ``within_imc_5_95`` (bool); index: ``COARSE_TYPES`` then ``Other``
    (simulated types with no IMC class; its IMC columns are NaN and the flag is False).
    """
    from .clinical import _geometry, section_cells

    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    imc = imc_composition(imc_path)
    geom = _geometry(rd)
    live = section_cells(rd.cells(day), geom)
    classes = live["cell_type"].astype(str).map({n: coarse_class(r) for n, (r, _) in geom["roles"].items()})
    counts = classes.value_counts()
    total = int(counts.sum())
    rows = []
    for cls in (*COARSE_TYPES, "Other"):
        sim = counts.get(cls, 0) / total if total else float("nan")
        if cls in imc:
            q = imc[cls].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).to_numpy()
        else:
            q = np.full(5, np.nan)
        within = bool(np.isfinite(sim) and np.isfinite(q[0]) and q[0] <= sim <= q[4])
        rows.append({"coarse_type": cls, "simulated_share": float(sim), "imc_median": q[2],
                     "imc_q25": q[1], "imc_q75": q[3], "imc_p05": q[0], "imc_p95": q[4],
                     "within_imc_5_95": within})
    return pd.DataFrame(rows).set_index("coarse_type")
