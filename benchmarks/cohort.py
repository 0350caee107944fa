"""Patients per second of the cohort runner, for both engines.

    python benchmarks/cohort.py [--n 40] [--n-spatial 2] [--workers 2] [--n-serial 10] [--serial-only]
                                [--baseline REF] [--baseline-n 40] [--baseline-trial YAML] [--trial-n 1000]

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

Before and after the solver work (``--baseline REF``, default :data:`BASELINE`, the commit
before it): the same two-arm patients (nab-paclitaxel / atezolizumab + nab-paclitaxel,
alternating, seed 0) run in two worker processes, one importing this checkout's tmesim and
one the baseline's (``git archive REF src``), patient by patient and in alternating order so
that load from other processes hits both alike. It prints both rates, their ratio, the
largest relative difference of any per-patient outcome, and the PFS/OS hazard ratios of
the two arms from either side; ``--baseline-n`` patients (0 skips it). ``--baseline-trial
src/tmesim/presets/trials/ribbon1.yaml`` runs that trial's first patients instead (its model,
randomised arms, endpoints and contact enrichment).

``--trial-n 1000`` also runs a two-arm trial of that many patients (well-mixed, primary
setting, the default timing) on ``--workers`` workers and prints its wall time, k_ref
included, next to the time projected from the cluster rate.

Each run also measures, once, the reference kill rate of immune pressure (the untreated
run-in of 32 reference patients, :func:`tmesim.cohort.patient.reference_kill_rate`); that
fixed cost is reported on its own and kept out of patients per second.

Every rate here is with numba's kernels already compiled (a warm-up run first); the first trial
on an empty numba cache (compilation, split over the workers) is measured by
``benchmarks/coldstart.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort import EndpointConfig, Job, dask_client, run_jobs, sample_patients
from tmesim.cohort.contacts import resolve_contacts
from tmesim.cohort.patient import run_patient, with_reference
from tmesim.inference.evaluate import model_hash
from tmesim.model import model_from_dict

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "ce23615"  # main before the mean-field Jacobian reuse and the compiled drug exposures
ARMS = (("nab-paclitaxel", ["nab-paclitaxel@day=0"]),
        ("atezolizumab+nab-paclitaxel", ["atezolizumab+nab-paclitaxel@day=0"]))
# One side of the before/after comparison: reads patient numbers, prints one JSON row each.
WORKER = """
import json, sys, time
from pathlib import Path
import tmesim
from tmesim.cohort import EndpointConfig, sample_patients
from tmesim.cohort.patient import run_patient, with_reference
arms, trial, contacts = json.loads(sys.argv[2]), sys.argv[3], None
if trial:  # the trial's model, patients, randomisation, endpoints and contact enrichment
    from tmesim.cohort.contacts import CONTACT_MODES, resolve_contacts
    from tmesim.cohort.trial import load_trial, trial_jobs
    from tmesim.meanfield import ContactCourse
    spec = load_trial(trial)
    model, cfg = spec.load_model(), spec.endpoint_config()
    days = spec.contact_days if spec.contact_days is not None else spec.timing.run_in_days + 7.0
    choice = spec.contacts if spec.contacts in CONTACT_MODES else str(Path(trial).parent / spec.contacts)
    table = resolve_contacts(choice, model, None, days, spec.contact_seed) if spec.engine == "meanfield" else None
    contacts = None if table is None else ContactCourse.from_table(model.cell_type_names, table)
    cases = [(j.row, j.arm, j.therapies) for j in trial_jobs(spec, model)[:int(sys.argv[1])]]
    arms = [[a.name, list(a.therapies)] for a in spec.arms]
else:  # tnbc, the two arms alternating
    model, cfg = tmesim.load_model(tmesim.preset_path("tnbc")), EndpointConfig()
    rows = sample_patients(model, int(sys.argv[1]), 0).to_dict("records")
    cases = [(r, *arms[i % 2]) for i, r in enumerate(rows)]
