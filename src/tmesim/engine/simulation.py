"""The spatial engine: state, the process schedule, and the run loop.

Long module: every process step is a method reading the same state arrays in a fixed
order (the schedule); the kernels they call live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from tmesim.model import Model
from tmesim.model.errors import NonFiniteError
from tmesim.model.pk import drug_exposures
from tmesim.units import MINUTES_PER_DAY

from . import actions
from . import kernels as K
from .acting import acting_cells
from .compiled import (
    B_APOPTOSIS,
    B_CYCLE,
    B_EXCHANGE,
    B_INTRAVASATE,
    B_NECROSIS,
    B_RECRUIT,
    CompiledModel,
    compile_model,
)
from .exchange import exchange_places, exchange_types
from .fields import coupled_accept, coupled_tolerance
from .gpu import field_solver
from .matrix import has_reactions, react
from .perfusion import drug_delivery, mark_live_vessels, perfuse_into
from .placement import initial_fields, place_initial
from .slots import N_COUNTS, build_slots

STATE_FORMAT = 1


class Observer(Protocol):
    """What the engine tells the outside world; ``tmesim.io`` implements it for run directories."""

    def on_output(self, sim: Simulation) -> None: ...
    def on_checkpoint(self, sim: Simulation) -> None: ...


def _rule_tables(cm: CompiledModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compact arrays rule evaluation reads (see kernels: b3, rt, meta)."""
    b3 = np.stack([cm.base, cm.r_start.astype(float), cm.r_count.astype(float)], axis=-1)
    rt = np.stack([cm.r_sig.astype(float), cm.r_up.astype(float), cm.r_sat, cm.r_half, cm.r_hill,
                   cm.r_dead.astype(float), np.zeros(len(cm.r_sig)), np.zeros(len(cm.r_sig))], axis=-1) \
        if len(cm.r_sig) else np.zeros((1, 8))
    rt[cm.drug_rows, 7] = cm.drug_of_row
    nz, ny, nx = cm.grid
    meta = np.array([cm.n_sub, cm.n_types, cm.sig_pressure, cm.sig_dead, cm.sig_time, cm.sig_vessel,
                     cm.sig_var0, cm.sig_nvar0, nx, ny, nz, cm.sig_drug0, cm.col_damage, cm.col_volume], np.int64)
    return b3, rt, meta


def _all_finite(a: np.ndarray) -> bool:
    """No inf or NaN in ``a``. A NaN or inf anywhere makes the sum NaN or inf, so a finite sum
    settles it in one pass without a boolean temporary of ``a``'s size (half the time of
    ``isfinite(a).all()`` on the fields); a sum that overflows is checked element by element."""
    flat = a.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is expected here
        total = np.add.reduce(flat, dtype=flat.dtype)
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


