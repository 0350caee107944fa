"""Virtual patients, cohorts and trials (tmesim's top analysis layer).

* :mod:`~tmesim.cohort.virtual`: patient variability as data; ``sample_patients(model, n, seed)``,
  ``patient_model(model, row)``;
* :mod:`~tmesim.cohort.section` / :mod:`~tmesim.cohort.patient`: one patient with the
  mean-field or spatial engine plus the body model;
* :mod:`~tmesim.cohort.endpoints`: tumor burden, RECIST-like progression, death, metastasis;
* :mod:`~tmesim.cohort.metastatic`: the metastatic setting (entry at metastatic disease, every
  lesion treated, RECIST 1.1 on the sum of target lesions, new lesions);
* :mod:`~tmesim.cohort.markers`: the review's prognostic markers per patient;
* :mod:`~tmesim.cohort.runner`: dask.distributed execution with per-patient files and resume;
* :mod:`~tmesim.cohort.trial`: the trial YAML and ``run_trial``;
  :mod:`~tmesim.cohort.survival`: Kaplan–Meier and Cox hazard ratios (lifelines).
"""

from .endpoints import EndpointConfig
from .markers import MARKERS
from .metastatic import run_metastatic_patient
from .patient import run_patient
from .runner import Job, collect, dask_client, run_jobs
from .trial import TrialSpec, cohort_spec, load_trial, run_trial
from .virtual import patient_model, sample_patients

__all__ = ["MARKERS", "EndpointConfig", "Job", "TrialSpec", "cohort_spec", "collect", "dask_client", "load_trial",
           "patient_model", "run_jobs", "run_metastatic_patient", "run_patient", "run_trial", "sample_patients"]
