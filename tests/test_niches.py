"""The four metastatic organ niches (bone, lung, liver, brain): each loads, keeps the contract
the body model relies on, and reproduces its mechanisms as in-silico experiments.

Each experiment runs the shipped niche (50×50 sites, DAYS days, about fifteen arriving
mesenchymal cancer cells) for the same SEEDS in every arm, so each treated run has a control
twin with the same initial tissue, and compares a readout with a one-sided paired t-test
(p < ALPHA), as in test_mechanisms.py. Knockouts edit the model dict only:

* MET is required for outgrowth: with `emt decrease` set to 0 (base value and rules) the
  cancer cells stay mesenchymal and dormant, so the count does not grow (review 88-91);
* bone: blocking TGF-β (no cell secretes it) breaks the vicious cycle and slows growth
  (review 19, 120-122);
* lung: without monocytes/TAMs (their IL-1β and VEGF) growth slows (review 19, 56, 133);
* liver: hepatocyte contact drives MET (review 89): without that rule the cells stay
  mesenchymal;
* brain: without astrocyte support (miR-19a exosomes and contact-induced IL-6, TGF-β,
  IGF-1 and STING cytokines) growth slows (review 147-151).

Arms are cached for the module, so each control runs once per seed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.stats import ttest_rel

import tmesim
from tmesim.engine import kernels as K
from tmesim.model import model_from_dict
from tmesim.model.io_yaml import _read_yaml
from tmesim.model.rules_csv import read_rules_csv

NICHES = ("niche-bone", "niche-lung", "niche-liver", "niche-brain")
DAYS = 5.0
SEEDS = (1, 2, 3)
ALPHA = 0.05


def niche_dict(name: str) -> dict[str, Any]:
    """A niche preset as a plain dict with its rules already read."""
    path = tmesim.preset_path(name)
    d = _read_yaml(path)
    d["rules"] = read_rules_csv(path.parent / d["rules"])
    return d


# ----------------------------------------------------------------- knockouts (model edits)
Edit = Callable[[dict], dict]


def block(*substrates: str) -> Edit:
    """Neutralise substrates: no cell secretes them (base values and secretion rules)."""
    def edit(d: dict) -> dict:
        for ct in d["cell_types"]:
            for s in substrates:
                for key in (f"{s} secretion", f"{s} export"):
                    if key in ct["behaviours"]:
                        ct["behaviours"][key] = 0.0
        d["rules"] = [r for r in d["rules"] if r["behaviour"] not in {f"{s} secretion" for s in substrates}]
        return d
    return edit


def deplete(*types: str) -> Edit:
    """Remove cell types: not placed, not recruited, nothing turns into them."""
    def edit(d: dict) -> dict:
        d["initial"] = [p for p in d["initial"] if p["cell_type"] not in types]
        for ct in d["cell_types"]:
            if ct["name"] in types:
                ct["behaviours"]["recruitment"] = 0.0
            for t in types:
                ct["behaviours"].pop(f"transform to {t}", None)
        d["rules"] = [r for r in d["rules"] if not (r["cell_type"] in types and r["behaviour"] == "recruitment")
                      and r["behaviour"] not in {f"transform to {t}" for t in types}]
        return d
    return edit


def drop_rules(keep_out: Callable[[dict], bool]) -> Edit:
    def edit(d: dict) -> dict:
        d["rules"] = [r for r in d["rules"] if not keep_out(r)]
        return d
    return edit


def no_met(d: dict) -> dict:
    """No mesenchymal-to-epithelial transition: `emt decrease` of cancer cells is 0."""
    for ct in d["cell_types"]:
        if ct["name"] == "cancer":
            ct["behaviours"]["emt decrease"] = 0.0
    d["rules"] = [r for r in d["rules"] if not (r["cell_type"] == "cancer" and r["behaviour"] == "emt decrease")]
    return d


def no_astrocyte_support(d: dict) -> dict:
    """No miR-19a exosomes and no contact-induced astrocyte secretion (IL-6, TGF-β, IGF-1, STING)."""
    d = block("mir19a")(d)
    return drop_rules(lambda r: r["cell_type"] == "astrocyte" and r["signal"] == "contact with cancer")(d)


ARMS: dict[tuple[str, str], Edit] = {
    **{(n, "control"): (lambda d: d) for n in NICHES},
    **{(n, "no_met"): no_met for n in NICHES},
    ("niche-bone", "no_tgfb"): block("tgfb"),
    ("niche-lung", "no_tam"): deplete("monocyte", "TAM"),
    ("niche-liver", "no_hepatocyte_met"): drop_rules(
        lambda r: r["cell_type"] == "cancer" and r["signal"] == "contact with hepatocyte" and r["behaviour"] == "emt decrease"),
    ("niche-brain", "no_astrocyte_support"): no_astrocyte_support,
}

_CACHE: dict[tuple[str, str], list[dict[str, float]]] = {}


def arm(niche: str, name: str) -> list[dict[str, float]]:
    key = (niche, name)
    if key not in _CACHE:
        model = model_from_dict(ARMS[key](copy.deepcopy(niche_dict(niche))))
        out = []
        for seed in SEEDS:
            sim = tmesim.engine.Simulation(model, seed=seed)
            n0 = sim.count("cancer")
            sim.run(days=DAYS)
            cells = sim.cells()
            live = (cells["type"] == sim.cm.type_names.index("cancer")) & (cells["dead"] == K.ALIVE)
            out.append({"n0": float(n0), "n": float(live.sum()),
                        "mean_emt": float(cells["emt"][live].mean()) if live.any() else 1.0})
        _CACHE[key] = out
    return _CACHE[key]


def values(niche: str, name: str, key: str) -> np.ndarray:
    return np.array([r[key] for r in arm(niche, name)])


def paired_p(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """One-sided paired t-test of a against b (same seeds, so the same initial tissue)."""
    d = a - b
    if np.allclose(d, d[0]):  # no spread: decided by the sign alone
        return 0.0 if (d[0] < 0 if alternative == "less" else d[0] > 0) else 1.0
    return float(ttest_rel(a, b, alternative=alternative).pvalue)


def lower(niche: str, treated: str, key: str, than: str = "control") -> None:
    a, b = values(niche, treated, key), values(niche, than, key)
    p = paired_p(a, b, "less")
    assert p < ALPHA, f"{niche} {key}: {treated} {a.tolist()} not lower than {than} {b.tolist()} (paired t p={p:.3f})"


# ------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("niche", NICHES)
def test_niche_loads_and_keeps_the_contract(niche) -> None:
    m = tmesim.load_model(tmesim.preset_path(niche))
    assert m.name == niche
    assert "cancer" in m.cell_type_names and {"emt", "stemness"} <= set(m.state_variables)
    assert m.cell_type("cancer").initial_state["emt"] >= 0.8  # arriving cells are mesenchymal
    gate = [r for r in m.rules if r.cell_type == "cancer" and r.signal == "emt" and r.behaviour == "cycle entry"]
    assert gate and gate[0].direction == "decreases" and float(gate[0].saturation) == 0.0
    assert float(m.cell_type("cancer").behaviours["emt decrease"].value) > 0
    assert any(r.cell_type == "cancer" and r.behaviour == "emt decrease" for r in m.rules), "an organ signal drives MET"
    assert m.domain.shape == [50, 50] and float(m.time.dt.value) == 6.0
    sim = tmesim.engine.Simulation(m, seed=0)
    assert 5 <= sim.count("cancer") <= 20  # a handful of arriving cells
    sim.run(days=0.1)
    assert sim.count("cancer") > 0


@pytest.mark.parametrize("niche", NICHES)
def test_cancer_grows_only_after_met(niche) -> None:
    """Arriving cells grow when MET is possible and stay dormant without it (review 88-91)."""
    n0, grown, dormant = values(niche, "control", "n0"), values(niche, "control", "n"), values(niche, "no_met", "n")
    assert (grown > n0).all(), f"{niche}: no outgrowth {n0.tolist()} -> {grown.tolist()}"
    assert dormant.mean() <= n0.mean(), f"{niche}: growth without MET {n0.tolist()} -> {dormant.tolist()}"
    assert (values(niche, "no_met", "mean_emt") > 0.8).all()
    lower(niche, "no_met", "n")


def test_bone_tgfb_blockade_slows_growth() -> None:
    """TGF-β blockade breaks the vicious cycle (PTHrP, RANKL, osteoclasts, IGF1) [19, 120-122]."""
    lower("niche-bone", "no_tgfb", "n")


def test_lung_monocyte_tam_depletion_slows_growth() -> None:
    """CCL2-recruited monocytes become TAMs whose IL-1β/VEGF support lung colonisation [19, 56, 133]."""
    lower("niche-lung", "no_tam", "n")


def test_liver_hepatocyte_contact_drives_met() -> None:
    """Hepatocytes make breast cancer cells re-express E-cadherin (MET) [89]."""
    lower("niche-liver", "control", "mean_emt", than="no_hepatocyte_met")
    lower("niche-liver", "no_hepatocyte_met", "n")


def test_brain_astrocyte_support_drives_growth() -> None:
    """Astrocyte miR-19a exosomes, IL-6/TGF-β/IGF-1 and STING cytokines support growth [147-151]."""
    lower("niche-brain", "no_astrocyte_support", "n")
