"""The mean-field solver's cheaper Jacobian path against the reference path.

LSODA is handed back its last Jacobian while it steps forward (MeanField(reuse_jacobian=True),
the default) instead of a fresh finite-difference Jacobian on every request; drug exposures
are evaluated by a compiled kernel. Both change results only within the solver tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import tmesim
from tmesim.cohort import sample_patients
from tmesim.cohort.patient import treated_patient
from tmesim.meanfield import MeanField

COLUMNS = ("cancer", "CD8_T_cell", "M2_macrophage", "oxygen", "tgfb", "intravasation_per_day",
           "killed_per_day_cancer")


def test_reused_jacobian_matches_fresh_jacobians_within_tolerance() -> None:
    """A treated TNBC patient (28-day run-in, 84 days of atezolizumab + nab-paclitaxel, the trial
    section): the same trajectory within rtol-scale differences, with several times fewer
    Jacobians; and the same numbers on a second run (deterministic)."""
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    row = sample_patients(model, 2, 0).to_dict("records")[1]
    _, tm = treated_patient(model, row, ["atezolizumab+nab-paclitaxel@day=0"], 28.0)
    t = np.arange(0.0, 113.0)
    old = MeanField(tm, reuse_jacobian=False)
    ref = old.run(days=112, t_eval=t)
    new = MeanField(tm)
    got = new.run(days=112, t_eval=t)
    assert new.jacobians * 2.5 < old.jacobians, (new.jacobians, old.jacobians)
    for c in COLUMNS:
        scale = np.maximum(np.abs(ref[c].to_numpy()), 1e-6 * np.abs(ref[c].to_numpy()).max() + 1e-12)
        rel = np.max(np.abs(got[c].to_numpy() - ref[c].to_numpy()) / scale)
        assert rel < 5e-3, (c, rel)  # rtol is 1e-3; the paths differ by ~1e-4 here
    assert got.equals(MeanField(tm).run(days=112, t_eval=t))


def test_compiled_exposures_match_vectorised_exposures() -> None:
    """Exposures.fill (compiled, the solver's path) equals Exposures() to the last bits, at the
    positions it is asked to write and nowhere else."""
    from tmesim.model.drugs import Drug
    from tmesim.model.pk import Exposures
    from tmesim.model.therapies import therapy_catalog

    cat = therapy_catalog()
    drugs = [Drug.model_validate({**raw, "name": name, "start": 3 * 1440.0}) for name, raw in cat.drugs.items()]
    assert any(len(d.offsets) > 1 for d in drugs) and any(d.cycles for d in drugs)
    vec = Exposures(drugs)
    where = np.arange(len(drugs), dtype=np.intp)[::-1] * 2 + 1
    out = np.full(2 * len(drugs) + 1, -7.0)
    times = np.concatenate([np.random.default_rng(1).uniform(-100.0, 400 * 1440.0, 300), np.arange(0, 60 * 1440, 720.0)])
    for t in times:
        vec.fill(float(t), out, where)
        np.testing.assert_allclose(out[where], vec(float(t)), rtol=1e-13, atol=0.0)
        assert np.all(out[::2] == -7.0)


def test_selective_jacobian_equals_full_evaluation() -> None:
    """Re-evaluating only the behaviour groups a column reaches gives the same Jacobian, entry
    for entry, as re-evaluating every group for every column (treated TNBC patient with the
    measured-style contact course off and on, states along its trajectory)."""
    from tmesim.meanfield.rhs import jacobian

    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    row = sample_patients(model, 2, 0).to_dict("records")[1]
    _, tm = treated_patient(model, row, ["atezolizumab+nab-paclitaxel@day=0"], 28.0)
    names = tm.cell_type_names
    contacts = {(names[0], names[1]): 0.5, (names[-1], names[0]): 2.0, (names[0], "(free site)"): 0.7}
    for ct in (None, contacts):
        mf = MeanField(tm, contacts=ct)
        assert len(mf.tables.arrays()) == 40  # jacobian reads g_t, g_b and vals by position
        mf.run(days=40, t_eval=np.arange(0.0, 41.0, 4.0))
        n, G = len(mf._idx), mf.tables.g_t.shape[0]
        every = (np.arange(n + 1, dtype=np.int64) * G, np.tile(np.arange(G, dtype=np.int64), n))
        assert mf._dep_grp.shape[0] < every[1].shape[0] // 3  # most columns reach few groups
        tb = mf.tables
        for i in range(mf.Y.shape[1]):
            t, yr = float(mf.t_min[i]), np.ascontiguousarray(mf.Y[mf._idx, i])
            got = mf._jac(t, yr)
            want = np.zeros_like(got)
            jacobian(t, yr, want, mf._idx, mf._y, mf._dy, mf._aux, mf._extra_at(t), *every, tb.n_types, tb.n_sub,
                     tb.n_vars, tb.n_sites, tb.dt, *mf._arrays)
            assert np.array_equal(got, want), np.argwhere(got != want)[:5]


def test_compiled_call_path_gives_the_same_floats() -> None:
    """odeint calling the packed kernels directly (tmesim.meanfield.packed) and the Python methods
    in between (the path a caller's signal function takes) give the same table bit for bit, with
    drug exposures and a contact time course; the right-hand side's memo (recompute only on new
    inputs) is exercised by the Jacobian columns."""
    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    row = sample_patients(model, 2, 0).to_dict("records")[1]
    _, tm = treated_patient(model, row, ["atezolizumab+nab-paclitaxel@day=0"], 2.0)
    names = tm.cell_type_names
    course = pd.DataFrame({"cell_type": [names[0]] * 3, "neighbour": [names[1], names[1], "(free site)"],
                           "enrichment": [0.5, 1.5, 0.7], "time_days": [0.0, 3.0, 0.0]})
    t = np.arange(0.0, 9.0)
    fast = MeanField(tm, contacts=course)
    assert fast._pack is not None
    slow = MeanField(tm, contacts=course)
    slow._pack = None
    a, b = fast.run(days=8, t_eval=t), slow.run(days=8, t_eval=t)
    assert fast.jacobians > 0 and fast.jacobians == slow.jacobians
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    given = MeanField(tm, signals={f"drug {d.name}": 0.5 for d in tm.drugs})  # constants: packed, no PK fill
    assert given._pack is not None
    given.run(days=1)


def test_memo_jacobian_equals_columns_computed_afresh() -> None:
    """Each Jacobian column (memo of the right-hand side's costly pieces kept between columns,
    only dependent behaviour groups re-evaluated) equals, bit for bit, the difference of two
    right-hand sides computed from scratch (memo cleared, every group), along a treated
    patient's trajectory with a contact time course."""
    from tmesim.meanfield.rhs import ALL, rhs_reduced

    model = tmesim.load_model(tmesim.preset_path("tnbc"))
    row = sample_patients(model, 2, 0).to_dict("records")[1]
    _, tm = treated_patient(model, row, ["atezolizumab+nab-paclitaxel@day=0"], 2.0)
    names = tm.cell_type_names
    course = pd.DataFrame({"cell_type": [names[0]] * 2, "neighbour": [names[1]] * 2,
                           "enrichment": [0.5, 1.5], "time_days": [0.0, 6.0]})
    mf = MeanField(tm, contacts=course)
    mf.run(days=6, t_eval=np.arange(0.0, 7.0, 2.0))
    tb, n = mf.tables, len(mf._idx)
    scalars = (tb.n_types, tb.n_sub, tb.n_vars, tb.n_sites, tb.dt)

    def afresh(t: float, y: np.ndarray) -> np.ndarray:
        mf._memo[:] = np.nan
        out = np.empty(n)
        rhs_reduced(t, y, out, mf._idx, mf._y, mf._dy, mf._aux, mf._extra_at(t), ALL, *scalars, *mf._arrays)
        return out

    differenced = [j for j in range(n) if not tb.n_types <= mf._idx[j] < 4 * tb.n_types]  # corpses: one shared column
    for i in range(mf.Y.shape[1]):
        t, yr = float(mf.t_min[i]), np.ascontiguousarray(mf.Y[mf._idx, i])
        got = mf._jac(t, yr)
        f0 = afresh(t, yr)
        for j in differenced[:-1]:  # the last: the cumulative intravasation, not differenced
            h = 1e-7 * max(abs(yr[j]), 1.0)
            yp = yr.copy()
            yp[j] += h
            assert np.array_equal(got[:, j], (afresh(t, yp) - f0) / h), (i, j)
