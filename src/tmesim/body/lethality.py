"""When a patient's cancer kills: the whole body's lethal burden, or the failure of one organ.

Two ways, whichever comes first:

* **burden**: every lesion together (the primary in place and every organ's metastatic cells)
  reaches ``body.primary.carrying_capacity`` (the catalog's ~1e12 cells, about 1 kg);
* **organ failure**: one organ's metastatic cells reach its ``lethal_cells``, where an organ
  fails at a far smaller volume than the whole body's burden. The brain is the case: the skull
  holds a fixed volume (Monro–Kellie doctrine, Mokri, Neurology 2001;56:1746), so a metastasis
  with its peritumoral oedema raises intracranial pressure and herniates the brain at tens of
  cm³ (the catalog's value and its sources are in ``catalog.yaml``). Organs without
  ``lethal_cells`` count only towards the burden (liver and lung fail at volumes near or
  above it: docs/cohorts.md, "Death").

One definition shared by the body model's life history (:class:`tmesim.body.Patient`) and the
metastatic-setting trials (:mod:`tmesim.cohort.metastatic`), so a patient dies of the same
disease in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tmesim.model.body import Body

BURDEN = "burden"  # cause of death: the whole body's lethal burden


def organ_limits(body: Body, names: Sequence[str]) -> np.ndarray:
    """Lethal cells per name (an organ's ``lethal_cells``; inf for an organ without one and for
    names that are not organs, e.g. the primary)."""
    out = np.full(len(names), np.inf)
    for k, name in enumerate(names):
        org = body.organs.get(name)  # type: ignore[call-overload]
        if org is not None and org.lethal_cells is not None:
            out[k] = float(org.lethal_cells.value)
    return out


def lethal(body: Body, cells: np.ndarray, names: Sequence[str], limits: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``cells`` (rows: times; columns: the lesions ``names``, organs or the primary):
    True where the disease is lethal (burden or an organ's failure). ``limits``: the names'
    :func:`organ_limits`, when a caller in a loop computed them once."""
    c = np.atleast_2d(np.asarray(cells, float))
    lim = organ_limits(body, names) if limits is None else limits
    return (c.sum(axis=1) >= body.primary.carrying_capacity.value) | (c >= lim[None, :]).any(axis=1)


def cause_of_death(body: Body, cells: np.ndarray, names: Sequence[str]) -> str:
    """Why one lethal row of lesion cells kills: the failing organ's name, else ``burden``."""
    c = np.asarray(cells, float).ravel()
    failing = [n for n, x, lim in zip(names, c, organ_limits(body, names), strict=True) if x >= lim]
    return failing[0] if failing else BURDEN


__all__ = ["BURDEN", "cause_of_death", "lethal", "organ_limits"]
