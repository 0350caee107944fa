"""Section → body coupling: a patient's own primary section sets its metastatic cascade.

The section (spatial or mean-field, :mod:`tmesim.body.section`) is a daily time course of
cell counts, mean cancer-cell states and substrate concentrations. Averaged over its last
``coupling.window`` days it gives *section quantities*; each body-level factor is a
documented map (:class:`tmesim.model.body.Map`, ``score = max·q^h/(q^h+half^h)``, each with
its source in the model data) of one quantity:

* shedding: intravasated cells per tumor cell and day (the section's rate; the whole
  tumor's time course is this rate × its Gompertz size until surgery, Butler & Gullino 1975);
* CTC phenotype: EMT class mix of departing cells (the section's EMT distribution — a Beta
  law around its mean, ``emt_spread`` — weighted by each class's intravasation propensity,
  hybrid E/M highest, review:78, 79), stemness (→ colony founding, review:78, 81) and PD-L1
  (→ escape from NK killing in blood);
* clusters: the share of departing cells that leave in clusters (measured from the spatial
  section's intravasation events when it has them, else the map of its junctional —
  epithelial + hybrid — share; review:83, 84) and their partners: the chance that a cluster
  carries a platelet, neutrophil, CAF or M2 macrophage is ``1 - exp(-contacts · d)`` with
  ``d`` that role's cells per tumor cell in the section (heterotypic clusters, Szczerba et
  al. Nature 2019;566:553; Duda et al. PNAS 2010;107:21677);
* systemic priming: tumor factor scores (VEGF, MMPs, TGF-β, CCL2, myeloid expansion,
  cathepsin S, CXCR4 seeds, RANKL response, exosome cargo…) that open organ barriers,
  attract cells and prime niches, plus exosome release per tumor cell and the platelet
  shield of CTCs in blood.

Subtypes therefore differ through their TME, not through per-subtype organ scores. Every
factor, its value, the quantity it came from and that quantity's value is one row of
:attr:`Coupled.table` (written as ``body/coupling.parquet``).

Hand-written rather than from a library: these are a few closed-form maps over one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_law

from tmesim.engine.summary import EMT_BANDS, HYPOXIA_MMHG
from tmesim.model import Model, ModelError
from tmesim.model.body import EMT_CLASSES, TUMOR_FACTORS, Coupling, Map

from .primary import MIN_PER_DAY, SheddingProfile


@dataclass(frozen=True)
class Coupled:
    """What one patient's section sets at the body level."""

    shedding: SheddingProfile
    factors: dict[str, float]
    partners: dict[str, float]  # share of clusters carrying each partner
    cluster_survival: float  # factor on the blood death hazard of a cluster from its partners
    cluster_founding: float  # factor on a cluster's colony founding from its partners
    founding: float  # factor on colony founding from the CTCs' stemness
    nk_activity: float  # factor on NK killing of CTCs (PD-L1 escape)
    exosome_release: float  # factor on exosome release per tumor cell
    platelet_shield: float  # factor on circulation.platelet_shield
    quantities: dict[str, float] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def _score(m: Map, q: float) -> float:
    q = max(float(q), 0.0) if np.isfinite(q) else 0.0
    return float(m.max * q**m.hill / (q**m.hill + m.half**m.hill))


def class_shares(mean_emt: float, spread: float) -> np.ndarray:
    """Shares of epithelial, hybrid and mesenchymal cells for a Beta law of EMT scores with
    mean ``mean_emt`` and concentration ``spread`` (assumption: a unimodal spread of EMT
    states within a tumor around the section's mean)."""
    m = float(np.clip(mean_emt if np.isfinite(mean_emt) else 0.0, 1e-3, 1 - 1e-3))
    cdf = beta_law.cdf([EMT_BANDS[1][0], EMT_BANDS[2][0]], m * spread, (1 - m) * spread)
    return np.array([cdf[0], cdf[1] - cdf[0], 1.0 - cdf[1]])


def quantities(section: pd.DataFrame, model: Model, c: Coupling) -> dict[str, float]:
    """Section quantities averaged over the last ``c.window`` days."""
    t = section["time_days"].to_numpy(float)
    win = c.window.value / MIN_PER_DAY
    w = section[t >= t.max() - win - 1e-9].mean(numeric_only=True)
    cols = set(section.columns)
    for role, types in c.groups.items():
        bad = [x for x in types if x not in model.cell_type_names]
        if bad:
            raise ModelError(f"body.coupling.groups.{role}", f"unknown cell type(s) {bad}; the model has "
                                                              f"{', '.join(model.cell_type_names)}")
    tumor = c.groups["tumor"]
    counts = {x: float(w[x]) if x in cols else 0.0 for x in tumor}
    n = max(sum(counts.values()), 1.0)

    def state(var: str) -> float:
        vals = [(counts[x], float(w[f"mean_{var}_{x}"])) for x in tumor
                if f"mean_{var}_{x}" in cols and np.isfinite(w[f"mean_{var}_{x}"])]
        tot = sum(k for k, _ in vals)
        return sum(k * v for k, v in vals) / tot if tot > 0 else 0.0

    q: dict[str, float] = {"tumor_cells": n, "shedding": float(w.get("intravasation_per_day", 0.0)) / n,
                           "emt": state("emt"), "stemness": state("stemness"), "pdl1": state("pdl1")}
    share = class_shares(q["emt"], c.emt_spread.value)
    q |= dict(zip(EMT_CLASSES, share.tolist(), strict=True))
    q["junctional"] = q["epithelial"] + q["hybrid"]
    o2 = float(w["oxygen"]) if "oxygen" in cols else np.inf
    q["hypoxia"] = HYPOXIA_MMHG / (HYPOXIA_MMHG + o2)  # 0.5 at the hypoxia cut-off pO2
    q["tumor_death"] = sum(float(w.get(f"dead_{x}", 0.0)) for x in tumor) / n
    if "intravasation_cluster_cells_per_day" in cols and float(w["intravasation_per_day"]) > 0:
        q["measured_cluster_fraction"] = float(w["intravasation_cluster_cells_per_day"]) / float(w["intravasation_per_day"])
    for role, types in c.groups.items():
        q[f"group:{role}"] = sum(float(w[x]) for x in types if x in cols) / n
    for s in model.substrate_names:
        if s in cols:
            q[f"substrate:{s}"] = float(w[s])
    return q


