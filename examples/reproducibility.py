"""Reproducibility: the same model and seed give identical runs; every run records its
configuration, seed, tmesim version and format version; `citation` lists the sources used."""

import tmesim

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
a = tmesim.simulate(model, days=0.1, seed=11)
b = tmesim.simulate(model, days=0.1, seed=11)
assert a.summary().equals(b.summary()) and a.events().equals(b.events())
print("identical:", True, "| seed", a.config["seed"], "| tmesim", a.config["tmesim_version"],
      "| format", a.config["format_version"])
print(tmesim.citation(model).splitlines()[0])
