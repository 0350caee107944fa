"""The tumor microenvironment protects tumor cells against chemotherapy (review:20, 32, 46, 47).

Drug rules join the same rule accumulator as every other rule (``tmesim.model.response``), so
the catalog's survival rules — IL-6 via JAK/STAT3 and contact with CAFs — lower
paclitaxel-induced apoptosis. A small lattice of tumor cells under a constant paclitaxel
exposure (2 days, spatial engine), with the catalog's own apoptosis rules for tumor cells:

* with IL-6-secreting CAFs among the tumor cells, fewer tumor cells die than without CAFs;
* protection is lost when the protecting cell is removed (no CAFs) and falls when only the
  signal is removed (CAFs that secrete no IL-6: contact protection alone);
* the same in the mean-field engine (the one response law).

Each comparison runs the same seeds (paired) and is tested one-sided (Wilcoxon signed-rank on the pairs) over them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

import tmesim
from tmesim.engine.kernels import APOPTOTIC, E_APOPTOSIS
from tmesim.model.rules_csv import read_rules_csv
from tmesim.model.therapies import CATALOG_DIR

SEEDS = (1, 2, 3, 4, 5)
SIZE = 24
CANCER_RULES = {"apoptosis"}


def _catalog_rules(ctypes: set[str], behaviours: set[str]) -> list[dict[str, Any]]:
    path = tmesim.preset_path("catalog").parent / "catalog_rules.csv"
    return [r for r in read_rules_csv(path) if r["cell_type"] == "cancer" and r["behaviour"] in behaviours
            and (not r["signal"].startswith("contact with") or r["signal"].removeprefix("contact with ") in ctypes)
            and r["signal"] in ({"il6"} | {f"contact with {c}" for c in ctypes})]


def model(cafs: bool, caf_il6: bool = True) -> tmesim.Model:
    """Tumor cells (no division, no oxygen) with CAFs scattered among them (or none), and a
    constant paclitaxel exposure of 0.025 µg/mL (about half its half-max: the kill stays partial over
    the 2 days, so protection can show)."""
    caf: dict[str, Any] = {"name": "CAF_S100A4", "behaviours": {}}
    if caf_il6:
        caf["behaviours"] = {"il6 secretion": 0.03, "il6 secretion target": 50}
    d: dict[str, Any] = {
        "name": "protection",
        "domain": {"dims": 2, "shape": [SIZE, SIZE], "site_size": "20 um"},
        "time": {"dt": "6 min", "days": 2, "output_interval": "1 day", "checkpoint_interval": "1 day"},
        "state_variables": [],
        "substrates": [{"name": "il6", "diffusion": 3000, "decay": 0.04, "boundary": "no_flux"}],
        "cell_types": [{"name": "cancer", "behaviours": {"apoptosis": 5.3e-5}}, caf,
                       {"name": "endothelial", "vessel": True}],
        "rules": _catalog_rules({"CAF_S100A4"}, CANCER_RULES),
        "drugs": [{"name": "paclitaxel", "peak": 0.025, "interval": "100 day", "half_life": "1000 day"}],
        "initial": [{"cell_type": "endothelial", "region": "everywhere", "fraction": 0.02},
                    {"cell_type": "cancer", "region": "everywhere", "fraction": 0.7}]
        + ([{"cell_type": "CAF_S100A4", "region": "everywhere", "fraction": 0.25}] if cafs else []),
    }
    path = Path(CATALOG_DIR) / "therapy_rules.csv"
    d["rules"] += [r for r in read_rules_csv(path) if r["cell_type"] == "cancer" and r["signal"] == "drug paclitaxel"
                   and r["behaviour"] == "apoptosis"]
    return tmesim.model_from_dict(d)


def killed_fraction(m: tmesim.Model, seed: int) -> float:
    sim = tmesim.engine.Simulation(m, seed=seed)
    cancer = m.cell_type_names.index("cancer")
    n0 = int(np.count_nonzero(sim.ctype[: sim.n] == cancer))
    sim.run(days=2)
    ev = sim.take_events()
    died = np.count_nonzero((ev["kind"] == E_APOPTOSIS) & (ev["ctype"] == cancer))
    assert APOPTOTIC == 1
    return died / n0


def test_caf_and_il6_protect_tumor_cells_against_paclitaxel() -> None:
    arms = {name: [killed_fraction(model(*args), s) for s in SEEDS]
            for name, args in {"none": (False,), "caf": (True, True), "caf_no_il6": (True, False)}.items()}
    # The protecting cell present: fewer tumor cells die under the same exposure.
    assert wilcoxon(arms["caf"], arms["none"], alternative="less").pvalue < 0.05, arms
    # Removing the signal (IL-6) gives back part of the killing (contact protection remains).
    assert wilcoxon(arms["caf"], arms["caf_no_il6"], alternative="less").pvalue < 0.05, arms
    assert wilcoxon(arms["caf_no_il6"], arms["none"], alternative="less").pvalue < 0.05, arms
    # The magnitude is a partial protection, not an immunity: the drug still kills.
    assert np.mean(arms["caf"]) > 0.2 * np.mean(arms["none"]), arms


def test_meanfield_shares_the_protection() -> None:
    from tmesim.meanfield import MeanField

    out = {}
    for name, args in {"none": (False,), "caf": (True, True)}.items():
        m = model(*args)
        mf = MeanField(m)
        v = mf.run(days=2.0, t_eval=np.array([0.0, 2.0]))
        out[name] = float(v["cancer"].iloc[-1] / v["cancer"].iloc[0])
    assert out["caf"] > out["none"] + 0.05, out
