"""Solving the mean-field ODEs with scipy and returning pandas tables.

Long module: the contact time courses, the solver call and the readout columns (including the
perfusion-derived hypoxic fraction) are one `MeanField.run`; split, each part would only be
called from the others."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import odeint, solve_ivp

from tmesim.model import Model
from tmesim.model.drugs import Drug
from tmesim.model.grammar import FREE_SITE
from tmesim.model.pk import Exposures, exposure
from tmesim.units import MINUTES_PER_DAY as MIN_PER_DAY

from .compile import MeanFieldTables, compile_meanfield
from .initial import expected_initial
from .packed import Pack, pack
from .rhs import (
    ALL,
    jacobian,
    layout,
    memo_size,
    packed_fun,
    packed_jac,
    packed_rates,
    rhs,
    rhs_reduced,
)
from .structure import binomial_slots, group_dependencies, rate_links

SignalValue = float | Callable[[float], float]
Contacts = Mapping[tuple[str, str], float] | pd.DataFrame
CONTACT_COLUMNS = ("cell_type", "neighbour", "enrichment")
HOLD_DAYS = 7.0  # a time course is held, after its last day, at the mean of its last week


def contact_course(type_names: Sequence[str],
                   contacts: Contacts | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contact and free-site enrichment over time: times ``[K]`` (minutes), ``[K, T, T]`` and
    ``[K, T]``. A table with a ``time_days`` column (as :func:`tmesim.engine.contacts.contact_enrichment`
    returns by default) gives one entry per time; anything else one entry (K = 1).
    Pairs not given stay at 1. Errors name the offending entry and the allowed values."""
    T = len(type_names)
    if contacts is None:
        return np.zeros(1), np.ones((1, T, T)), np.ones((1, T))
    if isinstance(contacts, pd.DataFrame):
        missing = [c for c in CONTACT_COLUMNS if c not in contacts.columns]
        if missing:
            raise ValueError(f"contacts table: missing column(s) {missing}; required: {', '.join(CONTACT_COLUMNS)}")
        a_names = contacts["cell_type"].astype(str).to_numpy()
        b_names = contacts["neighbour"].astype(str).to_numpy()
        raw = contacts["enrichment"].to_numpy()
        if "time_days" in contacts.columns:
            days = pd.to_numeric(contacts["time_days"], errors="coerce").to_numpy(float)
            if np.isnan(days).any() or (days < 0).any():
                raise ValueError("contacts table: time_days must be numbers >= 0 (days)")
        else:
            days = np.zeros(len(contacts))
    else:
        keys = list(contacts.keys())
        a_names = np.array([str(k[0]) for k in keys], dtype=object)
        b_names = np.array([str(k[1]) for k in keys], dtype=object)
        raw = np.array(list(contacts.values()), dtype=object)
        days = np.zeros(len(keys))
    index = {n: i for i, n in enumerate(type_names)}
    cols = {**index, FREE_SITE: T}
    for names, allowed in ((a_names, index), (b_names, cols)):
        bad = sorted(set(names) - set(allowed))
        if bad:
            raise ValueError(f"contacts: unknown cell type {bad[0]!r}; allowed: {', '.join(type_names)}"
                             f" (and {FREE_SITE!r} as a neighbour)")
    values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(float)
    wrong = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(wrong):
        i = int(wrong[0])
        raise ValueError(f"contacts: enrichment of ({a_names[i]}, {b_names[i]}) must be a finite number >= 0, "
                         f"got {raw[i]!r}")
    times, k = np.unique(days, return_inverse=True)
    out = np.ones((len(times), T, T + 1))
    out[k, [index[x] for x in a_names], [cols[x] for x in b_names]] = values
    # The last entry is held for all later times, so one day's sampling noise would set the
    # structure of a whole treatment window: hold the mean of the last HOLD_DAYS instead.
    if len(times) > 1:
        last = times >= times[-1] - HOLD_DAYS + 1e-9
        out[-1] = out[last].mean(axis=0)
    return times * MIN_PER_DAY, out[:, :, :T].copy(), out[:, :, T].copy()