def couple(section: pd.DataFrame, model: Model, exosomes: bool = True) -> Coupled:
    """The body-level factors of one patient from its section (see the module notes)."""
    body = model.body
    if body is None or body.coupling is None:
        raise ModelError("body.coupling", "the model's body has no coupling: section (see docs/body.md)")
    c = body.coupling
    q = quantities(section, model, c)
    rows: list[dict[str, object]] = []

    def use(name: str, m: Map, kind: str) -> float:
        v = _score(m, q.get(m.quantity, 0.0))
        rows.append({"factor": name, "kind": kind, "value": v, "quantity": m.quantity,
                     "section_value": q.get(m.quantity, 0.0), "half": m.half, "max": m.max, "source": m.source})
        return v

    def record(name: str, kind: str, value: float, quantity: str, source: str) -> None:
        rows.append({"factor": name, "kind": kind, "value": float(value), "quantity": quantity,
                     "section_value": float(q.get(quantity, np.nan)), "half": np.nan, "max": np.nan, "source": source})

    # CTC phenotype and shedding
    share = np.array([q[k] for k in EMT_CLASSES])
    prop = np.array([c.emt_propensity[k].value for k in EMT_CLASSES])
    dep = share * prop
    dep = dep / dep.sum() if dep.sum() > 0 else np.full(3, 1 / 3)
    junc = dep * np.array([1.0, 1.0, 0.0])  # clusters need cell-cell junctions (review:83, 84)
    junc = junc / junc.sum() if junc.sum() > 0 else np.array([0.0, 1.0, 0.0])
    if "measured_cluster_fraction" in q:
        cf = q["measured_cluster_fraction"]
        record("cluster_fraction", "ctc", cf, "measured_cluster_fraction", "measured: intravasation events of the spatial section")
    else:
        cf = use("cluster_fraction", c.cluster_fraction, "ctc")
    cf = float(np.clip(cf, 0.0, 1.0))
    size = c.cluster_size.value
    rate = max(q["shedding"], 0.0) / MIN_PER_DAY
    shed = SheddingProfile(rate * (1.0 - cf) * dep, rate * cf * junc / size, size, 0.0, 0, share)
    record("shedding_per_cell_day", "ctc", q["shedding"], "shedding", "measured: the section's intravasation flux per tumor cell")
    for k, cls in enumerate(EMT_CLASSES):
        record(f"ctc_share_{cls}", "ctc", dep[k], cls, c.emt_propensity[cls].source or "")
    founding = use("stemness_founding", c.founding, "ctc")
    nk = 1.0 - c.pdl1_escape.value * float(np.clip(q["pdl1"], 0.0, 1.0))
    record("nk_activity", "ctc", nk, "pdl1", c.pdl1_escape.source or "")

    # Heterotypic clusters: partner shares, survival and founding gains.
    partners, surv, found = {}, 1.0, 1.0
    for name, p in c.partners.items():
        d = q.get(f"group:{p.group}", 0.0)
        share_p = float(1.0 - np.exp(-p.contacts * d))
        partners[name] = share_p
        surv *= 1.0 - share_p * p.survival.value
        found *= 1.0 + share_p * (p.founding.value - 1.0)
        record(f"cluster_partner_{name}", "cluster", share_p, f"group:{p.group}", p.source)
    record("cluster_death_factor", "cluster", surv, "", "product over partners of (1 - share x survival)")
    record("cluster_founding_factor", "cluster", found, "", "product over partners of (1 + share x (founding - 1))")

    # Systemic factors
    factors = {f: 0.0 for f in TUMOR_FACTORS}
    for f, m in c.factors.items():
        factors[f] = min(1.0, use(f, m, "systemic"))
    release = use("exosome_release", c.exosome_release, "systemic") if exosomes else 0.0
    if not exosomes:
        record("exosome_release", "systemic", 0.0, "", "knockout: exosome release blocked (Rab27a; Peinado et al. Nat Med 2012;18:883)")
    shield = use("platelet_shield", c.shield, "ctc")
    table = pd.DataFrame(rows, columns=["factor", "kind", "value", "quantity", "section_value", "half", "max", "source"])
    return Coupled(shed, factors, partners, surv, found, founding, nk, release, shield, q, table)


__all__ = ["Coupled", "class_shares", "couple", "quantities"]
