"""Patients per second of the cohort runner, for both engines.

    python benchmarks/cohort.py [--n 40] [--n-spatial 2] [--workers 2]

Every patient runs the coupled body model (its own untreated section sets its cascade,
tmesim.body.coupling). Mean-field: a tnbc cohort with nab-paclitaxel (28-day run-in + 84-day window, 2-year
follow-up), well-mixed and with the measured contact enrichment the trials use. Spatial: the same patients on a 40×40-site section for 1 + 1 days (a full-size
section for the mean-field's 112 days would take hours per patient).

Each run also measures, once, the reference kill rate of immune pressure (the untreated
run-in of 32 reference patients, :func:`tmesim.cohort.patient.reference_kill_rate`); that
fixed cost is reported on its own and kept out of patients per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import tmesim
from tmesim.cohort import EndpointConfig, Job, dask_client, run_jobs, sample_patients
from tmesim.cohort.contacts import resolve_contacts
from tmesim.cohort.patient import with_reference
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--n-spatial", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
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
