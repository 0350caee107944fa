"""Interoperability: a run directory is Parquet, Zarr and YAML that pandas and xarray read
directly; rules go to and come from PhysiCell's rules CSV."""

import pandas as pd
import xarray as xr

import tmesim

model = tmesim.load_model(tmesim.preset_path("tnbc-core"))
run = tmesim.simulate(model, days=0.1, seed=5, out="interop-run")
summary = pd.read_parquet(run.path / "summary.parquet")
fields = xr.open_zarr(run.path / "fields.zarr", consolidated=False)
print(summary.groupby("cell_type")["count"].last().sort_values(ascending=False).head(3).to_string())
print("fields:", list(fields.data_vars)[:4], "dims", dict(fields.sizes))
