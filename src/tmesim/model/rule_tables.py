"""The one rule compiler: a Model's behaviours and rules as flat arrays, for every engine.

Both engines evaluate the same thing — each cell type's base behaviour values, changed by
its rules (signal, direction, saturation, half-max, Hill power), rules of one (type,
behaviour) combined together — so both read it from :func:`compile_rules`: the spatial
engine (:func:`tmesim.engine.compile_model`) adds lattice and kernel tables, the mean-field
engine (:func:`tmesim.meanfield.compile_meanfield`) adds how it reads each signal at the
population mean. It lives in ``tmesim.model`` because the mean-field engine may import only
the model (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .schema import Model, Rule


@dataclass(frozen=True)
class RuleTables:
    """Behaviour values and rules of a model as arrays (T types, B behaviours, R rules, S
    substrates, V state variables).

    Rules are sorted by (type, behaviour), so the rules of one (type, behaviour) form one
    contiguous group: ``g_t``, ``g_b`` (its type and behaviour), ``g_start`` (first rule),
    ``g_count`` (how many), in rule order.
    """

    type_names: list[str]
    substrate_names: list[str]
    var_names: list[str]
    behaviour_names: list[str]
    bidx: dict[str, int]  # behaviour name -> index
    default: np.ndarray  # float64 [B] the grammar's default value of each behaviour
    base: np.ndarray  # float64 [T, B] each type's base values (defaults where not given)
    rules: list[Rule]  # sorted by (type, behaviour)
    r_type: np.ndarray  # int64 [R]
    r_beh: np.ndarray  # int64 [R]
    r_up: np.ndarray  # bool [R] the rule increases its behaviour
    r_sat: np.ndarray  # float64 [R] behaviour value at saturating signal
    r_half: np.ndarray  # float64 [R] signal at half effect (1 when there are no rules)
    r_hill: np.ndarray  # float64 [R]
    r_dead: np.ndarray  # bool [R] applies to dead cells too
    g_t: np.ndarray  # int64 [G]
    g_b: np.ndarray  # int64 [G]
    g_start: np.ndarray  # int64 [G]
    g_count: np.ndarray  # int64 [G]
    init_state: np.ndarray  # float64 [T, V] state variables of a new cell of each type
    # substrates
    diffusion: np.ndarray  # float64 [S]
    decay: np.ndarray  # float64 [S]
    dirichlet: np.ndarray  # bool [S]
    boundary_value: np.ndarray  # float64 [S]
    initial: np.ndarray  # float64 [S]

    def index(self, pattern: str, names: list[str], key: str) -> np.ndarray:
        """int64 behaviour indices of ``pattern`` for each name, e.g.
        ``index("{s} uptake", substrate_names, "s")``."""
        return np.array([self.bidx[pattern.format(**{key: n})] for n in names], np.int64)


def compile_rules(model: Model) -> RuleTables:
    """The behaviour and rule tables of ``model`` (validated and resolved)."""
    subs, types, vars_ = model.substrate_names, model.cell_type_names, model.state_variables
    T, V = len(types), len(vars_)
    behs = model.behaviours()
    bnames = [b.name for b in behs]
    bidx = {n: i for i, n in enumerate(bnames)}
    default = np.array([b.default for b in behs], float)
    base = np.tile(default, (T, 1))
    for ti, ct in enumerate(model.cell_types):
        for name, p in ct.behaviours.items():
            base[ti, bidx[name]] = float(p.value)

    rules = sorted(model.rules, key=lambda r: (types.index(r.cell_type), bidx[r.behaviour]))
    R = len(rules)
    r_type = np.array([types.index(r.cell_type) for r in rules], np.int64)
    r_beh = np.array([bidx[r.behaviour] for r in rules], np.int64)
    r_sat, r_half, r_hill = np.zeros(R), np.ones(R), np.ones(R)
    for k, r in enumerate(rules):
        r_sat[k], r_half[k], r_hill[k] = float(r.saturation), float(r.half_max), float(r.hill_power)
    groups: list[list[int]] = []  # [t, b, start, count]
    for k in range(R):
        if groups and groups[-1][0] == r_type[k] and groups[-1][1] == r_beh[k]:
            groups[-1][3] += 1
        else:
            groups.append([int(r_type[k]), int(r_beh[k]), k, 1])
    g = np.array(groups, np.int64).reshape(-1, 4)

    init_state = np.zeros((T, V))
    for ti, ct in enumerate(model.cell_types):
        for v, val in ct.initial_state.items():
            init_state[ti, vars_.index(v)] = val

    return RuleTables(
        type_names=list(types), substrate_names=list(subs), var_names=list(vars_), behaviour_names=bnames,
        bidx=bidx, default=default, base=base, rules=rules, r_type=r_type, r_beh=r_beh,
        r_up=np.array([r.direction == "increases" for r in rules], np.bool_),
        r_sat=r_sat, r_half=r_half, r_hill=r_hill,
        r_dead=np.array([r.apply_to_dead for r in rules], np.bool_),
        g_t=g[:, 0].copy(), g_b=g[:, 1].copy(), g_start=g[:, 2].copy(), g_count=g[:, 3].copy(),
        init_state=init_state,
        diffusion=np.array([s.diffusion.value for s in model.substrates], float),
        decay=np.array([s.decay.value for s in model.substrates], float),
        dirichlet=np.array([s.boundary == "dirichlet" for s in model.substrates], np.bool_),
        boundary_value=np.array([float(s.boundary_value) for s in model.substrates], float),
        initial=np.array([float(s.initial) for s in model.substrates], float),
    )


__all__ = ["RuleTables", "compile_rules"]
