"""Initial tissue layout: fill regions of the lattice with cells (vectorised numpy)."""

from __future__ import annotations

import numpy as np

from tmesim.model import Model, Placement


def initial_fields(model: Model, fields: np.ndarray) -> None:
    """Set each substrate's ``initial_regions`` (in order) on the [S, nz, ny, nx] fields."""
    if not any(s.initial_regions for s in model.substrates):
        return
    nz, ny, nx = model.domain.grid
    dx = model.domain.site_size.value
    z, y, x = np.unravel_index(np.arange(nz * ny * nx), (nz, ny, nx))
    centres = (np.stack([x, y, z][: model.domain.dims], axis=1) + 0.5) * dx
    extent = np.array(model.domain.shape, float) * dx
    for k, sub in enumerate(model.substrates):
        flat = fields[k].reshape(-1)
        for r in sub.initial_regions:
            flat[_region_mask(r, centres, extent)] = r.value


def _region_mask(p: Placement, centres: np.ndarray, extent: np.ndarray) -> np.ndarray:
    if p.region == "everywhere":
        return np.ones(len(centres), bool)
    if p.region == "box":
        lo, hi = np.asarray(p.low), np.asarray(p.high)
        return np.all((centres >= lo) & (centres <= hi), axis=1)
    c = np.asarray(p.center) if p.center is not None else extent / 2
    r = np.sqrt(((centres - c) ** 2).sum(1))
    mask = r <= p.radius.value  # type: ignore[union-attr]
    if p.region == "annulus":
        mask &= r >= p.inner_radius.value  # type: ignore[union-attr]
    return mask


def place_initial(model: Model, occupied: np.ndarray, rng: np.random.Generator) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Choose sites for each placement in order; returns (type index, sites, state) per placement.

    ``occupied`` (bool per site, flat, engine order) is updated as sites are taken, so later
    placements fill only what earlier ones left free.
    """
    nz, ny, nx = model.domain.grid
    dims = model.domain.dims
    dx = model.domain.site_size.value
    z, y, x = np.unravel_index(np.arange(nz * ny * nx), (nz, ny, nx))
    coords = np.stack([x, y, z][:dims], axis=1)
    centres = (coords + 0.5) * dx
    extent = np.array(model.domain.shape, float) * dx
    site_measure = (dx / 1000.0) ** dims  # mm² or mm³ per site
    types = model.cell_type_names
    out = []
    for p in model.initial:
        if p.region == "cells":
            # Explicit positions (a PhysiCell cells.csv): the site holding each point; a second
            # cell on a taken site is dropped, since a site holds one cell.
            idx = np.floor(np.asarray(p.positions, float).reshape(-1, dims) / dx).astype(np.int64)
            idx = np.minimum(idx, np.array(model.domain.shape[:dims]) - 1)
            zz = idx[:, 2] if dims == 3 else np.zeros(len(idx), np.int64)
            sites = (zz * ny + idx[:, 1]) * nx + idx[:, 0]
            _, first = np.unique(sites, return_index=True)
            sites = sites[np.sort(first)]
            chosen = sites[~occupied[sites]]
        else:
            chosen = _choose(p, centres, extent, occupied, site_measure, rng)
        occupied[chosen] = True
        ti = types.index(p.cell_type)
        out.append((ti, chosen, _state(model, p)))
    return out


def _choose(p: Placement, centres: np.ndarray, extent: np.ndarray, occupied: np.ndarray,
            site_measure: float, rng: np.random.Generator) -> np.ndarray:
    region = _region_mask(p, centres, extent)
    free = np.flatnonzero(region & ~occupied)
    if p.fraction is not None:
        chosen = free[rng.random(len(free)) < p.fraction]
    else:
        want = int(round(p.density * region.sum() * site_measure))  # type: ignore[operator]
        chosen = np.sort(rng.choice(free, size=min(want, len(free)), replace=False))
    return chosen


def _state(model: Model, p: Placement) -> np.ndarray:
    state = np.zeros(len(model.state_variables), np.float32)
    for v, val in model.cell_type(p.cell_type).initial_state.items():
        state[model.state_variables.index(v)] = val
    for v, val in p.state.items():
        state[model.state_variables.index(v)] = val
    return state
