"""The whole body: a primary tumor that sheds cells (here at the rate its mean-field section
shows over a week) drives CTCs, organ arrival, dormancy and metastases in bone, lung, liver
and brain."""

import tmesim
from tmesim.body import PatientOptions
from tmesim.body.primary import SheddingProfile
from tmesim.model.roles import Role

model = tmesim.load_model(tmesim.preset_path("tnbc"))
traj = tmesim.simulate(model, engine="meanfield", days=7).metrics()
tumor = traj[model.types_with_role(Role.CANCER)].sum(axis=1)
rate = float((traj["intravasation_per_day"] / tumor).iloc[-3:].mean())  # cells shed per tumor cell and day
shedding = SheddingProfile.from_rate(rate, [1 / 3, 1 / 3, 1 / 3])       # EMT classes: equal shares
result = tmesim.Patient(model, seed=7, options=PatientOptions(niche_days=1.0), shedding=shedding).run()
print(f"shedding {rate:.2e} cells per tumor cell and day; diagnosis at day {result.diagnosis_day:.0f}")
print(result.first_metastasis[["organ", "days_from_diagnosis", "expected_metastases"]].to_string(index=False))
