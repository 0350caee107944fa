"""Patients go to the workers in batches; each patient is still its own file and its own result."""

from __future__ import annotations

import pandas as pd
import pytest

import tmesim
from tmesim.cohort import EndpointConfig, Job, dask_client, run_jobs, sample_patients
from tmesim.cohort.patient import run_patient, with_reference
from tmesim.cohort.runner import MAX_BATCH, batches, patient_path

FAST = EndpointConfig(run_in_days=21, treatment_days=42, follow_up_days=365)
pytestmark = pytest.mark.filterwarnings("ignore")


def _jobs(n: int) -> list[Job]:
    return [Job(f"arm{i % 2}", {"patient_id": i}, []) for i in range(n)]


@pytest.mark.parametrize(("n", "workers"), [(1, 2), (5, 2), (40, 2), (1000, 2), (37, 3), (1000, 64)])
def test_batches_cover_every_job_once_in_order(n: int, workers: int) -> None:
    todo = _jobs(n)
    got = batches(todo, workers)
    assert [j for b in got for j in b] == todo
    assert all(1 <= len(b) <= MAX_BATCH for b in got)
    assert len(got) >= min(n, 4 * workers)  # every worker gets several tasks where there are jobs enough


def test_batched_run_equals_patients_run_one_by_one(tmp_path) -> None:
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    jobs = [Job("chemo", r, ["nab-paclitaxel@day=0"]) for r in sample_patients(model, 8, 0).to_dict("records")]
    assert max(len(b) for b in batches(jobs, 1)) == 2  # 8 jobs on one worker: batches of two
    cfg = with_reference(model, FAST, "meanfield")
    with dask_client(workers=1) as c:
        seen: list[int] = []
        res = run_jobs(model, jobs, tmp_path, cfg, client=c, progress=lambda d, t: seen.append(d))
    assert seen == list(range(9))  # progress per patient, not per batch
    assert all(patient_path(tmp_path, j.arm, j.pid).exists() for j in jobs)
    one = pd.concat([run_patient(model, j.row, j.arm, j.therapies, cfg) for j in jobs], ignore_index=True)
    cols = [c for c in one.columns if c != "runtime_s"]
    pd.testing.assert_frame_equal(res[cols], one[cols], check_exact=True)
