"""benchmarks/field_accuracy.py: its replay is the engine's solve, and ``fast`` stays close to it
(a 10^4-cell section, seconds)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_field_accuracy", ROOT / "benchmarks" / "field_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def recording(bench):
    return bench.record(1e4, 8)


def test_converged_replay_is_the_engines_field(bench, recording):
    """Replaying the recorded exchange with the default solve gives the engine's oxygen, bitwise:
    the variants are compared on the systems the engine solved."""
    fields, cycles, _ = bench.replay(recording, "converged")
    assert np.array_equal(fields[-1], recording.end)
    assert cycles > 0


def test_fast_variants_stay_near_the_converged_field(bench, recording):
    ref, ref_cycles, _ = bench.replay(recording, "converged")
    fields, cycles, _ = bench.replay(recording, "fast")
    mean, worst, largest = bench.errors(fields, ref)
    assert cycles < ref_cycles
    assert 0.0 < mean <= worst < 0.5 and largest < 5.0  # mmHg; oxygen is 38 mmHg at the vessels
    assert bench.errors(ref, ref) == (0.0, 0.0, 0.0)


def test_local_smoothing_changes_the_field_and_a_tight_bound_needs_cycles(bench, recording):
    """With a keep bound tight enough that kept fields fail it, both variants solve; the local
    sweeps change the field before the keep test, and every variant stays near the reference."""
    ref, ref_cycles, _ = bench.replay(recording, "converged")
    fast, fast_cycles, _ = bench.replay(recording, "fast", accept=1e-5)
    local, local_cycles, _ = bench.replay(recording, "local", accept=1e-5)
    assert 0 < fast_cycles < ref_cycles and 0 < local_cycles < ref_cycles
    assert not all(np.array_equal(a, b) for a, b in zip(fast, local, strict=True))
    for fields in (fast, local):
        assert bench.errors(fields, ref)[1] < 0.05


def test_too_few_steps_is_one_error_line(bench):
    with pytest.raises(SystemExit, match=r"^error: steps: must be more than 4"):
        bench.main(["--cells", "1e4", "--steps", "3"])
