"""Clinical biomarkers of one cell snapshot, as a pathologist would read them off a section.

Densities are cells per mm² of a tissue section. For a 2D run the section is the whole
domain (``shape`` × ``site_size``); for a 3D run it is the central z slice of lattice sites.
Only live cells count. Every readout works for any model: a cell type the model lacks
gives a density of 0 and ratios/shares that need it give NaN, never an error.

Assumption: a cancer cell is "PD-L1 positive" when its ``pdl1`` state variable is ≥ 0.5
(``PDL1_POSITIVE``); the state variable is a 0–1 expression score, and 0.5 stands in for
an immunohistochemistry cut-off, which no rule of the model calibrates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmesim.io import ModelError, RunDirectory
from tmesim.model.roles import GROUPS, Role

PDL1_POSITIVE = 0.5  # assumption: pdl1 score ≥ 0.5 reads as PD-L1 positive (see module doc)

# readout name → roles of the cell types counted (roles: tmesim.model.roles)
DENSITY_ROLES: dict[str, tuple[str, ...]] = {
    "cd8_t_per_mm2": (Role.CD8_T,),
    "treg_per_mm2": (Role.TREG,),
    "m1_macrophage_per_mm2": (Role.M1,),
    "m2_macrophage_per_mm2": (Role.M2,),
    "macrophage_per_mm2": tuple(sorted(GROUPS["polarised_macrophage"])),
    "mdsc_per_mm2": (Role.MDSC,),
    "nk_per_mm2": (Role.NK,),
    "breg_per_mm2": (Role.B_CELL,),
    "neutrophil_per_mm2": tuple(sorted(GROUPS["neutrophils"])),
}
IMMUNE_ROLES = tuple(sorted(GROUPS["immune"]))
EMT_STATES = ("epithelial", "hybrid", "mesenchymal")


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is 0 (or either is NaN)."""
    if not np.isfinite(num) or not np.isfinite(den) or den == 0:
        return float("nan")
    return float(num) / float(den)


def _open(run_dir: str | Path | RunDirectory) -> RunDirectory:
    return run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)


def _geometry(rd: RunDirectory) -> dict:
    """Section geometry and vessel types from the run's resolved model."""
    model = rd.model()
    dom = model.domain
    site = float(dom.site_size.value if hasattr(dom.site_size, "value") else dom.site_size)  # µm
    shape = [int(x) for x in dom.shape]
    return {"dims": int(dom.dims), "site": site, "shape": shape,
            "area_mm2": shape[0] * shape[1] * site * site / 1e6,
            "vessels": [ct.name for ct in model.cell_types if getattr(ct, "vessel", False)],
            "roles": {ct.name: (ct.role, tuple(ct.tags)) for ct in model.cell_types}}


def _types(geom: dict, *roles: str, tag: str | None = None) -> list[str]:
    """Cell types of the run's model with one of ``roles`` (and ``tag``)."""
    return [n for n, (r, tags) in geom["roles"].items() if r in roles and (tag is None or tag in tags)]


def section_cells(cells: pd.DataFrame, geom: dict) -> pd.DataFrame:
    """Live cells of the section: all of a 2D run, the central z slice of a 3D run."""
    live = cells[cells["status"] == "live"]
    if geom["dims"] == 3:
        k = geom["shape"][2] // 2
        live = live[np.floor(live["z_um"].to_numpy() / geom["site"]).astype(int) == k]
    return live


