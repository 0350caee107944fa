"""Prognostic markers of the review, per virtual patient, read at treatment start (day 0).

From the section (cells of the section, per mm² of section area; a 3D section is divided
by its depth in sites):

* ``mdsc_density``: MDSCs per mm² (the review states that MDSCs in breast tumors associate with metastasis and
  disease severity, citing review:160, which measured circulating MDSCs: see ``mdsc_blood``);
* ``treg_density``: FOXP3+ Tregs per mm² (review:164);
* ``m2_share``: M2 / (M1 + M2) macrophages (review:163: M2 macrophages associate with a worse prognosis);
* ``cd8_treg_ratio``: CD8 T cells / Tregs (review:164; paper: Miyashita et al., Breast Cancer Res 2015;17:124);
* ``caf_s100a4_pdpn_ratio``: S100A4+ / PDPN+ CAFs (review:154);
* ``cec_index``: circulating endothelial cells, proxy: dead vessel cells (normal and tumor
  endothelium) per 1000 live vessel cells in the section — CECs are shed by damaged,
  remodelling tumor vessels (review:33, 158); no model level tracks them in blood;

from the blood:

* ``ctc_count``: expected detectable CTCs per 7.5 mL of blood at day 0 (body model;
  CellSearch-like; review:80 (CTCs of metastatic breast cancer patients), paper: Cristofanilli et al., N Engl J
  Med 2004;351:781: ≥ 5 per 7.5 mL is prognostic);
* ``mdsc_blood``: circulating MDSCs, as a multiple of the subtype's typical patient. The
  clinical MDSC findings the review cites are blood counts (review:160-162: circulating
  MDSCs rise with stage and metastatic burden and predict poor outcome and poor response to
  chemotherapy). The model's MDSC influx into the tumor is proportional to that pool, so the
  marker is the patient's MDSC recruitment rate over the subtype model's: it grows with the
  patient's MDSC level and tumor burden (``cohort/data/patient_variability.csv``).

The tissue count ``mdsc_density`` is reported too. In the model it follows the space that
immune killing frees as much as the MDSC supply (more MDSCs enter an inflamed, debulked
section), so it is a weaker outcome marker than the blood level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmesim.model import Model
from tmesim.model.roles import Role

MARKERS: tuple[str, ...] = ("mdsc_blood", "mdsc_density", "treg_density", "m2_share", "cd8_treg_ratio",
                            "caf_s100a4_pdpn_ratio", "cec_index", "ctc_count")


def section_area_mm2(model: Model) -> float:
    dom = model.domain
    site = float(dom.site_size.value)
    shape = [int(x) for x in dom.shape]
    return shape[0] * shape[1] * site * site / 1e6


def _get(row: pd.Series, name: str) -> float:
    return float(row[name]) if name in row.index else 0.0


def _count(row: pd.Series, model: Model, *roles: str, tag: str | None = None, prefix: str = "") -> float:
    """Cells of the types with one of ``roles`` (and ``tag``) in a section row (``prefix``: dead_)."""
    return sum(_get(row, prefix + t) for t in model.types_with_role(*roles, tag=tag))


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def section_markers(row: pd.Series, model: Model) -> dict[str, float]:
    """Markers from one row of a section time course (counts per cell type)."""
    area = section_area_mm2(model)
    depth = int(model.domain.shape[2]) if int(model.domain.dims) == 3 else 1
    per_mm2 = 1.0 / (area * depth)
    m1, m2 = _count(row, model, Role.M1), _count(row, model, Role.M2)
    vessels = _count(row, model, Role.ENDOTHELIAL)
    dead_v = _count(row, model, Role.ENDOTHELIAL, prefix="dead_")
    return {
        "mdsc_density": _count(row, model, Role.MDSC) * per_mm2,
        "treg_density": _count(row, model, Role.TREG) * per_mm2,
        "m2_share": _ratio(m2, m1 + m2),
        "cd8_treg_ratio": _ratio(_count(row, model, Role.CD8_T), _count(row, model, Role.TREG)),
        "caf_s100a4_pdpn_ratio": _ratio(_count(row, model, Role.CAF, tag="s100a4"), _count(row, model, Role.CAF, tag="pdpn")),
        "cec_index": 1000.0 * _ratio(dead_v, vessels),
    }


def _mdsc_influx(model: Model) -> float:
    rates = [model.cell_type(t).behaviours.get("recruitment") for t in model.types_with_role(Role.MDSC)]
    rates = [r for r in rates if r is not None]
    return float(sum(r.value for r in rates)) if rates else float("nan")


def blood_mdsc(patient: Model, subtype: Model) -> float:
    """Circulating MDSCs of ``patient`` as a multiple of ``subtype``'s (the model it was drawn
    from): the ratio of their MDSC recruitment rates (NaN without MDSCs)."""
    ref = _mdsc_influx(subtype)
    return _mdsc_influx(patient) / ref if ref > 0 else float("nan")


def ctc_at(ctc: pd.DataFrame, day: float = 0.0) -> float:
    """Detectable CTCs per 7.5 mL at ``day`` from diagnosis (nearest body step)."""
    if ctc is None or not len(ctc):
        return float("nan")
    k = int(np.argmin(np.abs(ctc["days_from_diagnosis"].to_numpy(float) - day)))
    return float(ctc["detectable_per_7_5ml"].iloc[k])


__all__ = ["MARKERS", "blood_mdsc", "ctc_at", "section_area_mm2", "section_markers"]
