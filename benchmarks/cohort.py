"""Patients per second of the cohort runner, for both engines.

    python benchmarks/cohort.py [--n 40] [--n-spatial 2] [--workers 2] [--n-serial 10] [--serial-only]

Every patient runs the coupled body model (its own untreated section sets its cascade,
tmesim.body.coupling). Mean-field: a tnbc cohort with nab-paclitaxel (28-day run-in + 84-day window, 2-year
follow-up), well-mixed and with the measured contact enrichment the trials use. Spatial: the same patients on a 40×40-site section for 1 + 1 days (a full-size
section for the mean-field's 112 days would take hours per patient).

Before the cluster runs it measures, in this one process and on the same patients (treated
with atezolizumab + nab-paclitaxel), the two ways a treated patient's model is made (the
"one process" line, both rates and their ratio):
validated whole twice per patient (dump → validate the patient, then again with its therapy;
``run_patient(validate=True)``, how every patient was made before) against derived from the
validated cohort model and its validated treated template (the default). The two paths are
interleaved patient by patient so that load from other processes hits both alike, and their
results are checked to be identical. It also times the drug-exposure signal the mean-field
solver evaluates thousands of times per patient: one :func:`tmesim.model.pk.exposure` call
per drug (before) against one vectorised :class:`tmesim.model.pk.Exposures` call.

Each run also measures, once, the reference kill rate of immune pressure (the untreated
run-in of 32 reference patients, :func:`tmesim.cohort.patient.reference_kill_rate`); that
fixed cost is reported on its own and kept out of patients per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort import EndpointConfig, Job, dask_client, run_jobs, sample_patients
from tmesim.cohort.contacts import resolve_contacts
from tmesim.cohort.patient import run_patient, with_reference
from tmesim.inference.evaluate import model_hash
from tmesim.model import model_from_dict


def bench(model, n: int, cfg: EndpointConfig, engine: str, workers: int, contacts=None) -> float:
    jobs = [Job("chemo", r, ["nab-paclitaxel@day=0"]) for r in sample_patients(model, n, 0).to_dict("records")]
    with dask_client(workers) as c, tempfile.TemporaryDirectory(prefix="cohort_bench_") as out:
        run_jobs(model, jobs[:workers], out + "/warm", cfg, engine, client=c, contacts=contacts)  # start-up, numba
        t0 = time.perf_counter()
        run_jobs(model, jobs[:1], out + "/ref", cfg, engine, client=c, contacts=contacts)
        t_ref = time.perf_counter() - t0
        cfg = with_reference(model, cfg, engine, contacts)  # the same k_ref, kept out of the timing
        t0 = time.perf_counter()
        run_jobs(model, jobs, out + "/run", cfg, engine, client=c, contacts=contacts)
        rate = n / (time.perf_counter() - t0)
        print(f"  {engine}: reference sample + 1 patient {t_ref:.1f} s (once per run)")
        return rate


def bench_revalidation(model, n: int, cfg: EndpointConfig, therapies: list[str]) -> tuple[float, float]:
    """Patients/s of ``run_patient`` (mean-field, one process): validated path, derived path."""
    cfg = with_reference(model, cfg, "meanfield")
    rows = sample_patients(model, n + 1, 0).to_dict("records")
    for validate in (True, False):  # warm-up: numba, the therapy catalog, the treated template
        run_patient(model, rows[0], "chemo", therapies, cfg, validate=validate)
    spent = {True: 0.0, False: 0.0}
    for i, row in enumerate(rows[1:]):
        got = {}
        for validate in ((True, False) if i % 2 == 0 else (False, True)):
            t0 = time.perf_counter()
            got[validate] = run_patient(model, row, "chemo", therapies, cfg, validate=validate)
            spent[validate] += time.perf_counter() - t0
        a, b = (got[v].drop(columns=["runtime_s"]) for v in (True, False))
        pd.testing.assert_frame_equal(a, b, check_exact=True)  # same patient, same numbers
    return n / spent[True], n / spent[False]


def bench_exposures(model, therapies: list[str], calls: int = 3000) -> tuple[float, float]:
    """Calls/s: one ``exposure`` per drug (before) and one vectorised ``Exposures`` call."""
    from tmesim.cohort.patient import treated_model
    from tmesim.model.pk import Exposures, exposure

    drugs = treated_model(model, therapies, 28.0).drugs
    ts = np.linspace(0.0, 112.0 * 1440.0, calls)
    vec = Exposures(drugs)
    t0 = time.perf_counter()
    old = [np.array([float(exposure(d, t)) for d in drugs]) for t in ts]
    t_old = time.perf_counter() - t0
    t0 = time.perf_counter()
    new = [vec(t) for t in ts]
    t_new = time.perf_counter() - t0
    assert all(np.array_equal(a, b) for a, b in zip(old, new, strict=True))  # bit for bit
    return calls / t_old, calls / t_new


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--n-spatial", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-serial", type=int, default=10, help="patients per path in the one-process comparison")
    ap.add_argument("--serial-only", action="store_true", help="only the one-process comparisons")
    a = ap.parse_args()
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    print(f"tmesim {tmesim.__version__}, tnbc model hash {model_hash(model)}")
    therapies = ["atezolizumab+nab-paclitaxel@day=0"]
    old, new = bench_exposures(model, therapies)
    print(f"drug exposures ({therapies[0]}): {old:,.0f} calls/s per-drug, {new:,.0f} calls/s vectorised, "
          f"ratio {new / old:.1f}x")
    before, after = bench_revalidation(model, a.n_serial, EndpointConfig(), therapies)
    print(f"meanfield, one process, {therapies[0]} ({a.n_serial} patients each, interleaved, identical results): "
          f"validated {before:.2f} patients/s, derived {after:.2f} patients/s, ratio {after / before:.2f}x")
    if a.serial_only:
        return
    mf = bench(model, a.n, EndpointConfig(), "meanfield", a.workers)
    print(f"meanfield, well-mixed: {mf:.2f} patients/s ({a.n} patients, {a.workers} workers); "
          f"a 1000-patient coupled cohort: {1000 / mf / 60:.1f} min")
    contacts = resolve_contacts("measured", model, days=35.0, seed=0)  # the shipped table
    mfc = bench(model, a.n, EndpointConfig(), "meanfield", a.workers, contacts)
    print(f"meanfield, measured contacts: {mfc:.2f} patients/s ({a.n} patients, {a.workers} workers)")
    d = model.model_dump(mode="json")
    d["domain"]["shape"] = [40, 40]
    small = model_from_dict(d)
    sp = bench(small, a.n_spatial, EndpointConfig(run_in_days=1, treatment_days=1), "spatial", a.workers)
    print(f"spatial (40x40 sites, 2 days): {sp:.3f} patients/s ({a.n_spatial} patients)")


if __name__ == "__main__":
    main()
