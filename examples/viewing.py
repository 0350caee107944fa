"""Viewing: the interactive viewer (viewer.html, opens as a file or with `tmesim view RUN`) and
figures as PNG; `tmesim report RUN` writes the full report.html."""

import tmesim
from tmesim.viz import figures, write_viewer

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
run = tmesim.simulate(model, days=0.1, seed=4, out="viewing-run")
print("viewer:", write_viewer(run.path))
day = run.snapshot_times()[-1]
figures.spatial_map(run.cells(day), run.config, day).savefig("section.png", dpi=60)
figures.population_curves(run.summary(), run.config).savefig("populations.png", dpi=60)
print("figures: section.png, populations.png")