def _readouts(geom: dict, cells: pd.DataFrame, day: float, metrics: pd.DataFrame | None) -> pd.Series:
    live, area, vessel_types = section_cells(cells, geom), geom["area_mm2"], geom["vessels"]
    counts = live["cell_type"].astype(str).value_counts()

    def n(*types: str) -> int:
        return int(sum(int(counts.get(t, 0)) for t in types))

    out: dict[str, float] = {"time_days": float(day), "section_area_mm2": area}
    for name, roles in DENSITY_ROLES.items():
        out[name] = n(*_types(geom, *roles)) / area
    out["cd8_treg_ratio"] = _ratio(n(*_types(geom, Role.CD8_T)), n(*_types(geom, Role.TREG)))
    out["m2_share_of_macrophages"] = _ratio(n(*_types(geom, Role.M2)), n(*_types(geom, Role.M1, Role.M2)))
    out["mdsc_share_of_immune"] = _ratio(n(*_types(geom, Role.MDSC)), n(*_types(geom, *IMMUNE_ROLES)))
    out["caf_s100a4_pdpn_ratio"] = _ratio(n(*_types(geom, Role.CAF, tag="s100a4")), n(*_types(geom, Role.CAF, tag="pdpn")))
    out["vessel_per_mm2"] = n(*vessel_types) / area

    hyp = float("nan")
    if metrics is not None and len(metrics) and "hypoxic_fraction" in metrics:
        row = (metrics["time_days"] - day).abs().idxmin()
        hyp = float(metrics.loc[row, "hypoxic_fraction"])
    out["hypoxic_fraction"] = hyp

    cancer = live[live["cell_type"].astype(str).isin(_types(geom, Role.CANCER))]
    out["tumor_cells"] = float(len(cancer))
    emt = cancer["state"].astype(str).value_counts() if "state" in cancer else pd.Series(dtype=int)
    n_emt = sum(int(emt.get(s, 0)) for s in EMT_STATES)
    for s in EMT_STATES:
        out[f"emt_{s}_share"] = _ratio(int(emt.get(s, 0)), n_emt)
    pdl1 = cancer["pdl1"].to_numpy(dtype=float) if "pdl1" in cancer else np.array([])
    out["pdl1_mean_cancer"] = float(pdl1.mean()) if pdl1.size else float("nan")
    out["pdl1_positive_share"] = float((pdl1 >= PDL1_POSITIVE).mean()) if pdl1.size else float("nan")
    return pd.Series(out, name=float(day))


def _metrics(rd: RunDirectory) -> pd.DataFrame | None:
    return rd.metrics() if (rd.path / "metrics.parquet").exists() else None


def clinical_readouts(run_dir: str | Path | RunDirectory, day: float | None = None) -> pd.Series:
    """Clinical readouts of the snapshot nearest ``day`` (default: the last one).

    Raises ``ModelError`` when ``run_dir`` is not a run directory or has no snapshot.
    """
    rd = _open(run_dir)
    times = rd.snapshot_times()
    if not times:
        raise ModelError("run", f"{str(rd.path)!r} has no cell snapshots")
    t = times[-1] if day is None else min(times, key=lambda x: abs(x - day))
    out = _readouts(_geometry(rd), rd.cells(t), t, _metrics(rd))
    if rd.has_body:
        # Runs made with --body: the patient's blood at diagnosis, as CellSearch reports it.
        ctc = rd.body("ctc")
        at = ctc.iloc[int(ctc["days_from_diagnosis"].abs().to_numpy().argmin())]
        out["ctc_per_7_5ml_at_diagnosis"] = float(at["detectable_per_7_5ml"])
        out["ctc_all_per_7_5ml_at_diagnosis"] = float(at["ctc_per_7_5ml"])
        out["ctc_clusters_cells_per_7_5ml_at_diagnosis"] = float(at["cluster_cells_per_7_5ml"])
    return out


def clinical_timecourse(run_dir: str | Path | RunDirectory) -> pd.DataFrame:
    """One row of :func:`clinical_readouts` per cell snapshot, ordered by time."""
    rd = _open(run_dir)
    times = rd.snapshot_times()
    if not times:
        raise ModelError("run", f"{str(rd.path)!r} has no cell snapshots")
    metrics, geom = _metrics(rd), _geometry(rd)
    rows = [_readouts(geom, rd.cells(t), t, metrics) for t in times]
    return pd.DataFrame(rows).reset_index(drop=True)
