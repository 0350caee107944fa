"""The expected initial state of a model for the mean-field engine, from its placements alone.

The spatial engine fills each placement's region with cells drawn at random; the mean-field
engine starts from the expectation of those draws (:func:`expected_initial`), computed from
per-site occupation probabilities. Region masks and whole results are cached by geometry,
because the virtual patients of a cohort share a layout and differ only in how densely each
region is filled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tmesim.model import Model

_INITIAL_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def expected_initial(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """:func:`expected_initial_uncached`, cached by layout (virtual patients usually share it)."""
    key = "|".join([model.domain.model_dump_json(), ",".join(model.cell_type_names),
                    ",".join(model.state_variables)]
                   + [p.model_dump_json() for p in model.initial]
                   + [str(sorted(ct.initial_state.items())) for ct in model.cell_types])
    if key not in _INITIAL_CACHE:
        if len(_INITIAL_CACHE) > 64:
            _INITIAL_CACHE.clear()
        _INITIAL_CACHE[key] = expected_initial_uncached(model)
    counts, mass = _INITIAL_CACHE[key]
    return counts.copy(), mass.copy()


def _site_centres(dom: Any) -> tuple[np.ndarray, np.ndarray]:
    """(site centres [sites, dims] in µm, domain extent in µm) of ``dom``."""
    nz, ny, nx = dom.grid
    dims = dom.dims
    dx = dom.site_size.value
    z, y, x = np.unravel_index(np.arange(nz * ny * nx), (nz, ny, nx))
    centres = (np.stack([x, y, z][:dims], axis=1) + 0.5) * dx
    extent = np.array(dom.shape, float) * dx
    return centres, extent


def _region_mask(p: Any, centres: np.ndarray, extent: np.ndarray, dims: int) -> np.ndarray:
    """Sites inside placement ``p``'s region (boolean per site)."""
    if p.region == "everywhere":
        return np.ones(len(centres), bool)
    if p.region == "box":
        lo, hi = np.asarray(p.low, float)[:dims], np.asarray(p.high, float)[:dims]
        return np.all((centres >= lo) & (centres <= hi), axis=1)
    c = np.asarray(p.center, float)[:dims] if p.center is not None else extent / 2
    r = np.sqrt(((centres - c) ** 2).sum(1))
    region = r <= p.radius.value  # type: ignore[union-attr]
    if p.region == "annulus":
        region &= r >= p.inner_radius.value  # type: ignore[union-attr]
    return region


# Region masks by domain and region geometry: virtual patients change how densely a region is
# filled, not where it is, and the masks were most of a patient's expected_initial call.
_REGION_CACHE: dict[str, tuple[np.ndarray, ...]] = {}


def _region_masks(model: Model) -> tuple[np.ndarray, ...]:
    dom = model.domain
    geometry = [p.model_dump_json(include={"region", "positions", "center", "radius", "inner_radius", "low", "high"})
                for p in model.initial]
    key = "|".join([dom.model_dump_json(), *geometry])
    if key not in _REGION_CACHE:
        if len(_REGION_CACHE) > 16:
            _REGION_CACHE.clear()
        centres, extent = _site_centres(dom)
        masks = tuple(_region_mask(p, centres, extent, dom.dims) for p in model.initial)
        for m in masks:
            m.flags.writeable = False  # shared between calls
        _REGION_CACHE[key] = masks
    return _REGION_CACHE[key]


def expected_initial_uncached(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Expected initial live count per type and summed state variables per type ([T], [T, V]).

    The spatial engine fills each placement's region in order, taking only sites earlier
    placements left free (a random ``fraction`` of the free sites, or ``density`` × region
    size sites). Here the same is done with per-site occupation probabilities instead of
    draws, so the counts are the expectation over seeds (exact for ``fraction``; for
    ``density`` the request is capped by the expected free sites).
    """
    dom = model.domain
    dims = dom.dims
    dx = dom.site_size.value
    measure = (dx / 1000.0) ** dims
    types, vars_ = model.cell_type_names, model.state_variables
    masks = _region_masks(model)
    occ = np.zeros(int(np.prod(dom.grid)))
    counts = np.zeros(len(types))
    mass = np.zeros((len(types), len(vars_)))
    for p, region in zip(model.initial, masks, strict=True):
        free = (1.0 - occ) * region
        nfree = free.sum()
        if p.fraction is not None:
            frac = p.fraction
        else:
            want = int(round(p.density * region.sum() * measure))  # type: ignore[operator]
            frac = min(want, nfree) / nfree if nfree > 0 else 0.0
        taken = free * frac
        occ += taken
        ti = types.index(p.cell_type)
        n = taken.sum()
        counts[ti] += n
        state = np.zeros(len(vars_))
        for v, val in model.cell_type(p.cell_type).initial_state.items():
            state[vars_.index(v)] = val
        for v, val in p.state.items():
            state[vars_.index(v)] = val
        mass[ti] += n * state
    return counts, mass
