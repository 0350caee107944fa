"""Engines: the same model with the spatial engine (cells on a lattice) and the mean-field
engine (the same rules as ODEs); both return a Run with the same tables."""

import tmesim
from tmesim.model.roles import Role

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
tumor = model.types_with_role(Role.CANCER)
for engine in tmesim.ENGINES:
    run = tmesim.simulate(model, engine=engine, days=0.1, seed=1)
    s = run.summary()
    live = s[~s.state.isin(["apoptotic", "necrotic", "killed"]) & s.cell_type.isin(tumor)]  # spatial: by EMT state
    counts = live.groupby("time_days")["count"].sum()
    print(f"{engine:9s}: tumor cells {counts.iloc[0]:.0f} -> {counts.iloc[-1]:.0f} "
          f"in {run.info['wall_seconds']:.1f} s ({run.path})")
