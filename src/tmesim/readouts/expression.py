"""The count model behind the synthetic single-cell, spatial and region readouts.

Every cell gets an *expression profile*: a non-negative weight per gene of the panel, read
from data files that cite their sources (``readouts/data/``):

* ``expression_profiles.csv`` — ``cell_type,state,gene,mean,source``. Rows with state
  ``base`` give the weight of a gene in that cell type (``*``: every cell type, the
  housekeeping genes). Rows whose state names a state variable (``emt``, ``pdl1``,
  ``stemness``, ``exhaustion``) give the weight when that variable is 1; a cell with value
  ``v`` gets ``base + v · (at_one − base)`` (deltas of several variables add up).
* ``library_sizes.csv`` — ``cell_type,median_counts,source``: median panel counts per cell.
* ``substrate_genes.csv`` — ``substrate,gene,source``: the gene of each secreted signal. A
  cell type whose model secretes a substrate at base rate ``r`` (1/min) expresses that gene
  with weight ``CYTOKINE_WEIGHT · min(r / CYTOKINE_RATE, 2)``, so cytokine expression follows
  the model's own secretion table (custom models included).

Genes a cell type does not list get ``BACKGROUND`` (ambient RNA). A cell type that is not in
the profiles borrows the profile of a listed type whose name contains it or is contained in
it (``CAF`` → ``CAF_S100A4``, ``macrophage`` → ``M1_macrophage``), vessel types without a
match borrow ``endothelial``, and any other type gets housekeeping genes only (``*``) plus its
cytokines; the mapping is recorded in ``uns``.

Counts (one cell *i*, gene *g*, weights ``w``):

    p_ig = w_ig / Σ_g w_ig                       (composition of the cell's library)
    L_i  = median_counts(type) · exp(LIBRARY_SIGMA · N(0, 1))     (library-size variation)
    μ_ig = L_i · p_ig
    λ_ig ~ Gamma(shape = NB_THETA, scale = μ_ig / NB_THETA)
    n_ig ~ Poisson(λ_ig)                         (negative binomial, variance μ + μ²/θ)
    n_ig ← 0 with probability DROPOUT_MAX · exp(−μ_ig / DROPOUT_SCALE)   (dropout)

All draws come from one ``numpy.random.Generator`` seeded by the caller, so the same
snapshot and seed give the same counts.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from tmesim._resources import data_path
from tmesim.model import Model
from tmesim.model.roles import Role, catalog_roles

DATA = data_path("tmesim.readouts", "data")
PROFILES_CSV = DATA / "expression_profiles.csv"
LIBRARY_CSV = DATA / "library_sizes.csv"
SUBSTRATE_GENES_CSV = DATA / "substrate_genes.csv"

BACKGROUND = 0.5  # assumption: ambient RNA gives every gene a small weight (≈0.5 per 10k counts)
CYTOKINE_WEIGHT = 40.0  # assumption: a secreting cell expresses its cytokine as a mid-level transcript
CYTOKINE_RATE = 0.02  # 1/min; assumption: the catalog's typical secretion rate maps to CYTOKINE_WEIGHT
LIBRARY_SIGMA = 0.4  # assumption: log-normal library sizes, coefficient of variation ≈ 40 % (10x data)
NB_THETA = 5.0  # assumption: NB inverse dispersion of UMI counts within a cell state (dispersion 0.2)
DROPOUT_MAX = 0.3  # assumption: extra technical zeros for lowly expressed genes ...
DROPOUT_SCALE = 5.0  # ... fading out with expected count (counts)

COUNT_MODEL = {
    "distribution": "negative binomial (gamma-Poisson)", "nb_theta": NB_THETA,
    "library_size": "median_counts(type) * exp(sigma * N(0,1))", "library_sigma": LIBRARY_SIGMA,
    "dropout": "zero with probability dropout_max * exp(-mu / dropout_scale)",
    "dropout_max": DROPOUT_MAX, "dropout_scale": DROPOUT_SCALE, "background_weight": BACKGROUND,
    "cytokine_weight": CYTOKINE_WEIGHT, "cytokine_rate_per_min": CYTOKINE_RATE,
    "profiles": PROFILES_CSV.name, "library_sizes": LIBRARY_CSV.name, "substrate_genes": SUBSTRATE_GENES_CSV.name,
}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=1)
def data_hash() -> str:
    """SHA-256 of the three data files (recorded in ``uns`` as provenance)."""
    h = hashlib.sha256()
    for p in (PROFILES_CSV, LIBRARY_CSV, SUBSTRATE_GENES_CSV):
        h.update(p.read_bytes())
    return h.hexdigest()


def profile_tables() -> dict[str, pd.DataFrame]:
    """The three data tables as DataFrames (``profiles``, ``library_sizes``, ``substrate_genes``)."""
    return {"profiles": pd.read_csv(PROFILES_CSV), "library_sizes": pd.read_csv(LIBRARY_CSV),
            "substrate_genes": pd.read_csv(SUBSTRATE_GENES_CSV)}


@dataclass
class ExpressionModel:
    """Per-type base weights and per-variable deltas on a fixed gene panel, for one model."""

    genes: list[str]
    gene_kind: list[str]  # housekeeping / marker / cytokine
    gene_substrate: list[str]  # the substrate a cytokine gene stands for ("" otherwise)
    types: list[str]  # the model's cell types, in model order
    base: np.ndarray  # (n_types, n_genes)
    deltas: dict[str, np.ndarray]  # variable -> (n_types, n_genes): at_one - base (0 where unlisted)
    library: np.ndarray  # (n_types,) median counts
    fallback: dict[str, str] = field(default_factory=dict)  # model type -> profile type used

    def weights(self, type_codes: np.ndarray, variables: dict[str, np.ndarray]) -> np.ndarray:
        """Expression weights (n_cells, n_genes) of cells of these types with these state variables."""
        w = self.base[type_codes].astype(np.float64)
        for var, delta in self.deltas.items():
            v = variables.get(var)
            if v is None:
                continue
            w += np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)[:, None] * delta[type_codes]
        return np.maximum(w, BACKGROUND)

    def expected_fractions(self, type_codes: np.ndarray, variables: dict[str, np.ndarray]) -> np.ndarray:
        """Expected share of each gene in each cell's library (rows sum to 1)."""
        w = self.weights(type_codes, variables)
        return w / w.sum(axis=1, keepdims=True)

    def sample_counts(self, type_codes: np.ndarray, variables: dict[str, np.ndarray],
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(counts (n_cells, n_genes) int32, library size drawn per cell) from the count model."""
        p = self.expected_fractions(type_codes, variables)
        n = len(type_codes)
        lib = self.library[type_codes] * np.exp(LIBRARY_SIGMA * rng.standard_normal(n))
        mu = lib[:, None] * p
        lam = rng.gamma(NB_THETA, mu / NB_THETA)
        counts = rng.poisson(lam)
        drop = rng.random(mu.shape) < DROPOUT_MAX * np.exp(-mu / DROPOUT_SCALE)
        counts[drop] = 0
        return counts.astype(np.int32), lib


def _secretion_rates(model: Model) -> dict[str, dict[str, float]]:
    """cell type -> substrate -> base secretion rate (1/min) from the model."""
    out: dict[str, dict[str, float]] = {}
    subs = {s.name for s in model.substrates}
    for ct in model.cell_types:
        rates: dict[str, float] = {}
        for key, val in ct.behaviours.items():
            if key.endswith(" secretion") and key.removesuffix(" secretion") in subs:
                v = float(getattr(val, "value", val))
                if v > 0:
                    rates[key.removesuffix(" secretion")] = v
        out[ct.name] = rates
    return out


def _match_profile(name: str, listed: list[str], vessel: bool, role: str | None = None) -> str:
    """The profile row of a cell type: its own, one whose name contains it (or the reverse),
    the first of the same role (a vessel cell: of endothelium), else the generic ``*``."""
    if name in listed:
        return name
    low = name.lower()
    for t in listed:
        if t != "*" and (low in t.lower() or t.lower() in low):
            return t
    known = catalog_roles()
    role = role if role is not None else (Role.ENDOTHELIAL if vessel else None)
    for t in listed:
        if role is not None and known.get(t, (None, ()))[0] == role:
            return t
    return "*"


def expression_model(model: Model) -> ExpressionModel:
    """The expression profiles of ``model``'s cell types on the panel (see module doc)."""
    prof = _read(PROFILES_CSV)
    libs = {r["cell_type"]: float(r["median_counts"]) for r in _read(LIBRARY_CSV)}
    sub_gene = {r["substrate"]: r["gene"] for r in _read(SUBSTRATE_GENES_CSV)}

    genes: list[str] = []
    kind: dict[str, str] = {}
    for r in prof:
        if r["gene"] not in kind:
            genes.append(r["gene"])
            kind[r["gene"]] = "housekeeping" if r["cell_type"] == "*" else "marker"
    model_subs = [s.name for s in model.substrates]
    gene_sub: dict[str, str] = {}
    for s in model_subs:
        g = sub_gene.get(s)
        if g is None:
            continue
        gene_sub[g] = s
        if g not in kind:
            genes.append(g)
            kind[g] = "cytokine"
    gidx = {g: i for i, g in enumerate(genes)}

    listed = list(dict.fromkeys(r["cell_type"] for r in prof))
    types = [ct.name for ct in model.cell_types]
    vessel = {ct.name: bool(getattr(ct, "vessel", False)) for ct in model.cell_types}
    variables = sorted({r["state"] for r in prof} - {"base"})
    T, G = len(types), len(genes)
    base = np.zeros((T, G))
    at_one = {v: np.full((T, G), np.nan) for v in variables}
    fallback: dict[str, str] = {}
    rates = _secretion_rates(model)
    library = np.zeros(T)
    for ti, name in enumerate(types):
        src = _match_profile(name, listed, vessel[name], model.cell_type(name).role)
        if src != name:
            fallback[name] = src
        for r in prof:
            if r["cell_type"] not in ("*", src):
                continue
            gi, val = gidx[r["gene"]], float(r["mean"])
            if r["state"] == "base":
                base[ti, gi] = max(base[ti, gi], val)
            else:
                at_one[r["state"]][ti, gi] = val
        for s, rate in rates.get(name, {}).items():
            g = sub_gene.get(s)
            if g is not None:
                base[ti, gidx[g]] = max(base[ti, gidx[g]], CYTOKINE_WEIGHT * min(rate / CYTOKINE_RATE, 2.0))
        library[ti] = libs.get(src, libs.get(name, libs["*"]))
    base = np.maximum(base, BACKGROUND)
    deltas = {v: np.where(np.isnan(a), 0.0, a - base) for v, a in at_one.items()}
    return ExpressionModel(genes=genes, gene_kind=[kind[g] for g in genes],
                           gene_substrate=[gene_sub.get(g, "") for g in genes], types=types, base=base,
                           deltas=deltas, library=library, fallback=fallback)
