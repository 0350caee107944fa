"""benchmarks/scale.py: the scaled section is the preset's layout, and its memory accounting adds up
(tiny sizes, seconds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tmesim
from tmesim.engine import Simulation

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "scale.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_unscaled_section_is_the_preset(scale, tmp_path):
    """At the preset's own size the scaled YAML places exactly the preset's cells (same seed)."""
    p = tmp_path / "s.yaml"
    import yaml

    p.write_text(yaml.safe_dump(scale.section_yaml("tnbc", 2, 160)))
    a = Simulation(tmesim.load_model(p), seed=3)
    b = Simulation(tmesim.load_model(tmesim.preset_path("tnbc")), seed=3)
    assert a.n == b.n
    for name in ("ctype", "cx", "cy", "var"):
        assert np.array_equal(getattr(a, name)[: a.n], getattr(b, name)[: b.n])


def test_memory_accounting_on_a_tiny_section(scale, tmp_path):
    r = scale.main(["--side", "40", "--steps", "2", "--tracemalloc", "--out", str(tmp_path)])
    nsites, V = 40 * 40, r["state_columns"]
    # uid, ctype, cx, cy, cz, dead, dead_time and two float32 state tables: one slot per site
    assert r["engine_bytes"]["cells"] == nsites * (8 + 4 + 3 * 4 + 1 + 8 + 2 * 4 * V)
    # fields plus the per-step gain and loss of every substrate, float32
    assert r["engine_bytes"]["fields"] >= 3 * 4 * r["substrates"] * nsites
    assert r["engine_total_bytes"] == sum(r["engine_bytes"].values())
    assert r["engine_bytes_per_voxel"] == pytest.approx(r["engine_total_bytes"] / nsites)
    assert r["rss_peak_bytes"] >= r["rss_after_build_bytes"] > 0 and r["tracemalloc_peak_bytes"] > 0
    assert r["steps"] == 2 and r["agent_updates_per_s"] > 0
    assert r["backend"] == "cpu" and r["threads"] >= 1
    assert r["projected_30_days_s"] == pytest.approx(30 * 240 * r["s_per_step"])
    saved = json.loads((tmp_path / "scale-2d-40.json").read_text())
    assert saved["tmesim_version"] == tmesim.__version__ and len(saved["model_hash"]) == 16
    assert tmesim.load_model(tmp_path / "scale-2d-40.yaml").domain.shape == [40, 40]


def test_three_d_section_lifts_the_layout(scale, tmp_path):
    """3D: discs become spheres, densities per mm² become per mm³ of a one-site-thick section."""
    import yaml

    spec = scale.section_yaml("tnbc", 3, 16)
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(spec))
    m = tmesim.load_model(p)
    assert m.domain.dims == 3 and m.domain.shape == [16, 16, 16]
    box = next(q for q in m.initial if q.region == "box")
    assert len(box.low) == len(box.high) == 3
    sim = Simulation(m, seed=0)
    assert 0.2 < sim.n / sim.nsites < 0.8 and len(set(sim.cz[: sim.n].tolist())) == 16


def test_gpu_backend_without_a_gpu_stops_with_one_error_line(scale, tmp_path):
    """``--backend gpu`` where CuPy or a GPU is missing: one ``error: backend:`` line, nothing built
    or written."""
    from tmesim.engine.gpu import gpu_available

    if gpu_available():
        pytest.skip("a CUDA GPU is present: tests/test_gpu.py runs the GPU path")
    with pytest.raises(SystemExit) as stop:
        scale.main(["--side", "40", "--steps", "1", "--backend", "gpu", "--out", str(tmp_path)])
    msg = str(stop.value.code)
    assert msg.startswith("error: backend: 'gpu' needs CuPy") and "\n" not in msg
    assert not any(tmp_path.iterdir())
