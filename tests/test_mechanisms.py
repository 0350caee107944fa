"""In-silico experiments on the breast TME catalog: each mechanism the review reports is
tested as a knockout/blockade arm against the unchanged control on a small section
(SIZE×SIZE sites, DAYS days, one run per seed, the same seeds in every arm), compared with a
one-sided paired t-test (p < 0.05) in the direction the review reports. Knockouts edit the model dict only.

Arms are cached for the module, so the control runs once per seed and the TGF-β blockade
serves two experiments.

Proliferation is read as a proliferation index (the in-silico Ki-67: the mean cycle-entry
rate of live cancer cells), not as realised divisions.

Not tested here (left out because they are not robust in 2-day sections): realised
divisions (for IL-6, leptin/adipsin, CAA and CXCL12 knockouts; stemness for
adipsin and CXCL12; monocyte recruitment after CAA removal and CTL apoptosis after Treg
depletion — a handful of cells in 2 days) — realised
divisions are limited by free space, and rule saturations combine as a weighted mean, so
removing one of several saturated growth signals barely moves the division rate (leptin
blockade does not lower the proliferation index either: CAA leptin barely reaches the
nest in a 0.8 mm section); hypoxia
(the small section's Dirichlet boundary keeps it normoxic); MDSC-driven EMT.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, ttest_rel

import tmesim
from conftest import build, catalog_small
from tmesim.engine import kernels as K
from tmesim.engine.summary import tissue_metrics

SIZE = 40
DAYS = 2.0
SEEDS = (1, 2, 3, 4, 5)
ALPHA = 0.05
CAFS = ("CAF_S100A4", "CAF_PDPN")

# The section: a tumor nest filling the centre with stroma, CAF/CAA rim, fat pad along one
# edge and a mixed immune infiltrate (µm; the domain is SIZE*20 µm wide).
_W = SIZE * 20
_C = _W / 2
LAYOUT: list[dict[str, Any]] = [
    {"cell_type": "endothelial", "region": "everywhere", "density": 60},
    {"cell_type": "cancer", "region": "disc", "radius": 0.3 * _W, "fraction": 0.5},
    {"cell_type": "TEC", "region": "disc", "radius": 0.34 * _W, "density": 60},
    {"cell_type": "adipocyte", "region": "box", "low": [0, 0.78 * _W], "high": [_W, _W], "fraction": 0.7},
    {"cell_type": "CAA", "region": "annulus", "radius": 0.42 * _W, "inner_radius": 0.3 * _W, "fraction": 0.06},
    {"cell_type": "fibroblast", "region": "everywhere", "fraction": 0.2},
    {"cell_type": "MSC", "region": "everywhere", "fraction": 0.08},
    {"cell_type": "CAF_S100A4", "region": "annulus", "radius": 0.42 * _W, "inner_radius": 0.3 * _W, "fraction": 0.06},
    {"cell_type": "CAF_PDPN", "region": "annulus", "radius": 0.42 * _W, "inner_radius": 0.3 * _W, "fraction": 0.05},
    {"cell_type": "M2_macrophage", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.2 * _W, "fraction": 0.04},
    {"cell_type": "M1_macrophage", "region": "everywhere", "fraction": 0.06},
    {"cell_type": "N1_neutrophil", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.03},
    {"cell_type": "CD8_T_cell", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.1},
    {"cell_type": "NK_cell", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.08},
    {"cell_type": "Treg", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.03},
    {"cell_type": "Th2", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.06},
    {"cell_type": "Breg", "region": "annulus", "radius": 0.45 * _W, "inner_radius": 0.25 * _W, "fraction": 0.01},
    {"cell_type": "platelet", "region": "disc", "radius": 0.32 * _W, "density": 800},
]


def base() -> dict[str, Any]:
    d = catalog_small(size=SIZE, days=DAYS)
    d["initial"] = copy.deepcopy(LAYOUT)
    return d


def _rules(d: dict[str, Any]) -> list[dict[str, Any]]:
    from tmesim.model.rules_csv import read_rules_csv

    return d["rules"] if isinstance(d["rules"], list) else read_rules_csv(d["rules"])


# ----------------------------------------------------------------- knockouts (model edits)
def block(*substrates: str) -> Callable[[dict], dict]:
    """Neutralise substrates: no cell secretes them (base values and secretion rules)."""
    def edit(d: dict) -> dict:
        for ct in d["cell_types"]:
            for s in substrates:
                for key in (f"{s} secretion", f"{s} export"):
                    if key in ct["behaviours"]:
                        ct["behaviours"][key] = 0.0
        d["rules"] = [r for r in _rules(d) if r["behaviour"] not in {f"{s} secretion" for s in substrates}]
        return d
    return edit


def deplete(*types: str) -> Callable[[dict], dict]:
    """Remove cell types: not placed, not recruited, nothing turns into them."""
    def edit(d: dict) -> dict:
        d["initial"] = [p for p in d["initial"] if p["cell_type"] not in types]
        for ct in d["cell_types"]:
            if ct["name"] in types:
                ct["behaviours"]["recruitment"] = 0.0
            for t in types:
                ct["behaviours"].pop(f"transform to {t}", None)
        d["rules"] = [r for r in _rules(d) if not (r["cell_type"] in types and r["behaviour"] == "recruitment")
                      and r["behaviour"] not in {f"transform to {t}" for t in types}]
        return d
    return edit


def treg_rich(d: dict) -> dict:
    """A Treg-rich infiltrate (the reference for Treg depletion): Tregs at 12 % of the rim."""
    for p in d["initial"]:
        if p["cell_type"] == "Treg":
            p["fraction"] = 0.12
    return d


def pdl1_high(d: dict) -> dict:
    """A PD-L1-high tumor (the reference for the knockout)."""
    for ct in d["cell_types"]:
        if ct["name"] == "cancer":
            ct["initial_state"]["pdl1"] = 0.6
    return d


def pdl1_knockout(d: dict) -> dict:
    for ct in d["cell_types"]:
        if ct["name"] == "cancer":
            ct["initial_state"]["pdl1"] = 0.0
    d["rules"] = [r for r in _rules(d) if r["behaviour"] != "pdl1 increase"]
    return d


ARMS: dict[str, Callable[[dict], dict]] = {
    "control": lambda d: d,
    "tgfb": block("tgfb"),
    "vegf": block("vegf"),
    "il6": block("il6"),
    "ccl3": block("ccl3"),
    "osteopontin": block("osteopontin"),
    "tnfa_il1b": block("tnfa", "il1b"),
    "no_Treg": deplete("Treg"),
    "treg_rich": treg_rich,
    "treg_rich_no_Treg": lambda d: deplete("Treg")(treg_rich(d)),
    "no_Th2": deplete("Th2"),
    "no_platelet": deplete("platelet"),
    "pdl1_high": pdl1_high,
    "pdl1_ko": pdl1_knockout,
}


# ------------------------------------------------------------------------ readouts
def readout(sim: tmesim.engine.Simulation) -> dict[str, float]:
    names = sim.cm.type_names
    tid = {n: i for i, n in enumerate(names)}
    c = sim.counts()
    ev = sim.take_events()
    kind, ctype, arg = ev["kind"], ev["ctype"], ev["arg"]
    cells = sim.cells()
    live_cancer = (cells["type"] == tid["cancer"]) & (cells["dead"] == K.ALIVE)
    emt = cells["emt"][live_cancer]
    kills = Counter(names[a] for a in arg[(kind == K.E_KILLED) & (ctype == tid["cancer"])])
    trans = Counter((names[t], names[a]) for t, a in zip(ctype[kind == K.E_TRANSITION], arg[kind == K.E_TRANSITION], strict=True))
    recruited = Counter(names[t] for t in ctype[kind == K.E_RECRUITMENT])
    m = tissue_metrics(sim)
    # Proliferation index (the in-silico Ki-67): mean cycle-entry rate of live cancer cells.
    prolif = [sim.behaviour_value(int(i), "cycle entry") for i in np.flatnonzero(live_cancer)]
    live_vessel = np.isin(cells["type"], [tid["endothelial"], tid["TEC"]]) & (cells["dead"] == K.ALIVE)
    vessel_prolif = [sim.behaviour_value(int(i), "cycle entry") for i in np.flatnonzero(live_vessel)]
    stroma = sum(c[n] for n in ("fibroblast", "MSC", *CAFS))
    return {
        **{f"n_{k}": float(v) for k, v in c.items()},
        "caf_fraction": sum(c[n] for n in CAFS) / max(stroma, 1),
        "mean_emt": float(emt.mean()) if emt.size else 0.0,
        "hybrid_or_mesenchymal": float((emt >= 1 / 3).mean()) if emt.size else 0.0,
        "mean_stemness": float(cells["stemness"][live_cancer].mean()) if live_cancer.any() else 0.0,
        "proliferation_index": float(np.mean(prolif)) if prolif else 0.0,
        "cancer_divisions": float(((kind == K.E_DIVISION) & (ctype == tid["cancer"])).sum()),
        "cd8_kills": float(kills["CD8_T_cell"]),
        "cd8_apoptosis": float(((kind == K.E_APOPTOSIS) & (ctype == tid["CD8_T_cell"])).sum()),
        "nk_kills": float(kills["NK_cell"]),
        "msc_to_caf": float(sum(trans[("MSC", n)] for n in CAFS)),
        "msc_to_fibroblast": float(trans[("MSC", "fibroblast")]),
        "n1_to_n2": float(trans[("N1_neutrophil", "N2_neutrophil")]),
        "monocytes_recruited": float(recruited["monocyte"]),
        "mdsc_recruited": float(recruited["MDSC"]),
        "m1_m2_ratio": (c["M1_macrophage"] + 1) / (c["M2_macrophage"] + 1),
        "m2_fraction": c["M2_macrophage"] / max(c["M1_macrophage"] + c["M2_macrophage"], 1),
        "to_m2": float(trans[("M1_macrophage", "M2_macrophage")] + trans[("monocyte", "M2_macrophage")]),
        "mean_oxygen": m["mean_oxygen"],
        "vessels": float(c["endothelial"] + c["TEC"]),
        "vessel_divisions": float(((kind == K.E_DIVISION) & np.isin(ctype, [tid["endothelial"], tid["TEC"]])).sum()),
        "vessel_proliferation": float(np.mean(vessel_prolif)) if vessel_prolif else 0.0,
        "hypoxic_fraction": m["hypoxic_fraction"],
    }


_CACHE: dict[str, list[dict[str, float]]] = {}


def arm(name: str, seeds: tuple[int, ...] = SEEDS) -> list[dict[str, float]]:
    key = f"{name}:{','.join(map(str, seeds))}"
    if key not in _CACHE:
        model = build(ARMS[name](base()))
        _CACHE[key] = [readout(tmesim.engine.Simulation(model, seed=s).run(days=DAYS)) for s in seeds]
    return _CACHE[key]


def paired_p(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """One-sided paired t-test of a against b (same seeds, so the same initial tissue)."""
    d = a - b
    if np.allclose(d, d[0]):  # no spread: decided by the sign alone
        return 0.0 if (d[0] < 0 if alternative == "less" else d[0] > 0) else 1.0
    return float(ttest_rel(a, b, alternative=alternative).pvalue)


def compare(treated: str, key: str, alternative: str, than: str = "control",
            seeds: tuple[int, ...] = SEEDS) -> None:
    """Assert the treated arm's readout is lower/higher than the reference arm's.

    Arms share seeds, so each treated run has a control twin with the same initial tissue
    and random streams; the paired one-sided t-test removes the seed-to-seed spread. The
    unpaired one-sided Mann–Whitney U test is reported alongside in the failure message.
    """
    a = np.array([r[key] for r in arm(treated, seeds)])
    b = np.array([r[key] for r in arm(than, seeds)])
    p = paired_p(a, b, alternative)
    u = mannwhitneyu(a, b, alternative=alternative).pvalue
    word = "lower" if alternative == "less" else "higher"
    assert p < ALPHA, (f"{key}: {treated} {a.round(3).tolist()} not {word} than {than} {b.round(3).tolist()} "
                       f"(paired t p={p:.3f}, Mann-Whitney p={u:.3f})")


def lower(treated: str, key: str, than: str = "control") -> None:
    compare(treated, key, "less", than)


def higher(treated: str, key: str, than: str = "control") -> None:
    compare(treated, key, "greater", than)


# --------------------------------------------------------------------- experiments
def test_tgfb_blockade_lowers_caf_fraction_and_emt() -> None:
    """CAFs and TAMs secrete TGF-β1, which makes CAFs [20] and drives EMT [63]."""
    lower("tgfb", "caf_fraction")
    lower("tgfb", "mean_emt")


def test_tgfb_blockade_keeps_neutrophils_n1() -> None:
    """TGF-β polarises tumor-associated neutrophils from N1 to N2 [62]."""
    # N1->N2 transitions are a handful per section, so this comparison uses ten seeds.
    compare("tgfb", "n1_to_n2", "less", seeds=tuple(range(1, 11)))


def test_pdl1_knockout_raises_ctl_killing() -> None:
    """PD-L1 inactivates cytotoxic T cells [60]."""
    higher("pdl1_ko", "cd8_kills", than="pdl1_high")


def test_treg_depletion_raises_m1_m2_ratio() -> None:
    """Tregs sustain M2 macrophages by opposing IFN-γ reprogramming [67]."""
    higher("treg_rich_no_Treg", "m1_m2_ratio", than="treg_rich")


def test_vegf_blockade_lowers_angiogenesis() -> None:
    """VEGF drives endothelial proliferation, i.e. angiogenesis [33, 34] (the vessels' mean
    cycle-entry rate: the few vessel divisions of a 2-day section are too rare to compare)."""
    lower("vegf", "vessel_proliferation")


def test_il6_blockade_lowers_proliferation_index() -> None:
    """IL-6 (CAAs, CAFs, TAMs) promotes tumor cell proliferation via JAK/STAT3 [46, 47]."""
    lower("il6", "proliferation_index")


def test_ccl3_knockout_lowers_mdsc() -> None:
    """Tumor CCL3 recruits MDSCs to the primary tumor [66] (MDSCs entering over the run: the few
    present at the end also depend on how many died). Blood-borne cells enter only next to
    perfused vessels, so recruitments are a handful per section: ten seeds."""
    compare("ccl3", "mdsc_recruited", "less", seeds=tuple(range(1, 11)))


def test_il6_blockade_lowers_stemness() -> None:
    """IL-6 induces and maintains breast cancer stem cells [47]."""
    lower("il6", "mean_stemness")


def test_tnfa_il1b_drive_msc_to_caf() -> None:
    """TNF-α and IL-1β turn MSCs into CAFs [29]."""
    lower("tnfa_il1b", "msc_to_caf")


def test_osteopontin_drives_msc_to_fibroblast() -> None:
    """Tumor osteopontin drives MSC differentiation to fibroblasts [31]."""
    lower("osteopontin", "msc_to_fibroblast")


def test_th2_depletion_lowers_m2() -> None:
    """Th2 cells (IL-4) switch macrophages from M1 to M2 [71]."""
    lower("no_Th2", "to_m2")


def test_platelets_protect_from_nk_killing() -> None:
    """Tumor cells coated by platelets escape immune (NK) recognition (Figure 1 legend)."""
    # NK kills are few per section, so this comparison uses ten seeds for power.
    compare("no_platelet", "nk_kills", "greater", seeds=tuple(range(1, 11)))


@pytest.mark.parametrize("name", sorted(ARMS))
def test_arms_are_valid_models(name) -> None:
    m = build(ARMS[name](base()))
    assert m.name == "catalog"
