"""A Model compiled once into flat arrays that numba kernels index directly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tmesim.model import Model
from tmesim.model.rule_tables import compile_rules

# Indices of the fixed behaviours (the entries of model.grammar.SIMPLE_BEHAVIOURS, in order).
B_CYCLE, B_APOPTOSIS, B_NECROSIS, B_SPEED, B_RECRUIT, B_INTRAVASATE, B_CLUSTER = range(7)
(B_BIAS, B_DAMAGE, B_REPAIR, B_ATTACK_DAMAGE, B_ATTACK_DURATION,
 B_EAT_APOPTOTIC, B_EAT_NECROTIC, B_EAT_OTHER) = range(7, 15)
B_EXCHANGE = 15


@dataclass
class CompiledModel:
    """Everything the kernels need, as arrays; built by :func:`compile_model`."""

    n_sub: int
    n_types: int
    n_vars: int
    n_beh: int
    grid: tuple[int, int, int]  # (nz, ny, nx)
    dx: float
    dt: float
    # behaviours
    base: np.ndarray  # float64 [T, B]
    active: np.ndarray  # bool [T, B]: base differs from default or rules exist
    b_sec: np.ndarray  # int32 [S] index of "<s> secretion"
    b_sect: np.ndarray
    b_upt: np.ndarray
    b_exp: np.ndarray
    b_chemo: np.ndarray
    b_trans: np.ndarray  # int32 [T]
    b_attack: np.ndarray
    b_immuno: np.ndarray
    b_vinc: np.ndarray  # int32 [V]
    b_vdec: np.ndarray
    b_custom: np.ndarray  # int32 [C] index of "custom:<c>"
    b_eat: np.ndarray  # int32 [T] "phagocytose <t>"
    b_fuse: np.ndarray  # int32 [T]
    b_asym: np.ndarray  # int32 [T] "asymmetric division to <t>"
    # rules, grouped by (type, behaviour)
    r_start: np.ndarray  # int32 [T, B]
    r_count: np.ndarray  # int32 [T, B]
    r_sig: np.ndarray  # int32 [R]
    r_up: np.ndarray  # bool [R]
    r_sat: np.ndarray  # float64 [R]
    r_half: np.ndarray
    r_hill: np.ndarray
    r_dead: np.ndarray  # bool [R]
    # signals
    sig_contact0: int  # first "contact with <type>" signal
    sig_pressure: int
    sig_dead: int
    sig_time: int
    sig_vessel: int
    sig_var0: int
    sig_nvar0: int
    # cell types
    is_vessel: np.ndarray  # bool [T]
    clear_apoptotic: np.ndarray  # float64 [T] minutes
    clear_necrotic: np.ndarray
    init_state: np.ndarray  # float32 [T, W]: initial per-cell array of a new cell of each type
    # The per-cell array has W = V + C + 2 columns: state variables, custom variables, damage,
    # volume (the signals of the same names read them).
    col_damage: int
    col_volume: int
    recruitable: np.ndarray  # int32 list of types with recruitment
    act_ptr: np.ndarray  # int32 [T+1] CSR pointers into act_idx
    act_idx: np.ndarray  # int32 behaviours with rules, per type
    # substrates
    diffusion: np.ndarray  # float64 [S]
    decay: np.ndarray
    dirichlet: np.ndarray  # bool [S]
    boundary_value: np.ndarray
    initial: np.ndarray
    # names, for outputs
    substrate_names: list[str]
    type_names: list[str]
    var_names: list[str]
    behaviour_names: list[str]
    signal_names: list[str]
    # drugs (signals "drug <name>", last in signal order): rule rows reading a drug and which
    # drug each reads; the simulation writes C(t) into column 6 of those rule rows each step.
    sig_drug0: int = 0  # first drug signal (= number of signals when there are none)
    drug_names: list[str] = field(default_factory=list)
    drug_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    drug_of_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # perfusion (model.perfusion; collapse < 0: none): blood-borne substrates, and each drug's
    # penetration length (µm; 0: reaches every site)
    collapse: float = -1.0
    stab_var: int = -1  # state variable stabilising vessels against compression (-1: none)
    blood_borne: np.ndarray = field(default_factory=lambda: np.zeros(0, np.bool_))
    drug_penetration: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # field-field reactions (model.reactions), one row each: substrate, enzyme, kind (0
    # degradation, 1 saturation), inhibitor (-1 none); rate, half-max, Hill power, inhibition
    rx_int: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    rx_num: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    custom_names: list[str] = field(default_factory=list)
    uses_damage: bool = False  # some type has a damage, repair or attack-damage behaviour, or a rule reads damage


def compile_model(model: Model) -> CompiledModel:
    """``model`` for the spatial kernels: the shared rule tables (:func:`tmesim.model.rule_tables.compile_rules`)
    plus the lattice, per-cell columns, signal indices and kernel lookups."""
    rt = compile_rules(model)
    subs, types, vars_ = model.substrate_names, model.cell_type_names, model.state_variables
    S, T, V = len(subs), len(types), len(vars_)
    bidx = rt.bidx
    sigs = model.signals()
    sidx = {s: i for i, s in enumerate(sigs)}
    B = len(rt.behaviour_names)
    default, base = rt.default, rt.base

    rules = rt.rules
    r_start = np.zeros((T, B), np.int32)
    r_count = np.zeros((T, B), np.int32)
    r_start[rt.g_t, rt.g_b] = rt.g_start
    r_count[rt.g_t, rt.g_b] = rt.g_count
    r_sig = np.array([sidx[r.signal] for r in rules], np.int32)
    r_up, r_sat, r_half, r_hill, r_dead = rt.r_up, rt.r_sat, rt.r_half, rt.r_hill, rt.r_dead

    active = (base != default[None, :]) | (r_count > 0)

    def idx(pattern: str, names: list[str], key: str) -> np.ndarray:
        return rt.index(pattern, names, key).astype(np.int32)

    customs = list(getattr(model, "custom_variables", []))
    C = len(customs)
    col_damage, col_volume = V + C, V + C + 1
    init_state = np.zeros((T, V + C + 2), np.float32)
    site_volume = model.domain.site_size.value ** 3
    init_state[:, :V] = rt.init_state
    for ti, ct in enumerate(model.cell_types):
        for c, name in enumerate(customs):
            init_state[ti, V + c] = base[ti, bidx[f"custom:{name}"]]
        init_state[ti, col_volume] = ct.volume.value if ct.volume is not None else site_volume
    var_block = vars_ + [f"custom:{c}" for c in customs] + ["damage", "volume"]
    uses_damage = bool(active[:, [B_DAMAGE, B_REPAIR, B_ATTACK_DAMAGE]].any()) or any(r.signal == "damage" for r in rules)

    with_rules = r_count > 0
    act_ptr = np.concatenate([[0], np.cumsum(with_rules.sum(1))]).astype(np.int32)
    act_idx = np.concatenate([np.flatnonzero(with_rules[t]) for t in range(T)] + [np.zeros(0, int)]).astype(np.int32)
    recruitable = np.array([t for t in range(T) if active[t, B_RECRUIT]], np.int32)
    drug_names = [d.name for d in getattr(model, "drugs", [])]
    sig_drug0 = len(sigs) - len(drug_names)
    drug_rows = np.flatnonzero(r_sig >= sig_drug0).astype(np.int64)
    rx = model.reactions
    rx_int = np.array([[subs.index(r.substrate), subs.index(r.by), 0 if r.kind == "degradation" else 1,
                        subs.index(r.inhibited_by) if r.inhibited_by else -1] for r in rx], np.int64).reshape(-1, 4)
    rx_num = np.array([[r.rate.value, float(r.half_max), r.hill_power, r.inhibition] for r in rx],
                      np.float64).reshape(-1, 4)
    drug_of_row = (r_sig[drug_rows] - sig_drug0).astype(np.int64)
    perf = getattr(model, "perfusion", None)

    return CompiledModel(
        n_sub=S, n_types=T, n_vars=V, n_beh=B,
        grid=model.domain.grid, dx=model.domain.site_size.value, dt=model.time.dt.value,
        base=base, active=active,
        b_sec=idx("{s} secretion", subs, "s"), b_sect=idx("{s} secretion target", subs, "s"),
        b_upt=idx("{s} uptake", subs, "s"), b_exp=idx("{s} export", subs, "s"),
        b_chemo=idx("chemotactic response to {s}", subs, "s"),
        b_trans=idx("transform to {t}", types, "t"), b_attack=idx("attack {t}", types, "t"),
        b_immuno=idx("immunogenicity to {t}", types, "t"),
        b_vinc=idx("{v} increase", vars_, "v"), b_vdec=idx("{v} decrease", vars_, "v"),
        b_custom=idx("custom:{c}", customs, "c"), b_eat=idx("phagocytose {t}", types, "t"),
        b_fuse=idx("fuse to {t}", types, "t"), b_asym=idx("asymmetric division to {t}", types, "t"),
        r_start=r_start, r_count=r_count, r_sig=r_sig, r_up=r_up, r_sat=r_sat, r_half=r_half,
        r_hill=r_hill, r_dead=r_dead,
        sig_contact0=S, sig_pressure=sidx["pressure"], sig_dead=sidx["dead"], sig_time=sidx["time"],
        sig_vessel=sidx["contact with vessel"], sig_var0=sidx[var_block[0]],
        sig_nvar0=sidx[var_block[-1]] + 1,
        is_vessel=np.array([ct.vessel for ct in model.cell_types]),
        clear_apoptotic=np.array([ct.apoptotic_clearance.value for ct in model.cell_types]),
        clear_necrotic=np.array([ct.necrotic_clearance.value for ct in model.cell_types]),
        init_state=init_state, col_damage=col_damage, col_volume=col_volume, recruitable=recruitable, act_ptr=act_ptr, act_idx=act_idx,
        diffusion=rt.diffusion, decay=rt.decay, dirichlet=rt.dirichlet, boundary_value=rt.boundary_value,
        initial=rt.initial, substrate_names=subs, type_names=types, var_names=vars_,
        behaviour_names=rt.behaviour_names, signal_names=sigs,
        sig_drug0=sig_drug0, drug_names=drug_names, drug_rows=drug_rows, drug_of_row=drug_of_row,
        collapse=perf.collapse_occupancy if perf is not None else -1.0,
        stab_var=vars_.index(perf.stabilised_by) if perf is not None and perf.stabilised_by else -1,
        blood_borne=np.array([perf is not None and s in perf.blood_borne for s in subs], np.bool_),
        drug_penetration=np.array([d.penetration.value if (perf is not None and d.penetration is not None) else 0.0
                                   for d in getattr(model, "drugs", [])]),
        rx_int=rx_int, rx_num=rx_num,
        custom_names=customs, uses_damage=uses_damage,
    )
