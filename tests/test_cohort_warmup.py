"""Compiling a cohort's numba kernels once, split over the workers (tmesim.cohort.warmup)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tmesim
from tmesim.cohort import warmup
from tmesim.cohort.warmup import PARTS, assign, warm_part, warm_workers


def test_assign_uses_every_part_once_and_balances():
    for n in (1, 2, 3, 8):
        workers = [f"w{i}" for i in range(n)]
        got = assign(PARTS, workers)
        parts = [p for ps in got.values() for p in ps]
        assert sorted(parts) == sorted(PARTS)  # each part on exactly one worker
        assert len(got) == min(n, len(PARTS))
    two = assign(PARTS, ["a", "b"])
    load = {w: sum(warmup.COST[p] for p in ps) for w, ps in two.items()}
    # the costliest part is alone with the small ones; neither worker gets more than the evaluate part plus a bit
    assert max(load.values()) < sum(warmup.COST.values()) * 0.55
    assert any(ps[0] == "evaluate" for ps in two.values())


def test_bad_part_and_engine_are_named(small_model):
    with pytest.raises(ValueError, match="part: 'nope'; allowed: evaluate"):
        warm_part(small_model, "nope")
    with pytest.raises(ValueError, match="engine: 'ode'; allowed: meanfield, spatial"):
        warm_part(small_model, "meanfield", engine="ode")


class _Inline:
    """Enough of a dask Client for warm_workers: runs each submitted task at once, records where."""

    def __init__(self, workers: list[str]) -> None:
        self.workers, self.ran = workers, []

    def scheduler_info(self):  # noqa: ANN201
        return {"workers": {w: {} for w in self.workers}}

    def submit(self, fn, *args, workers, **kw):  # noqa: ANN001, ANN201, ANN003
        self.ran.append((workers[0], list(args[1])))
        return fn(*args)

    def gather(self, futs):  # noqa: ANN001, ANN201
        return futs


def test_warm_workers_splits_parts_once_per_client(small_model, monkeypatch):
    monkeypatch.delenv("TMESIM_WARMUP", raising=False)
    c = _Inline(["tcp://a", "tcp://b"])
    spent = warm_workers(c, small_model, "meanfield", [["nab-paclitaxel@day=0"]])
    assert sorted(spent) == sorted(PARTS) and all(s >= 0 for s in spent.values())
    assert {w for w, _ in c.ran} == {"tcp://a", "tcp://b"}  # both workers compile, different parts
    assert warm_workers(c, small_model, "meanfield", [["nab-paclitaxel@day=0"]]) == {}  # done on this client
    assert len(c.ran) == 2
    monkeypatch.setenv("TMESIM_WARMUP", "0")
    assert warm_workers(_Inline(["tcp://a"]), small_model, "meanfield") == {}


PATIENT = textwrap.dedent("""
    import collections, sys
    from numba.core import event
    compiled = collections.Counter()

    class Count(event.Listener):
        def on_start(self, ev):
            pass

        def on_end(self, ev):
            d = ev.data["dispatcher"]
            if (d.py_func.__module__ or "").startswith("tmesim"):  # numba-made struct methods have none
                compiled[d.py_func.__qualname__] += 1

    event.register("numba:compile", Count())
    from tmesim.cohort import load_trial
    from tmesim.cohort.contacts import resolve_contacts
    from tmesim.cohort.metastatic import run_metastatic_patient, screen_patient
    from tmesim.cohort.patient import with_reference
    from tmesim.cohort.virtual import sample_patients
    from tmesim.cohort.warmup import warm_part, PARTS
    spec = load_trial(sys.argv[1], n=2)
    model, cfg = spec.load_model(), spec.endpoint_config()
    contacts = resolve_contacts("measured", model, None, spec.timing.run_in_days + 7.0, spec.contact_seed)
    if sys.argv[2] in PARTS:
        warm_part(model, sys.argv[2], "meanfield", [a.therapies for a in spec.arms], contacts)
    else:
        cfg = with_reference(model, cfg, "meanfield", contacts)
        for row in sample_patients(model, 40, spec.seed).to_dict("records"):
            entry = screen_patient(model, row, cfg, "meanfield", contacts)
            if entry == entry:  # eligible (not NaN)
                break
        for arm in spec.arms:
            run_metastatic_patient(model, row, arm.name, arm.therapies, cfg, "meanfield", contacts)
        print(sorted(compiled))
""")


@pytest.mark.slow
def test_a_patient_compiles_nothing_after_the_parts_ran_cold(tmp_path):
    """From an empty numba cache: every part in its own process, then a trial patient (k_ref,
    screening, both arms) in another one loads every kernel from the cache and compiles none."""
    trial = Path(tmesim.__file__).parent / "presets" / "trials" / "impassion130.yaml"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "NUMBA_NUM_THREADS": "1"}
    script = tmp_path / "one.py"
    script.write_text(PATIENT)
    for part in [*PARTS, "patient"]:
        p = subprocess.run([sys.executable, str(script), str(trial), part], env=env, capture_output=True, text=True,
                           timeout=1800)
        assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == "[]"


def test_every_part_runs_on_its_own(small_model):
    """Each part in a fresh process runs only its share of the schedule (a part that needs
    another's state would fail here, not silently in a worker)."""
    for part in PARTS:
        assert warm_part(small_model, part, engine="spatial") >= 0
