"""Perfusion on the lattice (tmesim.engine.perfusion): which vessels carry blood, and how far
oxygen and drugs get from them."""

from __future__ import annotations

from typing import Any

import numpy as np

import tmesim
from tmesim.engine.kernels import neighbour_offsets
from tmesim.engine.perfusion import drug_delivery, perfused_sites


def _lattice(vessels: list[tuple[int, int]], packed: list[tuple[int, int]], size: int = 9) -> dict[str, Any]:
    """Cell arrays with vessel cells (type 0, uid = index) and live non-vessel cells (type 1)."""
    cells = [(x, y, 0) for x, y in vessels] + [(x, y, 1) for x, y in packed]
    n = len(cells)
    occ = np.full(size * size, -1, np.int32)
    cx = np.array([c[0] for c in cells], np.int32)
    cy = np.array([c[1] for c in cells], np.int32)
    for i, (x, y, _) in enumerate(cells):
        occ[y * size + x] = i
    return {"n": n, "uid": np.arange(n, dtype=np.int64), "ctype": np.array([c[2] for c in cells], np.int32),
            "cx": cx, "cy": cy, "cz": np.zeros(n, np.int32), "dead": np.zeros(n, np.int8), "occ": occ}


def _perf(c: dict[str, Any], roots: int, collapse: float = 1.0, size: int = 9) -> np.ndarray:
    offs, _ = neighbour_offsets(2)
    return perfused_sites(c["n"], c["uid"], c["ctype"], c["cx"], c["cy"], c["cz"], c["dead"], c["occ"],
                          np.array([True, False]), roots, size, size, 1, offs, collapse,
                          np.zeros((c["n"], 1), np.float32), -1)


def test_a_vessel_enclosed_by_cells_is_compressed_shut() -> None:
    ring = [(4 + dx, 4 + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    assert _perf(_lattice([(4, 4)], ring), roots=1)[4 * 9 + 4] == 0.0
    assert _perf(_lattice([(4, 4)], ring[:-1]), roots=1)[4 * 9 + 4] == 1.0  # one free neighbour: open
    assert _perf(_lattice([(4, 4)], ring[:-2]), roots=1, collapse=0.75)[4 * 9 + 4] == 0.0


def test_sprouts_carry_flow_only_when_connected_to_a_fed_vessel() -> None:
    # root at (2,2); sprouts (3,3),(4,4) chained to it; an isolated sprout at (7,2)
    c = _lattice([(2, 2), (3, 3), (4, 4), (7, 2)], [])
    p = _perf(c, roots=1)
    assert p[2 * 9 + 2] == p[3 * 9 + 3] == p[4 * 9 + 4] == 1.0
    assert p[2 * 9 + 7] == 0.0
    # compressing the middle sprout cuts off the one beyond it
    ring = [(3 + dx, 3 + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
            if (dx, dy) != (0, 0) and (3 + dx, 3 + dy) not in ((2, 2), (4, 4))]
    c = _lattice([(2, 2), (3, 3), (4, 4)], ring)
    p = _perf(c, roots=1, collapse=6 / 8)
    assert p[3 * 9 + 3] == 0.0 and p[4 * 9 + 4] == 0.0 and p[2 * 9 + 2] == 1.0


def test_drug_delivery_falls_with_distance_from_perfused_vessels() -> None:
    perf = np.zeros(25 * 25, np.float32)
    perf[12 * 25 + 12] = 1.0
    d = drug_delivery(perf, (1, 25, 25), 20.0, np.array([100.0, 0.0]))
    assert d[0, 12 * 25 + 12] == 1.0
    assert abs(d[0, 12 * 25 + 17] - np.exp(-1.0)) < 1e-6  # 5 sites = 100 µm away
    assert (d[1] == 1.0).all()  # no penetration limit: everywhere
    assert (drug_delivery(np.zeros_like(perf), (1, 25, 25), 20.0, np.array([100.0]))[0] == 0.0).all()


def _model(perfusion: bool) -> tmesim.Model:
    from conftest import small_dict

    d = small_dict(size=32, days=1.0)
    if perfusion:
        d["perfusion"] = {"blood_borne": ["oxygen"], "collapse_occupancy": 0.75, "source": "assumption: test"}
    d["therapies"] = [{"name": "chemotherapy", "overrides": {"paclitaxel": {"penetration": "60 um"}}}]
    return tmesim.model_from_dict(d)


def test_engine_oxygen_and_drug_come_from_perfused_vessels() -> None:
    on, off = tmesim.engine.Simulation(_model(True), seed=3), tmesim.engine.Simulation(_model(False), seed=3)
    for sim in (on, off):
        sim.run(days=0.5)
    assert 0.0 < on.perfused_fraction() < 1.0 and off.perfused_fraction() == 1.0
    o2 = on.cm.substrate_names.index("oxygen")
    assert on.fields[o2].mean() < off.fields[o2].mean()  # compressed vessels release no oxygen
    row = on._field_rows[on.cm.n_sub + on.cm.drug_names.index("paclitaxel")]
    assert row.min() < 0.5 and row.max() == 1.0  # exposure falls away from perfused vessels
    assert (off._field_rows[off.cm.n_sub:] == 1.0).all()  # without perfusion: uniform exposure
