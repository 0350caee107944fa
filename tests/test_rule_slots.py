"""Rule evaluation by Hill slots (tmesim.engine.slots) gives the rule-by-rule numbers bit for bit.

The spatial engine evaluates each distinct Hill response of a cell type's rules once per cell,
reads neighbour-count signals from tables, and computes integer Hill powers without libm
``pow`` where that is certainly what ``pow`` returns. Every shipped result depends on these
floats, so they are compared with the rule-by-rule evaluation (``kernels.behaviour``) and
with ``tmesim.model.response.hill`` for equality, not closeness.
"""

from __future__ import annotations

import numpy as np
from numba import njit

import tmesim
from conftest import build, small_dict
from tmesim.engine import kernels as K
from tmesim.engine.compiled import B_RECRUIT
from tmesim.engine.slots import (
    MAX_FAST_POWER,
    fate_caps,
    fill_tables,
    happens,
    hill_slot,
    never,
    value_cap,
)
from tmesim.model.response import EMPTY, accumulate, combine, hill
from tmesim.model.rules_csv import read_rules_csv


@njit(cache=True)
def _both(s, half, power, n):
    a = np.empty(s.size)
    b = np.empty(s.size)
    for i in range(s.size):
        a[i] = hill(s[i], half, power)
        b[i] = hill_slot(s[i], half, power, n)
    return a, b


def test_hill_slot_is_libm_pow_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    s = np.concatenate([rng.uniform(0, 40, 100_000), np.exp(rng.uniform(-60, 60, 100_000)),
                        rng.uniform(0, 1, 50_000).astype(np.float32).astype(np.float64),
                        np.arange(9) / 8.0, [0.0, -1.0, 1e-300, 1e300, np.inf, np.nan, 2.0 ** -500, 2.0 ** 500]])
    for power in (1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 16.0, 2.5, 17.0):
        n = int(power) if power == int(power) and 2 <= power <= MAX_FAST_POWER else 0
        for half in (0.3, 1.0, 7.5, 38.0):
            a, b = _both(s, half, power, n)
            assert a.tobytes() == b.tobytes(), (power, half, np.flatnonzero(a.view(np.int64) != b.view(np.int64))[:5])


@njit(cache=True)
def _events(u, x):
    out = np.empty((u.size, 2), np.bool_)
    for i in range(u.size):
        out[i, 0] = u[i] < 1.0 - np.exp(-x[i])
        out[i, 1] = happens(u[i], x[i])
    return out


def test_event_test_without_exp_decides_the_same() -> None:
    """u < 1 - exp(-x), with exp skipped where u >= x + 1e-15: the same decision everywhere,
    including u just above and below 1 - exp(-x) and x = 0, tiny, huge, negative, nan."""
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-40, 3, 200_000)), [0.0, -0.0, -1.0, 1e-300, np.inf, np.nan]])
    c = 1.0 - np.exp(-x)
    u = np.concatenate([rng.uniform(0, 1, x.size), np.nextafter(c, 2.0), np.nextafter(c, -1.0), c, x, x + 1e-15])
    xs = np.tile(x, 6)
    keep = (u >= 0.0) & (u < 1.0)
    out = _events(u[keep], xs[keep])
    assert (out[:, 0] == out[:, 1]).all()
    assert out[:, 0].any() and not out[:, 0].all()


@njit(cache=True)
def _slot_vs_rule_by_rule(n, L, C, R, vals, time):
    """Per live cell: (cells checked, behaviour values that differ) between the slot evaluation
    and ``behaviour``, rule by rule."""
    b3, rt, meta, fields, offs = R.b3, R.rt, R.meta, C.fields, L.offs
    occ, dead, ctype, var, is_vessel = C.occ, C.dead, C.ctype, C.var, R.is_vessel
    checked = 0
    bad = 0
    steps = K.site_steps(offs, L.nx, L.ny)
    for i in range(n):
        if dead[i] != K.ALIVE:
            continue
        t = ctype[i]
        x, y, z = C.cx[i], C.cy[i], C.cz[i]
        site = (z * L.ny + y) * L.nx + x
        for p in (2 * t, 2 * t + 1):  # both phases: every behaviour, the deferred ones included
            K.rule_values(p, i, x, y, z, site, 0, time, vals, R.hbuf, R.cbuf, R.slot_ptr, R.sl_int, R.sl_num,
                          R.r_slot, R.htab, R.needs_counts, R.act_ptr, R.act_idx, b3, rt, meta, fields, offs, occ,
                          dead, ctype, var, is_vessel, steps)
        for k in range(R.act_ptr[2 * t], R.act_ptr[2 * t + 2]):
            b = R.act_idx[k]
            ref = K.behaviour(t, b, i, x, y, z, time, b3, rt, meta, fields, offs, occ, dead, ctype, var, is_vessel)
            if ref != vals[0, t, b] and not (np.isnan(ref) and np.isnan(vals[0, t, b])):
                bad += 1
        checked += 1
    return checked, bad


def _check(sim: tmesim.engine.Simulation, steps: int) -> None:
    for _ in range(steps):
        sim.step()
        R, L = sim.rules, sim.lattice
        fill_tables(R.sl_int, R.sl_num, R.htab, sim.time, R.meta[4], L.offs.shape[0])
        checked, bad = _slot_vs_rule_by_rule(sim.n, L, sim._cells(), R, sim.vals, sim.time)
        assert checked > 0 and bad == 0, (checked, bad)