class Simulation:
    """A spatial agent-based simulation of one model with one seed.

    ``backend``: ``"cpu"`` (default) or ``"gpu"``: the substrate fields solved on a CUDA GPU
    (:mod:`tmesim.engine.gpu`; the same numbers as the CPU).

    >>> import tmesim
    >>> sim = tmesim.engine.Simulation(tmesim.load_model(tmesim.preset_path("tnbc")), seed=1)
    >>> sim.n_cells > 0
    True
    """

    kind = "spatial"  # tmesim.engine.Engine: the name tmesim.simulate(engine=...) takes

    def __init__(self, model: Model, seed: int = 0, backend: str = "cpu") -> None:
        self.model = model
        self.backend = backend
        self.seed = int(seed)
        self.cm: CompiledModel = compile_model(model)
        cm = self.cm
        nz, ny, nx = cm.grid
        nsites = nz * ny * nx
        self.nsites = nsites
        offs, dist = K.neighbour_offsets(model.domain.dims)
        bar = model.barrier
        self.lattice = K.Lattice(nx, ny, nz, offs, dist,
                                 model.substrate_names.index(bar.substrate) if bar is not None else -1,
                                 float(bar.threshold) if bar is not None else 0.0)
        import numba

        threads = numba.config.NUMBA_NUM_THREADS
        tables = _rule_tables(cm)
        # Behaviours kernels.evaluate never reads for the cell itself: the target's immunogenicity
        # (evaluated in the attack) and a vessel's recruitment (in recruit)
        skip = np.zeros(cm.n_beh, bool)
        skip[cm.b_immuno] = True
        skip[B_RECRUIT] = True
        # Behaviours only a firing fate clock reads: evaluated for the few cells whose clock may fire
        fate_fixed = np.array([B_CYCLE, B_APOPTOSIS, B_NECROSIS, B_INTRAVASATE], np.int64)
        deferred = np.zeros(cm.n_beh, bool)
        deferred[fate_fixed] = True
        deferred[cm.b_trans] = True
        deferred[cm.b_asym] = True
        sl = build_slots(cm, tables[1], len(offs), skip, deferred)
        self.rules = K.Rules(
            cm.base, cm.active, cm.r_start, cm.r_count, cm.r_sig, cm.r_up, cm.r_sat, cm.r_half,
            cm.r_hill, cm.r_dead, cm.n_sub, cm.n_types, cm.n_vars, cm.sig_pressure, cm.sig_dead,
            cm.sig_time, cm.sig_vessel, cm.sig_var0, cm.sig_nvar0, cm.is_vessel,
            cm.b_sec, cm.b_sect, cm.b_upt, cm.b_exp, cm.b_chemo, cm.b_trans, cm.b_attack,
            cm.b_immuno, cm.b_vinc, cm.b_vdec, cm.b_custom, cm.b_eat, cm.b_fuse, cm.b_asym,
            sl["act_ptr"], sl["act_idx"], *tables, sl["slot_ptr"], sl["sl_int"], sl["sl_num"], sl["r_slot"], sl["htab"],
            sl["needs_counts"], np.zeros((threads, len(sl["htab"]))), np.zeros((threads, cm.n_types + N_COUNTS), np.int64),
            sl["plan"], fate_fixed, np.zeros((cm.n_types, cm.n_types + 1)),
        )
        self.vals = np.zeros((threads, cm.n_types, cm.n_beh))  # kernels.evaluate: per thread and type
        V = cm.init_state.shape[1]  # state variables, custom variables, damage, volume
        # Cell arrays hold at most one cell per site, so they never need to grow.
        self.uid = np.zeros(nsites, np.int64)
        self.ctype = np.zeros(nsites, np.int32)
        self.cx = np.zeros(nsites, np.int32)
        self.cy = np.zeros(nsites, np.int32)
        self.cz = np.zeros(nsites, np.int32)
        self.dead = np.zeros(nsites, np.int8)
        self.dead_time = np.zeros(nsites, np.float64)
        self.var = np.zeros((nsites, V), np.float32)
        self.var_new = np.zeros((nsites, V), np.float32)
        self.occ = np.full(nsites, -1, np.int32)
        # Substrates, then one row per drug: its tissue delivery factor (engine.perfusion), which
        # rule evaluation reads next to the fields; ``fields`` is a view of the substrate rows.
        n_drugs = len(cm.drug_names)
        # "gpu": the fields step on a CUDA device (tmesim.engine.gpu), same results; its host
        # arrays are page-locked there (faster transfers)
        self.solver = field_solver(cm, backend)
        self.solver.tolerance = coupled_tolerance(model.field_solve)
        self.solver.accept = coupled_accept(model.field_solve)
        self._field_rows = self.solver.host_zeros((cm.n_sub + n_drugs, nsites), np.float32)
        self._field_rows[:] = 1.0
        self.fields = self._field_rows[: cm.n_sub].reshape(cm.n_sub, nz, ny, nx)
        self.fields[:] = cm.initial[:, None, None, None]
        self.perfusion = np.zeros(nsites, np.float32)  # per site: 1 at a perfused vessel cell
        self._perfuse_buffers: tuple[np.ndarray, ...] | None = None
        self._shut = np.zeros(0, np.int64)  # sites of vessel cells that carry no flow
        initial_fields(model, self.fields)
        self.scratch = K.Scratch(np.zeros(nsites, np.int8), np.zeros(nsites, np.int32),
                                 np.zeros(nsites, np.int16), np.zeros((nsites, 3), np.float32),
                                 np.full(nsites, -1, np.int64), np.zeros(nsites, np.float32),
                                 np.zeros(nsites, np.int8), np.zeros(nsites, np.float32),
                                 np.zeros(nsites, np.float32))
        self._acting = np.empty(nsites, np.int64)
        cap = 2 * nsites + 16  # kills + fates + recruitments in one step cannot exceed this
        self.ev = K.Events(np.zeros(cap, np.int8), np.zeros(cap, np.int64), np.zeros(cap, np.int32),
                           np.zeros(cap, np.int64), np.zeros(cap, np.int32), np.zeros(cap, np.int32),
                           np.zeros(cap, np.int32))
        self._can_exchange = exchange_types(cm.base, cm.r_count, B_EXCHANGE)
        self._exchanges = bool(self._can_exchange.any())
        self._moved = np.zeros(nsites if self._exchanges else 0, np.int8)
        self.n_exchanges = 0  # exchanges of places made so far (tmesim.engine.exchange)
        self.n = 0
        self.next_uid = 0
        self.step_index = 0
        self.time = 0.0  # minutes
        self._event_chunks: list[dict[str, np.ndarray]] = []
        self._place()
        self.root_uid = self.next_uid  # vessel cells placed at the start are fed by the host network
        self.update_drugs()
        self.perfuse()

    # ----------------------------------------------------------------- set-up
    def _place(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x1A17]))
        occupied = np.zeros(self.nsites, bool)
        L = self.lattice
        closed = self.fields[L.bsub].reshape(-1) >= L.bthr if L.bsub >= 0 else None
        if closed is not None:
            occupied[closed] = True  # no cell starts inside an intact barrier
        nz, ny, nx = self.cm.grid
        for ti, sites, state in place_initial(self.model, occupied, rng):
            k = len(sites)
            sl = slice(self.n, self.n + k)
            z, y, x = np.unravel_index(sites, (nz, ny, nx))
            self.cx[sl], self.cy[sl], self.cz[sl] = x, y, z
            self.ctype[sl] = ti
            self.uid[sl] = np.arange(self.next_uid, self.next_uid + k)
            self.var[sl] = self.cm.init_state[ti]
            if self.cm.n_vars:
                self.var[sl, : self.cm.n_vars] = state
            self.occ[sites] = np.arange(self.n, self.n + k, dtype=np.int32)
            self.n += k
            self.next_uid += k
        self.var_new[: self.n] = self.var[: self.n]

    def _cells(self) -> K.Cells:
        return K.Cells(self.uid, self.ctype, self.cx, self.cy, self.cz, self.dead, self.dead_time,
                       self.var, self.var_new, self.occ, self._field_rows)

    # --------------------------------------------------------------- processes
    # Each process has the same signature and runs once per step, in SCHEDULE order.
    def update_drugs(self) -> None:
        """Write every drug's exposure C(t) at the current time into the rules that sense it."""
        if len(self.cm.drug_rows):
            c = drug_exposures(self.model, self.time)
            self.rules.rt[self.cm.drug_rows, 6] = c[self.cm.drug_of_row]

    def drug_exposures(self) -> dict[str, float]:
        """C(t) of each drug of the model now (in its unit)."""
        return dict(zip(self.cm.drug_names, drug_exposures(self.model, self.time).tolist(), strict=True))

    def perfuse(self) -> None:
        """Which vessel cells carry blood (``self.perfusion``, per site) and, from them, each
        drug's tissue delivery (:mod:`tmesim.engine.perfusion`). Without ``model.perfusion``
        every live vessel cell is perfused and drugs reach every site."""
        cm, n = self.cm, self.n
        nz, ny, nx = cm.grid
        if cm.collapse < 0:
            mark_live_vessels(n, self.ctype, self.cx, self.cy, self.cz, self.dead, cm.is_vessel, nx, ny,
                              self.perfusion)
            return
        if self._perfuse_buffers is None:
            nsites = nx * ny * nz
            self._perfuse_buffers = (np.zeros(nsites, np.bool_), np.empty(nsites, np.int64),
                                     np.empty(nsites, np.int64), np.empty(nsites, np.int8))
        open_, stack, shut, kind = self._perfuse_buffers
        ns = perfuse_into(n, self.uid, self.ctype, self.cx, self.cy, self.cz, self.dead, self.occ, cm.is_vessel,
                          self.root_uid, nx, ny, nz, self.lattice.offs, cm.collapse, self.var, cm.stab_var,
                          self.perfusion, open_, stack, shut, kind)
        self._shut = shut[:ns]
        if cm.drug_penetration.any():
            self._field_rows[cm.n_sub:] = drug_delivery(self.perfusion, cm.grid, cm.dx, cm.drug_penetration)

    def perfused_fraction(self) -> float:
        """Share of live vessel cells that carry blood."""
        n = self.n
        vessel = int(np.count_nonzero((self.dead[:n] == K.ALIVE) & self.cm.is_vessel[self.ctype[:n]]))
        return float(self.perfusion.sum()) / vessel if vessel else 0.0

    def evaluate_behaviours(self) -> None:
        """Rules → behaviour values → exchange rates, state variables, fates, moves, attacks."""
        self.solver.begin_step()
        K.evaluate(self.n, self.lattice, self._cells(), self.rules, self.scratch, self.vals,
                   self.solver.gain, self.solver.loss, self.seed, self.step_index, self.time,
                   self.cm.dt, self.cm.dx)
        if len(self._shut) and self.cm.blood_borne.any():
            # a vessel without flow releases nothing it takes from blood (oxygen)
            for s in np.flatnonzero(self.cm.blood_borne):
                self.solver.gain[s, self._shut] = 0.0
                self.solver.loss[s, self._shut] = 0.0

    def exchange_and_diffuse(self) -> None:
        """Cell secretion/uptake and diffusion–decay of every substrate over one step."""
        self.solver.advance(self.fields)

    def remodel_matrix(self) -> None:
        """Field-field reactions (MMPs degrade collagen, LOX cross-links it): tmesim.engine.matrix."""
        if has_reactions(self.cm.rx_int):
            react(self.fields.reshape(self.cm.n_sub, -1), self.cm.rx_int, self.cm.rx_num, self.cm.dt)

    def exchange(self) -> None:
        """Cells with an exchange rate squeeze past touching cells: tmesim.engine.exchange."""
        if self._exchanges:
            self.n_exchanges += int(exchange_places(self.n, self.lattice, self._cells(), self.rules,
                                                    self.scratch, self._moved, self._can_exchange, self.seed,
                                                    self.step_index, self.time, self.cm.dt))

    def act(self) -> None:
        X = self.scratch
        na = acting_cells(self.n, X.kill, X.fate, X.nmove, self._acting)
        m, self.next_uid, ne = actions.apply(self.n, self.next_uid, self.lattice, self._cells(), self.rules,
                                       X, self.ev, self.seed, self.step_index, self.time,
                                       self.cm.init_state, self._acting, na)
        self.n = m
        self._ne = ne

    def recruit(self) -> None:
        if len(self.cm.recruitable):
            m, self.next_uid, ne = actions.recruit(self.n, self.next_uid, self.lattice, self._cells(), self.rules,
                                             self.ev, self._ne, self.cm.recruitable, self.seed,
                                             self.step_index, self.time, self.cm.dt, self.cm.init_state,
                                             self.perfusion)
            self.n, self._ne = m, ne
        self._keep_events()

    def clear_dead(self) -> None:
        self.n = actions.clear_and_compact(self.n, self.lattice, self._cells(), self.time,
                                     self.cm.clear_apoptotic, self.cm.clear_necrotic)

    SCHEDULE: tuple[str, ...] = ("perfuse", "evaluate_behaviours", "exchange_and_diffuse", "remodel_matrix", "act",
                                 "exchange", "recruit", "clear_dead")

    def _keep_events(self) -> None:
        ne = self._ne
        if ne:
            e = self.ev
            # Cells that left for the blood keep their slot until clear_dead: record the state
            # they carry into the circulation (EMT, stemness, ...) with their event.
            state = np.zeros((ne, self.cm.n_vars), np.float32)
            gone = np.nonzero(e.kind[:ne] == K.E_INTRAVASATION)[0]
            if len(gone):
                slots = np.nonzero(self.dead[:self.n] == K.GONE)[0]
                where = dict(zip(self.uid[slots].tolist(), slots.tolist(), strict=True))
                for q in gone:
                    state[q] = self.var[where[int(e.uid[q])], : self.cm.n_vars]
            self._event_chunks.append({
                "step": np.full(ne, self.step_index, np.int64), "kind": e.kind[:ne].copy(),
                "uid": e.uid[:ne].copy(), "ctype": e.ctype[:ne].copy(), "arg": e.arg[:ne].copy(),
                "x": e.x[:ne].copy(), "y": e.y[:ne].copy(), "z": e.z[:ne].copy(), "state": state,
            })

    # ----------------------------------------------------------------- running
    def step(self) -> None:
        """Advance one time step (model.time.dt) through every process in SCHEDULE."""
        self._ne = 0
        self.update_drugs()
        for name in self.SCHEDULE:
            getattr(self, name)()
        self._check_finite()
        self.step_index += 1
        self.time = self.step_index * self.cm.dt

    def _check_finite(self) -> None:
        """Stop at the first step whose fields or cell states hold inf/NaN (a rate or value
        that overflowed): continuing would only spread it, and a checkpoint of it cannot resume."""
        if _all_finite(self.fields) and (not self.cm.n_vars or _all_finite(self.var[: self.n])):
            return
        cm = self.cm
        nz, ny, nx = cm.grid
        bad = ~np.isfinite(self.fields)
        if bad.any():
            hits = np.argwhere(bad)
            occupied = self.occ[(hits[:, 1] * ny + hits[:, 2]) * nx + hits[:, 3]] >= 0
            s, z, y, x = (int(i) for i in hits[int(np.argmax(occupied))])  # a cell's site if any
            what = f"substrate {cm.substrate_names[s]!r} became {self.fields[s, z, y, x]}"
            k = int(self.occ[(z * ny + y) * nx + x])
            where = f"at site (x={x}, y={y}, z={z})"
            cell = f", where a {cm.type_names[int(self.ctype[k])]} cell sits" if k >= 0 else ", an empty site"
        else:
            k, v = (int(i[0]) for i in np.nonzero(~np.isfinite(self.var[: self.n])))
            what = f"state variable {cm.var_names[v]!r} became {self.var[k, v]}"
            where = f"in a {cm.type_names[int(self.ctype[k])]} cell"
            cell = f" at site (x={int(self.cx[k])}, y={int(self.cy[k])}, z={int(self.cz[k])})"
        raise NonFiniteError(
            f"step {self.step_index}",
            f"(day {(self.step_index + 1) * cm.dt / 1440.0:g}) {what} {where}{cell}; the run stops. "
            "A rate or value of the model is too large for float32 (about 3e38): check the substrate's "
            "secretion, initial value and the rules acting on it")

    def steps_for(self, minutes: float) -> int:
        return int(round(minutes / self.cm.dt))

    def run(self, days: float | None = None, observer: Observer | None = None,
            progress: Callable[[Simulation], None] | None = None) -> Simulation:
        """Run until ``days`` of simulated time (default: the model's ``time.days``).

        The observer is told at every output interval and checkpoint interval; outputs
        fall on multiples of the interval counted from time 0, so a resumed run writes the
        same outputs as an uninterrupted one.
        """
        days = self.model.time.days if days is None else days
        end = self.steps_for(days * MINUTES_PER_DAY)
        every_out = max(1, self.steps_for(self.model.time.output_interval.value))
        every_ckpt = max(1, self.steps_for(self.model.time.checkpoint_interval.value))
        if observer is not None and self.step_index == 0:
            observer.on_output(self)
        while self.step_index < end:
            self.step()
            if progress is not None:
                progress(self)
            if observer is not None:
                if self.step_index % every_out == 0 or self.step_index == end:
                    observer.on_output(self)
                if self.step_index % every_ckpt == 0 and self.step_index != end:
                    observer.on_checkpoint(self)
        return self

    # ------------------------------------------------------------ population
    @property
    def n_cells(self) -> int:
        return int(self.n)

    def take_events(self) -> dict[str, np.ndarray]:
        """Events since the last call, as columns (step, kind, uid, ctype, arg, x, y, z, state).

        ``arg`` is the daughter uid (division), the other type (killed, transition) or the
        cluster id (intravasation); ``state`` holds the state variables an intravasating cell
        carries into the blood (zeros for other events).
        """
        chunks, self._event_chunks = self._event_chunks, []
        if not chunks:
            keys = ("step", "kind", "uid", "ctype", "arg", "x", "y", "z")
            out = {k: np.zeros(0, np.int64) for k in keys}
            out["state"] = np.zeros((0, self.cm.n_vars), np.float32)
            return out
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}

    def cells(self) -> dict[str, np.ndarray]:
        """Copies of the cell arrays (live and not-yet-cleared dead cells)."""
        n = self.n
        out: dict[str, np.ndarray] = {
            "uid": self.uid[:n].copy(), "type": self.ctype[:n].copy(), "dead": self.dead[:n].copy(),
            "x": self.cx[:n].copy(), "y": self.cy[:n].copy(), "z": self.cz[:n].copy(),
        }
        for v, name in enumerate(self.cm.var_names):
            out[name] = self.var[:n, v].copy()
        for c, name in enumerate(self.cm.custom_names):
            out[f"custom:{name}"] = self.var[:n, self.cm.n_vars + c].copy()
        if self.cm.uses_damage:
            out["damage"] = self.var[:n, self.cm.col_damage].copy()
        return out

    def behaviour_value(self, index: int, behaviour: str) -> float:
        """The current value of a named behaviour for cell ``index`` (rules applied)."""
        cm = self.cm
        b = cm.behaviour_names.index(behaviour)
        t = int(self.ctype[index])
        R, C, L = self.rules, self._cells(), self.lattice
        return float(K.behaviour(t, b, index, self.cx[index], self.cy[index], self.cz[index], self.time,
                                 R.b3, R.rt, R.meta, C.fields, L.offs, C.occ, C.dead, C.ctype, C.var,
                                 R.is_vessel))

    def count(self, cell_type: str, alive: bool = True) -> int:
        """Number of (live) cells of a type — the population API."""
        t = self.cm.type_names.index(cell_type)
        sel = self.ctype[: self.n] == t
        if alive:
            sel &= self.dead[: self.n] == K.ALIVE
        return int(sel.sum())

    def counts(self) -> dict[str, int]:
        live = self.dead[: self.n] == K.ALIVE
        bc = np.bincount(self.ctype[: self.n][live], minlength=self.cm.n_types)
        return {name: int(bc[i]) for i, name in enumerate(self.cm.type_names)}

    # --------------------------------------------------------- checkpointing
    def get_state(self) -> dict[str, Any]:
        n = self.n
        return {
            "format": np.int64(STATE_FORMAT), "seed": np.int64(self.seed), "n": np.int64(n),
            "next_uid": np.int64(self.next_uid), "step_index": np.int64(self.step_index),
            "uid": self.uid[:n], "ctype": self.ctype[:n], "cx": self.cx[:n], "cy": self.cy[:n],
            "cz": self.cz[:n], "dead": self.dead[:n], "dead_time": self.dead_time[:n],
            "var": self.var[:n], "fields": self.fields,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if int(state["format"]) != STATE_FORMAT:
            raise ValueError(f"checkpoint format {int(state['format'])} is not supported (expected {STATE_FORMAT})")
        n = int(state["n"])
        self.n = n
        self.seed = int(state["seed"])
        self.next_uid = int(state["next_uid"])
        self.step_index = int(state["step_index"])
        self.time = self.step_index * self.cm.dt
        for name in ("uid", "ctype", "cx", "cy", "cz", "dead", "dead_time", "var"):
            getattr(self, name)[:n] = state[name]
        self.var_new[:n] = self.var[:n]
        self.fields[:] = state["fields"]
        self.occ[:] = -1
        nz, ny, nx = self.cm.grid
        sites = (self.cz[:n].astype(np.int64) * ny + self.cy[:n]) * nx + self.cx[:n]
        live_or_corpse = self.dead[:n] != K.GONE
        self.occ[sites[live_or_corpse]] = np.flatnonzero(live_or_corpse).astype(np.int32)
        self._event_chunks = []
        self.update_drugs()
        self.perfuse()
