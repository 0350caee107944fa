"""Therapies: add a catalog regimen to a model and compare the tumor with and without it
(mean-field engine, 21 days)."""

import tmesim
from tmesim.model.roles import Role
from tmesim.therapy import apply_therapies, list_therapies

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
print("catalog:", ", ".join(list_therapies()[:5]), "...")
treated = apply_therapies(model, ["nab-paclitaxel@day=2"])
print("drugs added:", [d.name for d in treated.drugs])
tumor = model.types_with_role(Role.CANCER)
for name, m in (("untreated", model), ("nab-paclitaxel", treated)):
    s = tmesim.simulate(m, engine="meanfield", days=21).summary()
    end = s[(s.state == "live") & s.cell_type.isin(tumor) & (s.time_days == s.time_days.max())]["count"].sum()
    print(f"{name:15s}: {end:,.0f} tumor cells at day 21")
