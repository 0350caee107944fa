"""Cohorts: a few virtual TNBC patients with the mean-field engine, their markers at day 0 and
their endpoints (a cohort of thousands runs the same way on dask: `tmesim cohort`)."""

import tmesim
from tmesim.cohort import EndpointConfig, sample_patients
from tmesim.cohort.patient import run_patient

model = tmesim.load_model(tmesim.preset_path("tnbc"))
cfg = EndpointConfig(run_in_days=3, treatment_days=4, follow_up_days=180, immune_control=False)
patients = sample_patients(model, n=2, seed=0)
for row in patients.to_dict("records"):
    out = run_patient(model, row, cfg=cfg, engine="meanfield").iloc[0]
    print(f"patient {out.patient_id}: CD8/Treg {out.cd8_treg_ratio:.2f}, PFS {out.pfs_days:.0f} days")