def test_slot_evaluation_is_rule_by_rule_tnbc() -> None:
    """The TNBC model (field, contact, pressure, state-variable and neighbour-mean signals)."""
    _check(tmesim.engine.Simulation(build(small_dict(size=40)), seed=3), 4)


def test_slot_evaluation_is_rule_by_rule_with_drug_and_death_signals() -> None:
    """A drug signal (exposure x delivery), time, contact with dead cells and vessels."""
    d = small_dict(size=32)
    tumor = d["cell_types"][0]["name"]
    d["drugs"] = [{"name": "paclitaxel", "peak": 0.025, "interval": "100 day", "half_life": "1000 day"}]
    d["rules"] = read_rules_csv(d["rules"]) + [
        {"cell_type": tumor, "signal": s, "direction": "increases", "behaviour": "apoptosis", "saturation": 1e-3,
         "half_max": h, "hill_power": p}
        for s, h, p in (("drug paclitaxel", 0.05, 2), ("time", 300.0, 4), ("contact with dead cell", 0.2, 2),
                        ("contact with vessel", 0.5, 3), ("contact with apoptotic cell", 0.1, 1),
                        ("contact with necrotic cell", 0.1, 2.5), ("dead", 0.5, 2))]
    _check(tmesim.engine.Simulation(build(d), seed=4), 4)


@njit(cache=True)
def _law(v0, sat, h, up):
    acc = EMPTY
    for k in range(sat.size):
        acc = accumulate(acc, h[k], up[k], sat[k])
    return combine(v0, acc)


def test_recruitment_cap_bounds_every_rate() -> None:
    """actions.recruit skips the rules of a vessel where the event's uniform number fails the
    cap of the rate (same events only if no rate exceeds it): random base values, saturation
    values across scales and signs, up and down rules, Hill responses including 0 and 1."""
    rng = np.random.default_rng(11)
    b = B_RECRUIT
    for _ in range(20_000):
        n = int(rng.integers(1, 5))
        scale = 10.0 ** rng.uniform(-9, 3)
        v0 = scale * rng.choice([0.0, 1.0, rng.uniform(0, 2)])
        sat = scale * rng.uniform(-0.5, 30, n) * (rng.uniform(0, 1, n) > 0.2)
        h = np.where(rng.uniform(0, 1, n) < 0.2, rng.choice([0.0, 1.0], n), rng.uniform(0, 1, n))
        up = rng.uniform(0, 1, n) < 0.6
        b3 = np.zeros((1, b + 1, 3))
        b3[0, b] = (v0, 0, n)
        rt = np.zeros((n, 8))
        rt[:, 2] = sat
        assert _law(v0, sat, h, up) <= value_cap(b3, rt, 0, b)


def test_fate_caps_bound_every_value_and_never_means_no_event() -> None:
    """kernels.evaluate leaves the fate behaviours of a cell unevaluated where its fate uniform
    passes ``never`` against the type's cap, and skips an attack's target scan the same way with
    the immunogenicity cap: every value the law gives is within ``value_cap``, and a uniform
    that passes ``never`` fails ``happens`` for the total rate x dt, even with every response at
    1 (the total at its largest). Random bases and saturation values across scales and signs."""
    rng = np.random.default_rng(12)
    T, B = 2, 6  # behaviours: 0-1 fixed fates, 2-3 transform to type 0/1, 4-5 immunogenicity to 0/1
    fixed, b_trans, b_immuno = np.array([0, 1]), np.array([2, 3]), np.array([4, 5])
    for _ in range(1000):
        scale = 10.0 ** rng.uniform(-9, 1)
        b3 = np.zeros((T, B, 3))
        rows, laws = [], {}
        for t in range(T):
            for b in range(B):
                n = int(rng.integers(0, 4))
                v0 = scale * rng.choice([0.0, 1.0, rng.uniform(0, 2)])
                sat = scale * rng.uniform(-0.5, 30, n) * (rng.uniform(0, 1, n) > 0.2)
                h = np.where(rng.uniform(0, 1, n) < 0.5, 1.0, rng.uniform(0, 1, n))
                up = rng.uniform(0, 1, n) < 0.6
                b3[t, b] = (v0, len(rows), n)
                rows.extend(sat)
                laws[t, b] = _law(v0, sat, h, up)
        rt = np.zeros((max(len(rows), 1), 8))
        rt[:len(rows), 2] = rows
        dt = float(rng.uniform(0.1, 10))
        caps = np.zeros((T, T + 1))
        fate_caps(b3, rt, fixed, b_trans, b_immuno, dt, caps)
        for t in range(T):
            for b in range(B):
                assert laws[t, b] <= value_cap(b3, rt, t, b)
            total = laws[t, 0] + laws[t, 1] + laws[t, b_trans[1 - t]]
            u = caps[t, T] + 1e-9 * abs(caps[t, T]) + 1e-15
            assert never(u, caps[t, T])
            if 0.0 <= u < 1.0:
                assert not happens(u, total * dt)
            assert laws[1 - t, b_immuno[t]] <= caps[t, 1 - t]