@dataclass(frozen=True)
class ContactCourse:
    r"""A contact table read once (:func:`contact_course`), to hand to many ``MeanField``\ s:
    cohorts build one per trial instead of re-reading the table for every patient."""

    type_names: tuple[str, ...]
    times: np.ndarray  # minutes
    contact: np.ndarray  # [K, T, T]
    free: np.ndarray  # [K, T]

    @classmethod
    def from_table(cls, type_names: Sequence[str], contacts: Contacts | None) -> ContactCourse:
        times, contact, free = contact_course(type_names, contacts)
        return cls(tuple(type_names), times, contact, free)


def contact_matrix(type_names: Sequence[str], contacts: Contacts | None) -> tuple[np.ndarray, np.ndarray]:
    """Contact enrichment ``[T, T]`` (row: the cell, column: its neighbour type) and free-site
    enrichment ``[T]`` (neighbour ``"(free site)"``); 1 = random mixing.

    ``contacts`` is a mapping ``{(cell_type, neighbour): factor}`` or a table with columns
    ``cell_type, neighbour, enrichment`` (see :func:`tmesim.engine.contacts.contact_enrichment`);
    pairs not given stay at 1; a ``time_days`` column, if any, is ignored (the last entry per
    pair wins). Errors name the offending entry and the allowed values.
    """
    if isinstance(contacts, pd.DataFrame) and "time_days" in contacts.columns:
        contacts = contacts.drop(columns=["time_days"])
    _, m, f = contact_course(type_names, contacts)
    return m[0], f[0]


def _pk_signal(drug: Drug) -> Callable[[float], float]:
    """C(t_days) of ``drug`` (the spatial engine's ``drug <name>`` signal)."""
    return lambda t_days: float(exposure(drug, t_days * MIN_PER_DAY))


