"""The model compiled for the mean-field right-hand side: flat arrays, built from the Model alone.

The behaviour values, rules and their (type, behaviour) groups come from the one rule
compiler both engines use, :func:`tmesim.model.rule_tables.compile_rules` (``tmesim.meanfield``
may import only ``tmesim.model``, see DESIGN.md); this module adds what is the mean-field
engine's own: how each rule's signal is read at the population mean, the lattice's
neighbour-count distribution, and which state components can be non-zero. Nothing here
reads files or depends on the spatial engine.

Signals are classified once per rule (``kind``):

====== ============================================ =========================================
kind   signal                                       well-mixed value
====== ============================================ =========================================
SUB    ``<substrate>``                              the well-mixed concentration
CONT   ``contact with <type>``                      E[H(j/nb)], j ~ Binomial(m, p_type)
PRES   ``pressure``                                 E[H(j/nb)], j ~ Binomial(m, p_occupied)
VES    ``contact with vessel``                      P(j ≥ 1) H(1), j ~ Binomial(m, p_vessel)
VAR    ``<variable>``                               H(mean of the variable over the type)
NVAR   ``neighbour <variable>``                     P(a live neighbour) H(mean over live cells)
TIME   ``time``                                     H(t in minutes)
ZERO   ``dead``, contact with dead / apoptotic /   0 (only live cells are evaluated)
       necrotic cells, ``damage``, ``volume``,
       ``custom:<name>`` (and own variables at a
       vessel site, for recruitment)
PRES   ``contact with live cell``                   as ``pressure`` (every neighbour is live)
EXTRA  any other name (e.g. ``drug <name>``)        H(value given to the engine at time t)
====== ============================================ =========================================

m is the number of in-domain neighbour sites of a site (8 inside a 2D lattice, 5 at an edge,
3 at a corner; its distribution over sites is exact for the model's domain), nb the full
neighbourhood size (8 or 26) — the spatial kernel divides by nb, not m.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tmesim.model import Model
from tmesim.model.rule_tables import compile_rules

# Signals read as 0 by the mean-field engine (see _classify).
ZERO_SIGNALS = frozenset({"dead", "contact with dead cell", "contact with apoptotic cell", "contact with necrotic cell",
                          "apoptotic", "necrotic", "damage", "volume"})
# Signal kinds.
SUB, CONT, PRES, VES, VAR, NVAR, TIME, ZERO, EXTRA = range(9)
# Indices of the fixed behaviours (the first entries of model.grammar.SIMPLE_BEHAVIOURS, in order).
FIXED = ("cycle entry", "apoptosis", "necrosis", "migration speed", "recruitment", "intravasation")


def _hill(s: np.ndarray | float, half: float, power: float) -> np.ndarray:
    s = np.asarray(s, float)
    q = np.where(s > 0, (np.maximum(s, 0) / half) ** power, 0.0)
    return q / (1.0 + q)


_NEIGHBOUR_HILL: dict[tuple[int, float, float], np.ndarray] = {}


def _neighbour_hill(nb: int, half: float, power: float) -> np.ndarray:
    """``_hill(j / nb, half, power)`` for j = 0..nb, kept per process (patients of a cohort share
    most rules' shapes)."""
    key = (nb, half, power)
    out = _NEIGHBOUR_HILL.get(key)
    if out is None:
        if len(_NEIGHBOUR_HILL) >= 4096:
            _NEIGHBOUR_HILL.clear()
        out = _NEIGHBOUR_HILL[key] = _hill(np.arange(nb + 1) / nb, half, power)
    return out


@dataclass
class MeanFieldTables:
    """Everything the mean-field right-hand side reads, as arrays (see :func:`compile_meanfield`)."""

    n_types: int
    n_sub: int
    n_vars: int
    n_beh: int
    dt: float  # minutes: the spatial step, used to turn rates into per-step probabilities
    n_sites: float
    nb: int
    m_vals: np.ndarray  # int64 [M] in-domain neighbour counts present in the lattice
    m_w: np.ndarray  # float64 [M] fraction of sites with that count
    binom: np.ndarray  # float64 [nb+1, nb+1] binomial coefficients
    contact: np.ndarray  # float64 [T, T] contact enrichment of type a with type b (1: random mixing)
    free: np.ndarray  # float64 [T] enrichment of free sites around type a (1: random mixing)
    base: np.ndarray  # float64 [T, B]
    fixed: np.ndarray  # int64 [6] behaviour index of FIXED
    b_sec: np.ndarray  # int64 [S]
    b_sect: np.ndarray
    b_upt: np.ndarray
    b_exp: np.ndarray
    b_trans: np.ndarray  # int64 [T]
    b_attack: np.ndarray
    b_immuno: np.ndarray
    b_vinc: np.ndarray  # int64 [V]
    b_vdec: np.ndarray
    # rule groups (one per (type, behaviour) with rules)
    g_t: np.ndarray  # int64 [G]
    g_b: np.ndarray
    g_start: np.ndarray
    g_count: np.ndarray
    g_site: np.ndarray  # int64 [G] 1: evaluated at a vessel site (recruitment), not for a cell
    # rules, sorted by group
    r_kind: np.ndarray  # int64 [R]
    r_arg: np.ndarray
    r_up: np.ndarray  # int64 [R] 1 increases, 0 decreases
    r_sat: np.ndarray  # float64 [R]
    r_half: np.ndarray
    r_hill: np.ndarray
    r_hj: np.ndarray  # float64 [R, nb+1] H(j/nb) for contact and pressure rules
    # cell types
    is_vessel: np.ndarray  # int64 [T]
    attacked: np.ndarray  # bool [T] some present type can attack this type
    clear_apoptotic: np.ndarray  # float64 [T] 1/min
    clear_necrotic: np.ndarray
    init_state: np.ndarray  # float64 [T, V]
    # substrates
    decay: np.ndarray  # float64 [S]
    diffusion: np.ndarray
    dirichlet: np.ndarray  # int64 [S]
    boundary_value: np.ndarray
    initial: np.ndarray
    half_widths: np.ndarray  # float64 [dims] µm, ghost-to-ghost half width per axis
    m_active: np.ndarray  # int64 flat indices t*V + v of state-variable sums that can be non-zero
    active_idx: np.ndarray  # int64 components of the state vector that can be non-zero (solved for)
    # names
    type_names: list[str] = field(default_factory=list)
    substrate_names: list[str] = field(default_factory=list)
    var_names: list[str] = field(default_factory=list)
    behaviour_names: list[str] = field(default_factory=list)
    extra_signals: list[str] = field(default_factory=list)  # names of EXTRA signals, index = r_arg
    # contact enrichment over time (rhs interpolates into ``contact``/``free``): [K], [K, T, T], [K, T]
    ct_times: np.ndarray = field(default_factory=lambda: np.zeros(1))
    ct_contact: np.ndarray = field(default_factory=lambda: np.ones((1, 1, 1)))
    ct_free: np.ndarray = field(default_factory=lambda: np.ones((1, 1)))
    # perfusion (model.perfusion): [collapse (-1: none), stabilising variable (-1: none), site
    # size µm, dims]; blood-borne substrates [S]; penetration (µm, 0: everywhere) per EXTRA signal
    perf: np.ndarray = field(default_factory=lambda: np.array([-1.0, -1.0, 20.0, 2.0]))
    blood: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pen: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def perf_arrays(self) -> tuple[np.ndarray, ...]:
        """Perfusion arrays, passed to the right-hand side after ``vals``."""
        return self.perf, self.blood, self.pen

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the numba right-hand side takes them."""
        return (
            self.base, self.fixed, self.b_sec, self.b_sect, self.b_upt, self.b_exp, self.b_trans,
            self.b_attack, self.b_immuno, self.b_vinc, self.b_vdec, self.g_t, self.g_b, self.g_start,
            self.g_count, self.g_site, self.r_kind, self.r_arg, self.r_up, self.r_sat, self.r_half,
            self.r_hill, self.r_hj, self.is_vessel, self.clear_apoptotic, self.clear_necrotic,
            self.init_state, self.decay, self.diffusion, self.dirichlet, self.boundary_value,
            self.half_widths, self.m_vals, self.m_w, self.binom, self.contact, self.free,
            self.ct_times, self.ct_contact, self.ct_free,
        )


def neighbour_count_distribution(shape: tuple[int, ...]) -> tuple[int, np.ndarray, np.ndarray]:
    """Moore neighbourhood size nb, and the distribution of in-domain neighbour counts over sites.

    ``shape`` is the domain's shape in sites (x, y[, z]); 2D → nb = 8, 3D → nb = 26.
    """
    dims = len(shape)
    # per axis: number of in-domain positions for offset -1, 0, +1 at each coordinate
    counts = None
    for n in shape:
        c = np.arange(n)
        valid = np.stack([c > 0, np.ones(n, bool), c < n - 1], axis=1).astype(np.int64)  # [n, 3]
        per = valid.sum(1)  # in-domain offsets along this axis (incl. 0)
        counts = per if counts is None else np.multiply.outer(counts, per)
    m = counts.ravel() - 1  # minus the site itself
    vals, freq = np.unique(m, return_counts=True)
    return 3**dims - 1, vals.astype(np.int64), freq / freq.sum()


def _classify(signal: str, rule_type: str, behaviour: str, model: Model, extra: list[str]) -> tuple[int, int]:
    subs, types, vars_ = model.substrate_names, model.cell_type_names, model.state_variables
    site = behaviour == "recruitment"
    if signal in subs:
        return SUB, subs.index(signal)
    if signal == "contact with vessel":
        return VES, 0
    if signal.startswith("contact with ") and signal[len("contact with "):] in types:
        return CONT, types.index(signal[len("contact with "):])
    if signal == "pressure":
        return PRES, 0
    if signal in ZERO_SIGNALS or signal.startswith("custom:"):
        # Only live, undamaged cells are followed; dead neighbours, damage, custom variables
        # and volume have no mean-field counterpart (a documented approximation).
        return ZERO, 0
    if signal == "contact with live cell":
        return PRES, 0
    if signal == "time":
        return TIME, 0
    if signal in vars_:
        return (ZERO, 0) if site else (VAR, vars_.index(signal))
    if signal.startswith("neighbour ") and signal[len("neighbour "):] in vars_:
        return NVAR, vars_.index(signal[len("neighbour "):])
    if signal not in extra:
        extra.append(signal)
    return EXTRA, extra.index(signal)


def compile_meanfield(model: Model) -> MeanFieldTables:
    """Compile ``model`` into the arrays of the mean-field right-hand side: the shared rule
    tables (:func:`tmesim.model.rule_tables.compile_rules`) plus how each rule's signal is read
    at the population mean, and which state components can be non-zero."""
    rt = compile_rules(model)
    subs, types, vars_ = model.substrate_names, model.cell_type_names, model.state_variables
    S, T, V = len(subs), len(types), len(vars_)
    bnames, bidx = rt.behaviour_names, rt.bidx
    B = len(bnames)
    base = rt.base

    shape = tuple(int(n) for n in model.domain.shape)
    nb, m_vals, m_w = neighbour_count_distribution(shape)
    jj = np.arange(nb + 1)
    from math import comb

    binom = np.array([[comb(m, j) if j <= m else 0 for j in jj] for m in jj], float)

    extra: list[str] = []
    rules = rt.rules
    R = len(rules)
    r_kind = np.zeros(R, np.int64)
    r_arg = np.zeros(R, np.int64)
    r_up = rt.r_up.astype(np.int64)
    r_sat, r_half, r_hill = rt.r_sat, rt.r_half, rt.r_hill
    r_hj = np.zeros((max(R, 1), nb + 1))
    for k, r in enumerate(rules):
        r_kind[k], r_arg[k] = _classify(r.signal, r.cell_type, r.behaviour, model, extra)
        r_hj[k] = _neighbour_hill(nb, float(r_half[k]), float(r_hill[k]))
    site = np.array([int(bnames[b] == "recruitment") for b in rt.g_b], np.int64)  # evaluated at a vessel site
    g = np.column_stack([rt.g_t, rt.g_b, rt.g_start, rt.g_count, site]).astype(np.int64).reshape(-1, 5)

    def idx(pattern: str, names: list[str], key: str) -> np.ndarray:
        return rt.index(pattern, names, key)

    init_state = rt.init_state.copy()

    # State-variable sums that can become non-zero: set initially, raised by "<v> increase",
    # or carried in by a transformation from a type where they can be non-zero.
    has_rules = np.zeros((T, B), bool)
    has_rules[g[:, 0], g[:, 1]] = True
    can = init_state != 0
    for p in model.initial:
        for v, val in p.state.items():
            can[types.index(p.cell_type), vars_.index(v)] |= val != 0
    for v in range(V):
        b = bidx[f"{vars_[v]} increase"]
        can[:, v] |= (base[:, b] > 0) | has_rules[:, b]
    trans = np.zeros((T, T), bool)
    for k in range(T):
        b = bidx[f"transform to {types[k]}"]
        trans[:, k] = (base[:, b] > 0) | has_rules[:, b]
    np.fill_diagonal(trans, False)
    while True:
        new = can | (trans.T.astype(int) @ can.astype(int) > 0)
        if (new == can).all():
            break
        can = new
    # Types that can be present: placed, recruited, or reached by a transformation.
    def possible(name: str) -> np.ndarray:
        b = bidx[name]
        return (base[:, b] > 0) | has_rules[:, b]

    present = possible("recruitment").copy()
    for p in model.initial:
        present[types.index(p.cell_type)] = True
    while True:
        new = present | (trans.T.astype(int) @ present.astype(int) > 0)
        if (new == present).all():
            break
        present = new
    attacked = np.zeros(T, bool)
    for k in range(T):
        attacked[k] = (possible(f"attack {types[k]}") & present).any()
    can &= present[:, None]
    m_active = np.flatnonzero(can.ravel()).astype(np.int64)
    active_idx = np.concatenate([
        np.flatnonzero(present), T + np.flatnonzero(present & possible("apoptosis")),
        2 * T + np.flatnonzero(present & attacked),
        3 * T + np.flatnonzero(present & possible("necrosis")), 4 * T + np.arange(S),
        4 * T + S + m_active, [4 * T + S + T * V],
    ]).astype(np.int64)

    dx = model.domain.site_size.value
    return MeanFieldTables(
        n_types=T, n_sub=S, n_vars=V, n_beh=B, dt=model.time.dt.value, n_sites=float(np.prod(shape)),
        nb=nb, m_vals=m_vals, m_w=m_w, binom=binom, contact=np.ones((T, T)), free=np.ones(T), base=base,
        fixed=np.array([bidx[n] for n in FIXED], np.int64),
        b_sec=idx("{s} secretion", subs, "s"), b_sect=idx("{s} secretion target", subs, "s"),
        b_upt=idx("{s} uptake", subs, "s"), b_exp=idx("{s} export", subs, "s"),
        b_trans=idx("transform to {t}", types, "t"), b_attack=idx("attack {t}", types, "t"),
        b_immuno=idx("immunogenicity to {t}", types, "t"),
        b_vinc=idx("{v} increase", vars_, "v"), b_vdec=idx("{v} decrease", vars_, "v"),
        g_t=g[:, 0].copy(), g_b=g[:, 1].copy(), g_start=g[:, 2].copy(), g_count=g[:, 3].copy(),
        g_site=g[:, 4].copy(),
        r_kind=r_kind, r_arg=r_arg, r_up=r_up, r_sat=r_sat, r_half=r_half, r_hill=r_hill, r_hj=r_hj,
        is_vessel=np.array([int(ct.vessel) for ct in model.cell_types], np.int64), attacked=attacked,
        clear_apoptotic=np.array([1.0 / max(ct.apoptotic_clearance.value, 1e-9) for ct in model.cell_types]),
        clear_necrotic=np.array([1.0 / max(ct.necrotic_clearance.value, 1e-9) for ct in model.cell_types]),
        init_state=init_state,
        decay=rt.decay, diffusion=rt.diffusion, dirichlet=rt.dirichlet.astype(np.int64),
        boundary_value=rt.boundary_value, initial=rt.initial,
        half_widths=np.array([(n + 1) * dx / 2.0 for n in shape]), m_active=m_active, active_idx=active_idx,
        type_names=list(types), substrate_names=list(subs), var_names=list(vars_),
        behaviour_names=bnames, extra_signals=extra, **_perfusion(model, extra),
    )


def _perfusion(model: Model, extra: list[str]) -> dict[str, np.ndarray]:
    perf = model.perfusion
    drugs = {f"drug {d.name}": d for d in model.drugs}
    pen = np.array([drugs[e].penetration.value if perf is not None and e in drugs and drugs[e].penetration is not None
                    else 0.0 for e in extra])
    if perf is None:
        return {"pen": pen, "blood": np.zeros(len(model.substrates), np.int64)}
    stab = model.state_variables.index(perf.stabilised_by) if perf.stabilised_by else -1
    return {"perf": np.array([perf.collapse_occupancy, float(stab), model.domain.site_size.value,
                              float(model.domain.dims)]),
            "blood": np.array([int(s in perf.blood_borne) for s in model.substrate_names], np.int64), "pen": pen}