cfg = with_reference(model, cfg, "meanfield", contacts)
for name, therapies in arms:  # numba, the treated templates
    run_patient(model, cases[0][0], name, therapies, cfg, contacts=contacts)
print(json.dumps({"k_ref": cfg.reference_kill_rate, "arms": [a for a, _ in arms]}), flush=True)
for line in sys.stdin:
    row, name, therapies = cases[int(line)]
    t0, c0 = time.perf_counter(), time.process_time()
    df = run_patient(model, row, name, therapies, cfg, contacts=contacts)
    out = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    out.update({k: (v.item() if hasattr(v, "item") else v) for k, v in df.iloc[0].items()})
    print(json.dumps(out, default=str), flush=True)
"""


def _side(src: Path, n: int, trial: str = "") -> subprocess.Popen:
    env = {**__import__("os").environ, "PYTHONPATH": str(src)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(n), json.dumps(ARMS), trial], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=str(src.parent))


def bench_baseline(ref: str, n: int, trial: str = "") -> None:
    """Before (``ref``) vs after (this checkout), same patients, interleaved: rates, ratio,
    outcome differences and the arms' hazard ratios. ``trial``: a trial YAML whose first ``n``
    patients (its model, arms, endpoints and contact enrichment) to run instead of tnbc."""
    from tmesim.cohort.survival import arm_hazard_ratios

    with tempfile.TemporaryDirectory(prefix="cohort_baseline_") as tmp:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
        trial = str(Path(trial).resolve()) if trial else ""
        procs = {"before": _side(Path(tmp) / "src", n + 1, trial), "after": _side(ROOT / "src", n + 1, trial)}
        first = {k: json.loads(p.stdout.readline()) for k, p in procs.items()}
        k_ref = {k: v["k_ref"] for k, v in first.items()}
        arm_names = first["after"]["arms"]
        rows: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(1, n + 1):
            for side in (("before", "after") if i % 2 else ("after", "before")):
                procs[side].stdin.write(f"{i}\n")
                procs[side].stdin.flush()
                rows[side].append(json.loads(procs[side].stdout.readline()))
        for p in procs.values():
            p.stdin.close()
            p.wait()
    spent = {k: sum(r["seconds"] for r in v) for k, v in rows.items()}
    cpu = {k: sum(r["cpu_seconds"] for r in v) / n for k, v in rows.items()}
    before, after = (pd.DataFrame(rows[k]) for k in ("before", "after"))
    num = [c for c in after.columns if c in before.columns and c not in ("seconds", "cpu_seconds", "runtime_s")
           and pd.api.types.is_numeric_dtype(after[c]) and pd.api.types.is_numeric_dtype(before[c])]
    a, b = after[num].to_numpy(float), before[num].to_numpy(float)
    both = np.isfinite(a) & np.isfinite(b)
    rel = np.where(both, np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12), 0.0)
    col = num[int(np.argmax(rel.max(axis=0)))]
    what = f"{Path(trial).stem} patients" if trial else "two-arm tnbc patients (seed 0)"
    print(f"before ({ref}) vs after, one process each, interleaved, {n} {what}: "
          f"before {n / spent['before']:.2f} patients/s, after {n / spent['after']:.2f} patients/s, "
          f"ratio {spent['before'] / spent['after']:.2f}x")
    print(f"  CPU per patient: before {cpu['before']:.3f} s, after {cpu['after']:.3f} s (ratio "
          f"{cpu['before'] / cpu['after']:.2f}x); a 1000-patient two-arm trial on two idle cores needs "
          f"{1000 * cpu['before'] / 2 / 60:.1f} min before, {1000 * cpu['after'] / 2 / 60:.1f} min after (CPU / 2)")
    print(f"  k_ref before {k_ref['before']:.6g}, after {k_ref['after']:.6g} /day; largest relative difference "
          f"of a per-patient outcome {rel.max():.2e} ({col}); NaN pattern identical: "
          f"{bool(np.array_equal(np.isfinite(a), np.isfinite(b)))}")
    for ep in ("pfs", "os"):
        days = float(np.abs(after[f"{ep}_days"] - before[f"{ep}_days"]).max())
        hr = {k: arm_hazard_ratios(df, [ep], arm_names).iloc[0] for k, df in (("before", before), ("after", after))}
        print(f"  {ep}: HR before {hr['before']['hr']:.4f} ({hr['before']['events']} events), after "
              f"{hr['after']['hr']:.4f} ({hr['after']['events']} events); events identical: "
              f"{bool((before[f'{ep}_event'] == after[f'{ep}_event']).all())}; largest |Δ {ep}_days| {days:.3g}")


def bench_trial(model, n: int, workers: int) -> float:
    """Wall time (s) of an ``n``-patient two-arm trial on ``workers`` workers, k_ref included."""
    jobs = [Job(ARMS[i % 2][0], r, list(ARMS[i % 2][1])) for i, r in
            enumerate(sample_patients(model, n, 0).to_dict("records"))]
    with dask_client(workers) as c, tempfile.TemporaryDirectory(prefix="cohort_trial_") as out:
        run_jobs(model, jobs[:workers], out + "/warm", replace(EndpointConfig(), reference_kill_rate=0.01), "meanfield",
                 client=c)  # worker start-up and numba, as a warm cluster has them
        t0 = time.perf_counter()
        run_jobs(model, jobs, out + "/run", EndpointConfig(), "meanfield", client=c)
        return time.perf_counter() - t0


def bench(model, n: int, cfg: EndpointConfig, engine: str, workers: int, contacts=None) -> float:
    jobs = [Job(ARMS[i % 2][0], r, list(ARMS[i % 2][1])) for i, r in
            enumerate(sample_patients(model, n, 0).to_dict("records"))]  # the two arms, alternating
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
    ap.add_argument("--baseline", default=BASELINE, help="git commit to compare with (before)")
    ap.add_argument("--baseline-n", type=int, default=40, help="patients in the before/after comparison (0: skip)")
    ap.add_argument("--baseline-trial", default="", help="trial YAML whose patients the before/after comparison runs "
                                                         "(default: two-arm tnbc)")
    ap.add_argument("--trial-n", type=int, default=0, help="also run a two-arm trial of this many patients")
    a = ap.parse_args()
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    print(f"tmesim {tmesim.__version__}, tnbc model hash {model_hash(model)}")
    if a.baseline_n > 0:
        bench_baseline(a.baseline, a.baseline_n, a.baseline_trial)
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
    print(f"meanfield, well-mixed, two arms: {mf:.2f} patients/s ({a.n} patients, {a.workers} workers); "
          f"a 1000-patient coupled cohort or two-arm trial: {1000 / mf / 60:.1f} min projected")
    if a.trial_n:
        wall = bench_trial(model, a.trial_n, a.workers)
        print(f"two-arm trial, {a.trial_n} patients, {a.workers} workers (seed 0, k_ref included): {wall:.0f} s "
              f"= {wall / 60:.1f} min actual; projected from the rate above {a.trial_n / mf / 60:.1f} min")
    contacts = resolve_contacts("measured", model, days=35.0, seed=0)  # the shipped table
    mfc = bench(model, a.n, EndpointConfig(), "meanfield", a.workers, contacts)
    print(f"meanfield, measured contacts: {mfc:.2f} patients/s ({a.n} patients, {a.workers} workers)")
    if a.n_spatial <= 0:
        return
    d = model.model_dump(mode="json")
    d["domain"]["shape"] = [40, 40]
    small = model_from_dict(d)
    sp = bench(small, a.n_spatial, EndpointConfig(run_in_days=1, treatment_days=1), "spatial", a.workers)
    print(f"spatial (40x40 sites, 2 days): {sp:.3f} patients/s ({a.n_spatial} patients)")


if __name__ == "__main__":
    main()