class MeanField:
    """The population-level (mean-field) version of a model: ODEs for counts and concentrations.

    ``signals`` gives values to rule signals the model's grammar does not compute itself
    (for example ``"drug <name>"`` exposures): a number, or a function of time in days.
    A ``drug <name>`` signal that is not given is the exposure C(t) of the model's drug of that
    name (``model.drugs``, one-compartment PK, :func:`tmesim.model.pk.exposure`), or 0 when the
    model has no such drug; any other unknown signal is an error.

    ``contacts`` corrects the well-mixed contact probabilities for spatial structure: the
    probability that a cell of type a has a neighbour of type b (``contact with b`` rules,
    attacks, vessel contact for intravasation) uses enrichment(a, b) × the random-mixing share
    of b, and its chance of a free neighbour site (division, ``pressure``; around vessel cells:
    recruitment) enrichment(a, free site) × the free share (see :func:`contact_matrix`;
    measured from a spatial run by :func:`tmesim.engine.contacts.contact_enrichment`). A table
    with a ``time_days`` column is a time course: the enrichment at time t is interpolated
    between measured days and, after the last one, held at the mean of the last week
    (:data:`HOLD_DAYS`; the last entry is that mean).

    >>> import tmesim
    >>> from tmesim.meanfield import MeanField
    >>> mf = MeanField(tmesim.load_model(tmesim.preset_path("tnbc-core")))
    >>> df = mf.run(days=2)
    >>> bool(df["cancer"].iloc[-1] > 0)
    True
    """

    kind = "meanfield"  # tmesim.engine.Engine: the name tmesim.simulate(engine=...) takes

    def __init__(self, model: Model, signals: Mapping[str, SignalValue] | None = None,
                 method: str = "LSODA", rtol: float = 1e-3, atol: float = 1e-6,
                 contacts: Contacts | ContactCourse | None = None, reuse_jacobian: bool = True) -> None:
        self.model = model
        self.tables: MeanFieldTables = compile_meanfield(model)
        tb = self.tables
        if isinstance(contacts, ContactCourse):
            if list(contacts.type_names) != list(tb.type_names):
                raise ValueError("contacts: this ContactCourse was read for other cell types "
                                 f"({', '.join(contacts.type_names)}); the model has {', '.join(tb.type_names)}")
            self._ct_times, self._ct_contact, self._ct_free = contacts.times, contacts.contact, contacts.free
        else:
            self._ct_times, self._ct_contact, self._ct_free = contact_course(tb.type_names, contacts)
        tb.contact, tb.free = self._ct_contact[0].copy(), self._ct_free[0].copy()
        tb.ct_times = np.ascontiguousarray(self._ct_times, float)  # interpolated by the rhs itself
        tb.ct_contact = np.ascontiguousarray(self._ct_contact, float)
        tb.ct_free = np.ascontiguousarray(self._ct_free, float)
        self.method, self.rtol, self.atol = method, rtol, atol
        self.reuse_jacobian = bool(reuse_jacobian)
        self.jacobians = 0  # Jacobians computed by the last run (LSODA asks for more; see _lsoda)
        self.signals: dict[str, SignalValue] = dict(signals or {})
        unknown = [s for s in tb.extra_signals if s not in self.signals and not s.startswith("drug ")]
        if unknown:
            raise ValueError(
                f"rules use signal(s) {unknown} that the mean-field engine cannot compute; "
                "give their values with MeanField(model, signals={name: value or f(t_days)})"
            )
        pk: dict[str, Drug] = {}
        for drug in getattr(model, "drugs", None) or []:  # drug exposures from the model's PK
            if f"drug {drug.name}" not in self.signals:
                self.signals[f"drug {drug.name}"] = _pk_signal(drug)
                pk[f"drug {drug.name}"] = drug
        self._extra_fns: list[Callable[[float], float]] = []
        self._fn_idx: list[int] = []  # extra signals evaluated one call each (given by the caller)
        pk_idx: list[int] = []  # extra signals that are model drugs' PK, evaluated together
        for i, name in enumerate(tb.extra_signals):
            val = self.signals.get(name, 0.0)
            self._extra_fns.append(val if callable(val) else (lambda _t, c=float(val): c))
            (pk_idx if name in pk else self._fn_idx).append(i)
        self._pk_idx = np.array(pk_idx, dtype=np.intp)
        self._pk = Exposures([pk[tb.extra_signals[i]] for i in pk_idx])
        self._const_extra = all(not callable(self.signals.get(n, 0.0)) for n in tb.extra_signals)
        self._extra = np.array([f(0.0) for f in self._extra_fns], float)
        self._extra_t = np.full(1, np.nan)  # the time self._extra holds (a Jacobian asks again at the same t)
        self.slices = layout(tb.n_types, tb.n_sub, tb.n_vars)
        self._vals = tb.base.copy()  # behaviour values; entries with rules are rewritten by rhs
        self._memo = np.full(memo_size(len(tb.extra_signals), tb.n_sub), np.nan)  # see rhs
        self._arrays = (*tb.arrays(), self._vals, *tb.perf_arrays(), self._memo, binomial_slots(tb),
                        rate_links(tb))
        self._idx = tb.active_idx
        self._dep_ptr, self._dep_grp = group_dependencies(tb, self._idx)  # what each Jacobian column re-evaluates
        self._y = np.zeros(self.slices["I"].stop)  # full state, work array of the reduced solve
        self._dy = np.zeros_like(self._y)
        self._aux = np.zeros(2 * tb.n_types + 1)
        self.result: pd.DataFrame | None = None
        # every extra signal a model drug's exposure or a constant: the solver calls compiled code
        # directly (tmesim.meanfield.packed); a caller's function of time needs the Python path
        self._pack: Pack | None = None
        if self._const_extra or not self._fn_idx:
            self._pack = pack(self._idx, self._y, self._dy, self._aux, self._extra, self._extra_t,
                              not self._const_extra and self._pk.n > 0, (*self._pk.tables(), self._pk_idx),
                              self._dep_ptr, self._dep_grp, (tb.n_types, tb.n_sub, tb.n_vars), (tb.n_sites, tb.dt),
                              self._arrays)

    # ------------------------------------------------------------------ state
    def initial_state(self) -> np.ndarray:
        """y0: the expected initial layout of the spatial engine (counts, state sums, concentrations)."""
        tb = self.tables
        counts, mass = expected_initial(self.model)
        y0 = np.zeros(self.slices["I"].stop)
        y0[self.slices["N"]] = counts
        y0[self.slices["C"]] = tb.initial
        y0[self.slices["M"]] = mass.ravel()
        return y0

    def _extra_at(self, t_min: float) -> np.ndarray:
        if not self._const_extra and t_min != self._extra_t[0]:
            t_days = t_min / MIN_PER_DAY
            for i in self._fn_idx:
                self._extra[i] = float(self._extra_fns[i](t_days))
            if self._pk.n:  # the same time as _pk_signal passes: t_days back in minutes
                self._pk.fill(t_days * MIN_PER_DAY, self._extra, self._pk_idx)
            self._extra_t[0] = t_min
        return self._extra

    def derivative(self, t_min: float, y: np.ndarray) -> np.ndarray:
        """dy/dt (per minute) at time ``t_min`` minutes; fills the intravasation and kill fluxes
        in ``self._aux``."""
        tb = self.tables
        dydt = np.empty_like(y)
        rhs(t_min, y, dydt, self._aux, self._extra_at(t_min), ALL, tb.n_types, tb.n_sub, tb.n_vars,
            tb.n_sites, tb.dt, *self._arrays)
        return dydt

    def _fun(self, t_min: float, yr: np.ndarray) -> np.ndarray:
        if self._pack is not None:
            return packed_fun(float(t_min), yr, self._pack)
        tb = self.tables
        dr = np.empty_like(yr)
        rhs_reduced(t_min, yr, dr, self._idx, self._y, self._dy, self._aux, self._extra_at(t_min), ALL,
                    tb.n_types, tb.n_sub, tb.n_vars, tb.n_sites, tb.dt, *self._arrays)
        return dr

    def _jac(self, t_min: float, yr: np.ndarray) -> np.ndarray:
        tb = self.tables
        self.jacobians += 1
        if self._pack is not None:
            return packed_jac(float(t_min), yr, self._pack)
        J = np.zeros((yr.shape[0], yr.shape[0]))
        jacobian(t_min, np.ascontiguousarray(yr, float), J, self._idx, self._y, self._dy, self._aux,
                 self._extra_at(t_min), self._dep_ptr, self._dep_grp, tb.n_types, tb.n_sub, tb.n_vars, tb.n_sites, tb.dt, *self._arrays)
        return J

    # ------------------------------------------------------------------- run
    def run(self, days: float | None = None, t_eval: Sequence[float] | np.ndarray | None = None,
            y0: np.ndarray | None = None) -> pd.DataFrame:
        """Integrate for ``days`` (default: the model's ``time.days``).

        ``t_eval`` are output times in days (default: every ``time.output_interval`` from 0).
        Returns one row per output time: ``time_days``, live count per cell type (column =
        type name), ``<substrate>`` well-mixed concentrations, ``mean_<var>_<type>`` for types
        with state variables, ``dead_<type>`` corpses, ``vessels`` (live vessel cells),
        ``perfused_fraction`` (share of vessel cells carrying blood, with ``model.perfusion``),
        ``hypoxic_fraction`` (with blood-borne substrates: share of sites beyond one diffusion length
        of the nearest perfused vessel, see :meth:`_hypoxic_fraction`),
        ``cycle_per_day_<type>`` (cycle entry rate per cell, rules and crowding included, for
        attacked types), ``intravasation_per_day`` (cells/day entering the blood; per type in
        ``intravasation_per_day_<type>``), ``intravasated`` (cumulative cells) and, for each
        type some type can attack, ``killed_per_day_<type>`` (cells/day killed by attacks).
        """
        days = float(self.model.time.days if days is None else days)
        if days <= 0:
            raise ValueError(f"days must be > 0, got {days}")
        if t_eval is None:
            every = self.model.time.output_interval.value / MIN_PER_DAY
            t_eval = np.arange(0.0, days + 1e-9, every)
            if t_eval[-1] < days - 1e-9:
                t_eval = np.append(t_eval, days)
        t_eval_min = np.asarray(t_eval, float) * MIN_PER_DAY
        y0 = self.initial_state() if y0 is None else np.asarray(y0, float)
        self._y[:] = y0
        self.jacobians = 0
        if self.method == "LSODA":
            t_out, yr = self._lsoda(y0[self._idx], t_eval_min)
        else:
            sol = solve_ivp(self._fun, (0.0, days * MIN_PER_DAY), y0[self._idx], method=self.method,
                            t_eval=t_eval_min, rtol=self.rtol, atol=self.atol,
                            **({"jac": self._jac} if self.method in ("BDF", "Radau") else {}))
            if not sol.success:
                raise RuntimeError(f"mean-field integration failed: {sol.message}")
            self.solution = sol
            t_out, yr = sol.t, sol.y
        Y = np.zeros((y0.shape[0], t_out.shape[0]))
        Y[self._idx] = yr
        self.t_min, self.Y = t_out, Y
        self.result = self._table(t_out, Y)
        return self.result

    def _hypoxic_fraction(self, N: np.ndarray, perfused: np.ndarray, uptake: np.ndarray) -> np.ndarray:
        """Share of sites farther than one diffusion length ℓ = sqrt(D/k) of the (first) blood-borne
        substrate from the nearest perfused vessel, vessels scattered at random (P(d > ℓ) =
        exp(−ρπ(ℓ/a)²) in 2D, exp(−ρ(4/3)π(ℓ/a)³) in 3D, ρ perfused vessels per site, a the site
        size); k is its decay plus ``uptake`` (by non-vessel cells, per site). Beyond ℓ the
        substrate has fallen e-fold from its vessel level (oxygen: from ~38 to ~14 mmHg, the
        hypoxic range). The well-mixed state has no gradients; this reads the perfused vessels'
        spacing the way drug delivery does (:func:`tmesim.meanfield.rhs._delivery`)."""
        tb = self.tables
        s = int(np.flatnonzero(tb.blood)[0])
        a, dims = float(tb.perf[2]), int(tb.perf[3])
        k = tb.decay[s] + uptake
        ell = np.sqrt(tb.diffusion[s] / np.maximum(k, 1e-30)) / a
        rho = perfused * N[tb.is_vessel == 1].sum(0) / tb.n_sites
        vol = np.pi * ell**2 if dims < 3 else 4.0 / 3.0 * np.pi * ell**3
        return np.exp(-rho * vol)

    def _reused_jac(self) -> Callable[[float, np.ndarray], np.ndarray]:
        """The Jacobian for LSODA, recomputed only when a step is retried.

        LSODA keeps no Jacobian of its own, only the factorised iteration matrix I − hγJ, so it
        asks for a new J whenever the step size changes by more than 30% (in the TNBC trial
        section: ~310 Jacobians in ~930 steps, each one 80 right-hand sides, ~85% of a patient's
        solve). J only steers the Newton iteration of the corrector; the error test on the
        corrector decides the accuracy. So, as scipy's BDF and CVODE do, the last J is handed
        back while the integration moves forward, and a fresh one is computed when LSODA asks
        again at a time not later than its previous request: it asks so only after reducing the
        step because the corrector did not converge or the error test failed (on a dose, say).
        A J computed at the previous request is handed back once more on such a retry (it is
        as fresh as J gets; a second retry gets a new one). Results change within the solver
        tolerance (max relative difference ~6e-4 on the trial section, rtol 1e-3;
        tests/test_meanfield_jacobian.py)."""
        last_t = -np.inf
        J: np.ndarray | None = None
        fresh = retried = False  # J was computed at the last request; J was handed back on a retry

        def jac(t_min: float, yr: np.ndarray, *_: object) -> np.ndarray:  # odeint passes fun's args too
            nonlocal last_t, J, fresh, retried
            retry = t_min <= last_t
            if J is None or (retry and not (fresh and not retried)):
                J = self._jac(t_min, yr)
                fresh, retried = True, False
            elif retry:
                retried = True
            else:
                fresh = retried = False
            last_t = t_min
            return J

        return jac

    def _lsoda(self, yr0: np.ndarray, t_eval_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LSODA through ``odeint``: the same integrator as ``solve_ivp(method="LSODA")``, but it
        runs to each output time inside Fortran, without a Python round trip per step (about 12%
        of a patient's solve time, paired measurement on the TNBC preset). The Jacobian is
        reused while the step goes forward (:meth:`_reused_jac`) unless ``reuse_jacobian`` is
        off."""
        start = t_eval_min.shape[0] == 0 or t_eval_min[0] > 0.0
        t = np.concatenate([[0.0], t_eval_min]) if start else t_eval_min
        fun, args = (packed_fun, (self._pack,)) if self._pack is not None else (self._fun, ())
        jac = self._reused_jac() if self.reuse_jacobian else (lambda t_min, yr, *_: self._jac(t_min, yr))
        out, info = odeint(fun, yr0, t, args=args, Dfun=jac, tfirst=True, rtol=self.rtol, atol=self.atol,
                           mxstep=50_000, full_output=True)
        if info["message"] != "Integration successful.":
            raise RuntimeError(f"mean-field integration failed: {info['message']}")
        self.solution = info
        return (t[1:], out[1:].T) if start else (t, out.T)

    def _table(self, t_min: np.ndarray, Y: np.ndarray) -> pd.DataFrame:
        tb, sl = self.tables, self.slices
        T, V = tb.n_types, tb.n_vars
        Y = np.maximum(Y, 0.0)
        cols: dict[str, np.ndarray] = {"time_days": t_min / MIN_PER_DAY}
        N = Y[sl["N"]]
        for k, name in enumerate(tb.type_names):
            cols[name] = N[k]
        for s, name in enumerate(tb.substrate_names):
            cols[name] = Y[sl["C"]][s]
        M = Y[sl["M"]].reshape(T, V, Y.shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, tname in enumerate(tb.type_names):
                if V and (tb.init_state[k].any() or M[k].any()):
                    for v, vname in enumerate(tb.var_names):
                        cols[f"mean_{vname}_{tname}"] = np.where(N[k] > 1e-9, M[k, v] / N[k], np.nan)
        dead = Y[sl["A"]] + Y[sl["K"]] + Y[sl["Q"]]
        for k, name in enumerate(tb.type_names):
            cols[f"dead_{name}"] = dead[k]
        cols["vessels"] = N[tb.is_vessel == 1].sum(0)
        flux = np.zeros((T, len(t_min)))
        kills = np.zeros((T, len(t_min)))
        perfused = np.zeros(len(t_min))
        cycle = np.zeros((T, len(t_min)))
        kcyc = int(tb.fixed[0])
        hyp = bool(tb.perf[0] >= 0.0 and tb.blood.any())
        ox = int(np.flatnonzero(tb.blood)[0]) if hyp else 0
        tissue = tb.is_vessel == 0
        uptake = np.zeros(len(t_min))  # blood-borne substrate taken up by non-vessel cells, per site and min
        if self._pack is not None:  # the rates at every output time in one compiled call
            aux = np.empty((len(t_min), self._aux.shape[0]))
            vals = np.empty((len(t_min), *self._vals.shape))
            packed_rates(np.ascontiguousarray(t_min, float), Y, self._pack, aux, vals)
            if hyp:
                for i in range(len(t_min)):
                    uptake[i] = float(np.sum(N[tissue, i] * vals[i][tissue, tb.b_upt[ox]])) / tb.n_sites
            flux, kills = aux[:, :T].T * MIN_PER_DAY, aux[:, T:2 * T].T * MIN_PER_DAY
            perfused = aux[:, 2 * T].copy()
            cycle = vals[:, :, kcyc].T * MIN_PER_DAY
        for i in range(len(t_min) if self._pack is None else 0):
            self.derivative(float(t_min[i]), Y[:, i])
            if hyp:
                uptake[i] = float(np.sum(N[tissue, i] * self._vals[tissue, tb.b_upt[ox]])) / tb.n_sites
            flux[:, i] = self._aux[:T] * MIN_PER_DAY
            kills[:, i] = self._aux[T:2 * T] * MIN_PER_DAY
            perfused[i] = self._aux[2 * T]
            cycle[:, i] = self._vals[:, kcyc] * MIN_PER_DAY
        cols["perfused_fraction"] = perfused
        if hyp:
            cols["hypoxic_fraction"] = self._hypoxic_fraction(N, perfused, uptake)
        cols["intravasation_per_day"] = flux.sum(0)
        for k, name in enumerate(tb.type_names):
            if flux[k].any() or tb.base[k, tb.fixed[5]] > 0 or np.any(tb.g_b[tb.g_t == k] == tb.fixed[5]):
                cols[f"intravasation_per_day_{name}"] = flux[k]
        cols["intravasated"] = Y[sl["I"]][0]
        for k, name in enumerate(tb.type_names):
            if tb.attacked[k]:
                cols[f"killed_per_day_{name}"] = kills[k]
            if tb.attacked[k] and (tb.base[k, kcyc] > 0 or np.any(tb.g_b[tb.g_t == k] == kcyc)):
                cols[f"cycle_per_day_{name}"] = cycle[k]
        # one float block: several times faster than a DataFrame built column by column
        return pd.DataFrame(np.column_stack(list(cols.values())), columns=list(cols))

    def summary(self) -> pd.DataFrame:
        """The last run in the spatial engine's long format: ``time_days, cell_type, state, count``
        plus ``mean_<variable>`` (states: live, apoptotic, killed, necrotic; counts are expected
        values, not integers; live cells are not split into EMT bands)."""
        if self.result is None:
            raise RuntimeError("call run() first")
        return summary_table(self, self.t_min, self.Y)


def summary_table(mf: MeanField, t_min: np.ndarray, Y: np.ndarray) -> pd.DataFrame:
    tb, sl = mf.tables, mf.slices
    T, V = tb.n_types, tb.n_vars
    Y = np.maximum(Y, 0.0)
    N = Y[sl["N"]]
    M = Y[sl["M"]].reshape(T, V, Y.shape[1])
    rows = []
    for i, t in enumerate(t_min):
        day = t / MIN_PER_DAY
        for k, tname in enumerate(tb.type_names):
            for state, block in (("live", N), ("apoptotic", Y[sl["A"]]), ("killed", Y[sl["K"]]),
                                 ("necrotic", Y[sl["Q"]])):
                if state != "live" and block[k, i] < 1e-9:
                    continue
                row = {"time_days": day, "cell_type": tname, "state": state, "count": float(block[k, i])}
                for v, vname in enumerate(tb.var_names):
                    row[f"mean_{vname}"] = (float(M[k, v, i] / N[k, i]) if state == "live" and N[k, i] > 1e-9
                                            else float("nan"))
                rows.append(row)
    return pd.DataFrame(rows)


def simulate(model: Model, days: float | None = None, seed: int = 0,
             signals: Mapping[str, SignalValue] | None = None,
             contacts: Contacts | ContactCourse | None = None) -> pd.DataFrame:
    """Pure, picklable entry point: the mean-field trajectory of ``model`` as a DataFrame.

    The mean-field engine is deterministic; ``seed`` is accepted (and ignored) so that this
    has the same signature as stochastic simulators in calibration tools.

    Deprecated: use ``MeanField(model, ...).run(days)`` for the trajectory table, or
    ``tmesim.simulate(model, engine="meanfield")`` for a run directory.
    """
    import warnings

    warnings.warn("tmesim.meanfield.simulate is deprecated; use MeanField(model).run(days) or "
                  "tmesim.simulate(model, engine='meanfield')", DeprecationWarning, stacklevel=2)
    del seed
    return MeanField(model, signals=signals, contacts=contacts).run(days=days)
