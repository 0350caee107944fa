"""What a cell type *is*: roles (one per cell type) and role groups, so that code finds cells
by what they are instead of by a catalog name.

A model declares each cell type's ``role`` (and optional free-form ``tags`` for finer
distinctions, e.g. ``s100a4`` / ``pdpn`` subsets of CAFs); readouts, markers, palettes and
the body model select cells through :meth:`tmesim.model.Model.types_with_role`. A cell type
without a ``role:`` takes the role and tags of the catalog cell type of the same name
(``presets/catalog.yaml``), if there is one; otherwise it has none and no role-based
readout counts it.
"""

from __future__ import annotations

import difflib
from enum import StrEnum
from functools import lru_cache
from typing import Any

import yaml

from tmesim._resources import data_path


class Role(StrEnum):
    """The roles a cell type can have (values are what model files write after ``role:``)."""

    CANCER = "cancer"
    ENDOTHELIAL = "endothelial"
    FIBROBLAST = "fibroblast"
    CAF = "caf"
    MSC = "msc"
    ADIPOCYTE = "adipocyte"
    CAA = "caa"
    PLATELET = "platelet"
    MONOCYTE = "monocyte"
    MACROPHAGE = "macrophage"
    M1 = "m1"
    M2 = "m2"
    NEUTROPHIL = "neutrophil"
    N1 = "n1"
    N2 = "n2"
    MDSC = "mdsc"
    CD8_T = "cd8_t"
    CD4_T = "cd4_t"
    TREG = "treg"
    B_CELL = "b_cell"
    NK = "nk"
    PROGENITOR = "progenitor"
    RESIDENT = "resident"


ROLES: dict[str, str] = {
    Role.CANCER: "tumour (carcinoma) cell",
    Role.ENDOTHELIAL: "vessel wall (endothelial) cell, normal or tumour endothelium",
    Role.FIBROBLAST: "fibroblast (normal, or fibroblast-like such as hepatic stellate cells)",
    Role.CAF: "cancer-associated fibroblast",
    Role.MSC: "mesenchymal stem/stromal cell",
    Role.ADIPOCYTE: "adipocyte",
    Role.CAA: "cancer-associated adipocyte",
    Role.PLATELET: "platelet",
    Role.MONOCYTE: "monocyte (circulating or just recruited)",
    Role.MACROPHAGE: "macrophage not classed as M1 or M2 (e.g. tissue-resident)",
    Role.M1: "M1 (pro-inflammatory, anti-tumour) macrophage",
    Role.M2: "M2 (tumour-promoting) macrophage",
    Role.NEUTROPHIL: "neutrophil not classed as N1 or N2",
    Role.N1: "N1 (anti-tumour) neutrophil",
    Role.N2: "N2 (tumour-promoting) neutrophil",
    Role.MDSC: "myeloid-derived suppressor cell",
    Role.CD8_T: "CD8 cytotoxic T cell",
    Role.CD4_T: "CD4 helper T cell (Th1, Th2, ...)",
    Role.TREG: "regulatory T cell (FOXP3+)",
    Role.B_CELL: "B cell (including regulatory B cells)",
    Role.NK: "natural killer cell",
    Role.PROGENITOR: "bone-marrow-derived progenitor (haematopoietic, osteoclast precursor, BMDC)",
    Role.RESIDENT: "organ-resident parenchymal or matrix cell (hepatocyte, neuron, osteoblast, ...)",
}

# Role groups that readouts and markers count together.
GROUPS: dict[str, frozenset[str]] = {
    "immune": frozenset({Role.MONOCYTE, Role.MACROPHAGE, Role.M1, Role.M2, Role.NEUTROPHIL, Role.N1, Role.N2,
                         Role.MDSC, Role.CD8_T, Role.CD4_T, Role.TREG, Role.B_CELL, Role.NK}),
    "polarised_macrophage": frozenset({Role.M1, Role.M2}),
    "neutrophils": frozenset({Role.NEUTROPHIL, Role.N1, Role.N2}),
    "t_cell": frozenset({Role.CD8_T, Role.CD4_T, Role.TREG}),
    "stroma": frozenset({Role.FIBROBLAST, Role.CAF, Role.MSC, Role.ADIPOCYTE, Role.CAA}),
}


def check_role(role: str, field: str) -> None:
    """``role`` must be one of :data:`ROLES` (a ``ModelError`` naming ``field`` otherwise)."""
    if role not in ROLES:  # ROLES is keyed by the Role values
        from .errors import ModelError

        close = difflib.get_close_matches(role, [str(r) for r in ROLES], n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ModelError(field, f"unknown role {role!r}; allowed: {', '.join(ROLES)}.{hint}")


@lru_cache(maxsize=1)
def catalog_roles() -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Role and tags of each cell type of the shipped catalog, by name (read once)."""
    data: dict[str, Any] = yaml.safe_load(data_path("tmesim.presets", "catalog.yaml").read_text())
    return {ct["name"]: (ct.get("role"), tuple(ct.get("tags") or ())) for ct in data.get("cell_types") or []}


__all__ = ["GROUPS", "ROLES", "Role", "catalog_roles", "check_role"]
