"""Drug rules act after a cell's own rules, so survival signals cannot cancel a drug."""

from __future__ import annotations

import numpy as np

import tmesim
from conftest import small_dict
from tmesim.therapy import apply_therapies


def _apoptosis(with_drug: bool) -> float:
    d = small_dict(size=24, days=0.2)
    # A saturating survival signal: every cancer cell's apoptosis is pulled to 0 by "time".
    d["rules"] = list(tmesim.model_from_dict(d).model_dump(mode="json")["rules"]) + [{
        "cell_type": "cancer", "signal": "time", "direction": "decreases", "behaviour": "apoptosis",
        "saturation": 0.0, "half_max": 1.0, "hill_power": 1, "source": "assumption: test",
        "statement": "saturating survival signal"}]
    model = tmesim.model_from_dict(d)
    if with_drug:
        model = apply_therapies(model, ["nab-paclitaxel@hour=1"])
    sim = tmesim.Simulation(model, seed=1)
    sim.run(days=0.1)  # 2.4 h: one hour after the infusion
    cells = sim.cells()
    i = int(np.nonzero((cells["type"] == model.cell_type_names.index("cancer")) & (cells["dead"] == 0))[0][0])
    return sim.behaviour_value(i, "apoptosis")


def test_saturating_survival_signal_does_not_cancel_chemotherapy() -> None:
    untreated = _apoptosis(False)
    treated = _apoptosis(True)
    assert untreated < 1e-6  # the survival rule holds apoptosis at its floor
    assert treated > 1e-4  # the drug still raises it (paclitaxel: up to 3e-4 /min)
