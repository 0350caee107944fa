"""Readouts: what a pathologist would read off a section — immune densities, ratios, EMT,
PD-L1 — from a short spatial run."""

import tmesim
from tmesim.readouts import clinical_readouts

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
run = tmesim.simulate(model, days=0.1, seed=2)
r = clinical_readouts(run)
for key in ("cd8_t_per_mm2", "treg_per_mm2", "cd8_treg_ratio", "m2_share_of_macrophages", "pdl1_positive_share"):
    print(f"{key:25s} {r[key]:.3g}")
