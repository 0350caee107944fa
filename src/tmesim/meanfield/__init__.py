"""The mean-field engine: the same model as population ODEs, fast enough for cohorts.

No second, hand-written model: the ODEs are derived from the model's own cell types,
behaviours and rules (the same grammar and the same Hill combination as the spatial
engine, see README "How behaviours respond to signals"), evaluated at population means.

Usage::

    from tmesim.meanfield import MeanField
    mf = MeanField(model)                       # optional: signals={"drug X": lambda t_days: ...}
    df = mf.run(days=7)                         # time_days, one column per type, substrates, ...
    long = mf.summary()                         # time_days, cell_type, state, count, mean_<var>
    run = tmesim.simulate(model, engine="meanfield", days=7)   # the same as a run directory (tmesim.Run)

State (cells, minutes): live cells ``N_t``; corpses per type (apoptotic, killed, necrotic),
which occupy sites until cleared; well-mixed concentration ``C_s`` per substrate; the summed
state variables ``M_tv`` (mean = M/N); cumulative intravasated cells. Vessels are the live
cells of ``vessel: true`` types.

Equations, with b_t(·) each behaviour evaluated once per type from its rules at the
population's mean signals:

* fates (cycle entry r_c, apoptosis r_a, necrosis r_n, intravasation r_i, transform r_tk)
  compete over one spatial step as in the kernel; each rate is multiplied by
  f = (1 − e^{−Λ dt}) / (Λ dt), Λ their sum, dt the model's step;
* dN_t/dt = N_t f [r_c P_free − r_a − r_n − r_i P_vessel − Σ_k r_tk] + Σ_j N_j f r_jt
  + recruitment_t − kills_t;
* division needs a free in-domain neighbour site: P_free = E_m[1 − (1 − φ)^m], φ the free
  fraction of the other sites (corpses occupy sites), m the in-domain neighbour count;
* intravasation needs a live vessel neighbour: P_vessel = E_m[1 − (1 − p_v)^m];
  the flux N_t f r_i P_vessel is the ``intravasation_per_day`` output;
* attack (kernel: one touching target per step, killed with prob. 1 − e^{−rate·imm·dt}, at
  most one kill per attacker and step, target types in order): per attacker and step
  q_k = P(touching type k) (1 − e^{−rate_k imm_k dt}), kills = N_attacker Π_{k'<k}(1−q_k') q_k / dt;
* recruitment: each live vessel cell, each step, with prob. 1 − e^{−rate dt} per recruitable
  type, into a free neighbour site: V (1 − e^{−rate dt})/dt P_free; new cells get the type's
  initial state;
* state variables: d v/dt = inc (1 − v) − dec v per cell (the kernel's backward-Euler
  relaxation); daughters inherit, transforms carry their values to the new type;
* corpses are cleared at rate 1/clearance time (the kernel uses a fixed delay);
* substrates: dC/dt = (1/n_sites) Σ_t N_t [r c* + e − (r + u) C] − λ C + k_b (c_b − C)
  for ``dirichlet`` substrates. k_b is the well-mixed exchange with the far field: per axis,
  a slab with diffusion D and loss rate λ_eff = λ + mean cell loss has the mean steady
  concentration of a compartment with k = (D/a²) g(a/ℓ), ℓ = sqrt(D/λ_eff),
  g(x) = x² tanh x / (x − tanh x) (→ 3D/a² when well mixed, sqrt(D λ_eff)/a when the
  boundary layer is thin); axes add; a is half the ghost-to-ghost width.

Signals at the mean (see :mod:`tmesim.meanfield.compile`): substrates at the well-mixed
concentration; ``contact with <type>`` and ``pressure`` as the expected Hill response over a
binomial number of such neighbours among a site's in-domain neighbours (the kernel's signal
is that number / 8 or / 26, and H is nonlinear, so H(mean) would be wrong by up to ~2× for
rare types); own state variables at the type's mean; ``time``; extra global signals (drugs).

What the well-mixed assumption misses (it is exact only for a small, well-stirred domain):
spatial structure. In the default model the tumor is a dense nest: the spatial engine has
a hypoxic, necrotic, contact-inhibited core and divisions only at the rim, and T cells stay
at the margin; random mixing spreads the nest's cells over the whole section. Passing a
measured contact-enrichment table (``MeanField(model, contacts=table)``, measured by
:func:`tmesim.engine.contacts.contact_enrichment`) corrects, per pair of cell types and over
time, the probability of touching at least one cell of a type (contact rules, attacks,
vessel contact) and of having a free neighbour site (divisions; around vessel cells:
recruitment). ``pressure`` stays at the well-mixed occupancy: the cells that can divide are
the rim cells, whose neighbourhood is less crowded than the nest's average, and a pressure
read from the enriched (nest-average) occupancy would stop them. Within-type heterogeneity
(e.g. only high-EMT cells intravasate) is reduced to the type's mean; migration speed and
chemotaxis have no effect.
"""

from .compile import MeanFieldTables, compile_meanfield
from .initial import expected_initial
from .solver import (
    ContactCourse,
    MeanField,
    contact_course,
    contact_matrix,
    simulate,
    summary_table,
)

__all__ = ["ContactCourse", "MeanField", "MeanFieldTables", "contact_course", "contact_matrix", "compile_meanfield", "expected_initial", "simulate", "summary_table"]
