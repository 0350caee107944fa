"""The model: inert, validated data describing a tumor microenvironment.

A model lists substrates (diffusing signals), cell types with base behaviour values, rules
(signal → behaviour, Hill-modulated, each with its source), and the initial tissue layout.
All values are resolved to canonical units (µm, min, each substrate's own concentration unit)
when the model is validated.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from .body import Body
from .drugs import Drug, TherapyEntry
from .grammar import behaviour_table, signal_names
from .params import (
    DISPLAY_NAME_PATTERN,
    CellVolume,
    ConcentrationUnit,
    Diffusivity,
    Length,
    Param,
    Rate,
    Source,
    Time,
    parse_param,
)
from .units import CANONICAL, concentration_to


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, allow_inf_nan=False)


class Domain(Strict):
    dims: Literal[2, 3] = 2
    shape: list[int] = Field(description="number of lattice sites along x, y (and z in 3D)")
    site_size: Length = Field(description="edge of one lattice site, about one cell diameter (µm)")

    @field_validator("shape")
    @classmethod
    def _shape_positive(cls, v: list[int]) -> list[int]:
        if any(n < 3 for n in v):
            raise ValueError(f"every extent must be at least 3 sites, got {v}")
        return v

    @model_validator(mode="after")
    def _shape_matches_dims(self) -> Domain:
        if len(self.shape) != self.dims:
            raise ValueError(f"shape has {len(self.shape)} entries but dims is {self.dims}; give [nx, ny] in 2D or [nx, ny, nz] in 3D")
        if self.site_size.value <= 0:
            raise ValueError("site_size must be > 0 µm")
        return self

    @property
    def grid(self) -> tuple[int, int, int]:
        """(nz, ny, nx) — the engine's array order; nz = 1 in 2D."""
        nx, ny = self.shape[0], self.shape[1]
        nz = self.shape[2] if self.dims == 3 else 1
        return nz, ny, nx

    @property
    def n_sites(self) -> int:
        nz, ny, nx = self.grid
        return nz * ny * nx


class TimeSettings(Strict):
    dt: Time = Field(default_factory=lambda: parse_param("6 min", "time"), description="step of behaviours and diffusion")
    days: float = Field(default=21.0, gt=0, description="default simulated duration (days)")
    output_interval: Time = Field(default_factory=lambda: parse_param("1 day", "time"))
    checkpoint_interval: Time = Field(default_factory=lambda: parse_param("2 day", "time"))

    @model_validator(mode="after")
    def _positive(self) -> TimeSettings:
        for name in ("dt", "output_interval", "checkpoint_interval"):
            if getattr(self, name).value <= 0:
                raise ValueError(f"{name} must be > 0 minutes")
        return self


def _check_shape(r: FieldRegion | Placement) -> None:
    """The geometry a region's shape needs (shared by initial cells and initial fields)."""
    if r.region in ("disc", "annulus") and r.radius is None:
        raise ValueError(f"region {r.region!r} needs radius (µm)")
    if r.region == "annulus" and r.inner_radius is None:
        raise ValueError("region 'annulus' needs inner_radius (µm)")
    if r.region == "box" and (r.low is None or r.high is None):
        raise ValueError("region 'box' needs low and high corners (µm)")


class FieldRegion(Strict):
    """A region of the domain where a substrate starts at its own value (e.g. a collagen capsule)."""

    region: Literal["disc", "annulus", "box", "everywhere"]
    center: list[float] | None = Field(default=None, description="µm from the domain's lower corner; default its centre")
    radius: Length | None = None
    inner_radius: Length | None = None
    low: list[float] | None = None
    high: list[float] | None = None
    value: float = Field(ge=0, description="initial concentration in the region (substrate unit)")
    source: Source = None

    @model_validator(mode="after")
    def _shape(self) -> FieldRegion:
        _check_shape(self)
        return self


class Substrate(Strict):
    name: str = Field(pattern=DISPLAY_NAME_PATTERN)
    description: str = ""
    unit: ConcentrationUnit = "ng/mL"
    diffusion: Diffusivity
    decay: Rate
    boundary: Literal["dirichlet", "no_flux"] = "no_flux"
    boundary_value: Any = 0.0
    initial: Any = 0.0
    initial_regions: list[FieldRegion] = Field(default_factory=list, description="regions starting at another value, applied in order")
    source: Source = None

    @model_validator(mode="after")
    def _concentrations(self) -> Substrate:
        for name in ("boundary_value", "initial"):
            raw = getattr(self, name)
            value = concentration_to(raw, self.unit, name)
            if value < 0:
                raise ValueError(f"{name} must be >= 0 {self.unit}")
            object.__setattr__(self, name, value)
        return self


class CellType(Strict):
    name: str = Field(pattern=DISPLAY_NAME_PATTERN, description="any name (spaces allowed); no comma, quote or '/'")
    description: str = ""
    color: str | None = Field(default=None, description="matplotlib colour for figures")
    vessel: bool = Field(default=False, description="vessel wall cell: recruitment and intravasation portal")
    behaviours: dict[str, Any] = Field(default_factory=dict, description="base behaviour values (see `tmesim grammar`)")
    initial_state: dict[str, float] = Field(default_factory=dict, description="state variables of new cells, 0-1")
    volume: CellVolume | None = Field(default=None, description="cell volume (the 'volume' signal); default: one lattice site, site_size³")
    apoptotic_clearance: Time = Field(default_factory=lambda: parse_param("8.6 hour", "time"))
    necrotic_clearance: Time = Field(default_factory=lambda: parse_param("2 day", "time"))
    source: Source = None
    role: str | None = Field(default=None, description="what the cell is (tmesim.model.roles.ROLES); default: "
                             "the catalog cell type of the same name's role")
    tags: list[str] = Field(default_factory=list, description="finer labels, e.g. s100a4 or pdpn for CAF subsets")
    label: str | None = Field(default=None, description="legend name in figures (default: the name)")


class Rule(Strict):
    """One line of the rules table (PhysiCell's rules grammar plus source and statement)."""

    cell_type: str
    signal: str
    direction: Literal["increases", "decreases"]
    behaviour: str
    saturation: Any = Field(description="behaviour value at saturating signal")
    half_max: Any = Field(description="signal value giving half the effect")
    hill_power: float = Field(gt=0)
    apply_to_dead: bool = False
    source: Source = None
    statement: str = ""


class Reaction(Strict):
    """A reaction between fields, computed voxel by voxel after diffusion each step.

    ``degradation``: d[substrate]/dt = -rate · H(by) · (1 - inhibition · [inhibited_by]) · [substrate]
    (e.g. collagen cleaved by MMPs, slower when cross-linked);
    ``saturation``: d[substrate]/dt = rate · H(by) · (1 - [substrate]) for a 0-1 substrate
    (e.g. the cross-linked fraction of collagen made by LOX).
    H is the Hill function of the enzyme ``by`` (half-max in its unit, power ``hill_power``).
    """

    substrate: str
    by: str
    kind: Literal["degradation", "saturation"]
    rate: Rate = Field(description="rate at saturating enzyme (1/min)")
    half_max: Any = Field(description="enzyme concentration giving half the rate (the enzyme's unit)")
    hill_power: float = Field(default=1.0, gt=0)
    inhibited_by: str | None = Field(default=None, description="a 0-1 substrate that slows the reaction")
    inhibition: float = Field(default=0.0, ge=0, le=1, description="fractional slowing at inhibited_by = 1")
    source: Source = None


class Placement(Strict):
    """Cells placed at the start: a region of the domain filled to a fraction or density,
    or (region ``cells``) one cell at each given position, e.g. from a real tissue section."""

    cell_type: str
    region: Literal["disc", "annulus", "box", "everywhere", "cells"] = "everywhere"
    positions: list[list[float]] | None = Field(default=None, description="region 'cells': one cell at each position (µm from the domain's lower corner), e.g. from a PhysiCell cells.csv")
    center: list[float] | None = Field(default=None, description="µm from the domain's lower corner; default its centre")
    radius: Length | None = None
    inner_radius: Length | None = None
    low: list[float] | None = Field(default=None, description="box lower corner (µm)")
    high: list[float] | None = Field(default=None, description="box upper corner (µm)")
    fraction: float | None = Field(default=None, ge=0, le=1, description="fraction of the region's free sites filled")
    density: float | None = Field(default=None, ge=0, description="cells per mm² (2D) or per mm³ (3D)")
    state: dict[str, float] = Field(default_factory=dict, description="state variables of the placed cells")
    source: Source = None

    @model_validator(mode="after")
    def _amount(self) -> Placement:
        if self.region == "cells":
            if self.positions is None or self.fraction is not None or self.density is not None:
                raise ValueError("region 'cells' takes positions (a list of [x, y(, z)] in µm) and no fraction or density")
            return self
        if self.positions is not None:
            raise ValueError("positions belong to region 'cells' only")
        if (self.fraction is None) == (self.density is None):
            raise ValueError("give exactly one of fraction (0-1 of free sites) or density (cells per mm² / mm³)")
        _check_shape(self)
        return self


class Perfusion(Strict):
    """Which vessel cells carry blood (:mod:`tmesim.engine.perfusion` states the lattice rule).

    A vessel cell is perfused when it is connected, through touching vessel cells, to a vessel
    of the host network (one present at the start, or at the domain edge) and it is not
    compressed: a vessel whose in-domain neighbour sites are at least ``collapse_occupancy``
    filled by live non-vessel cells is squeezed shut by solid stress (a vessel with state
    ``stabilised_by`` = v collapses only at c + (1 − c)·v: pericyte-covered vessels resist). Only perfused vessels
    release the ``blood_borne`` substrates (oxygen) and deliver drugs.
    """

    blood_borne: list[str] = Field(default_factory=list, description="substrates vessel cells take from blood "
                                   "(released only by perfused vessels), e.g. [oxygen]")
    collapse_occupancy: float = Field(default=1.0, gt=0.0, le=1.0, description="share of a vessel's neighbour "
                                      "sites filled by live non-vessel cells at which it is compressed shut")
    stabilised_by: str | None = Field(default=None, description="state variable of vessel cells (0-1, e.g. "
                                      "pericyte coverage) that raises the share at which they collapse toward 1")
    source: Source = None


class Barrier(Strict):
    """A matrix layer cells cannot enter while it is intact (a basement membrane around ducts).

    No cell moves, divides, is recruited or exchanges places into a site where the
    non-diffusing ``substrate`` is at or above ``threshold``; cells are not placed there at the
    start. The layer opens where enzymes degrade it below the threshold (a ``reactions`` row,
    e.g. MMPs): :mod:`tmesim.engine.kernels` (``blocked``) states the lattice rule.
    """

    substrate: str = Field(description="the substrate that forms the barrier (e.g. basement_membrane, 0-1)")
    threshold: float = Field(gt=0, description="the barrier holds where the substrate is >= this value")
    source: Source = None


class Model(Strict):
    """A complete, validated tumor-microenvironment model.

    Build one with :func:`tmesim.model.model_from_dict` or :func:`tmesim.model.load_model`:
    they check the schema, then resolve names and units (``tmesim.model.validate``).
    """

    name: str
    description: str = ""
    format_version: int = Field(default=1, description="model-file format (checked on read; see tmesim.model.io_yaml)")
    domain: Domain
    time: TimeSettings = Field(default_factory=TimeSettings)
    substrates: list[Substrate]
    state_variables: list[str] = Field(default_factory=list, description="per-cell variables in 0-1, e.g. emt, pdl1")
    custom_variables: list[str] = Field(default_factory=list, description="PhysiCell-style custom variables: any real value, set by the behaviour 'custom:<name>', read by the signal 'custom:<name>'")
    cell_types: list[CellType]
    rules: list[Rule] = Field(default_factory=list)
    initial: list[Placement] = Field(default_factory=list)
    reactions: list[Reaction] = Field(default_factory=list, description="field-field reactions (matrix remodelling)")
    references: dict[str, str] = Field(default_factory=dict, description="citation key -> full reference")
    body: Body | None = Field(default=None, description="whole-body level: circulation, organs, metastasis")
    therapies: list[TherapyEntry] = Field(default_factory=list, description="catalog regimens given, each from a start time")
    drugs: list[Drug] = Field(default_factory=list, description="dosing schedules (PK); filled from therapies on validation")
    perfusion: Perfusion | None = Field(default=None, description="vessel perfusion (null: every vessel cell "
                                        "is perfused and drugs reach every site)")
    barrier: Barrier | None = Field(default=None, description="a substrate cells cannot cross while intact "
                                    "(a basement membrane); null: none")
    user_parameters: dict[str, Any] = Field(default_factory=dict, description="free parameters carried with the model (e.g. a PhysiCell project's user_parameters); not read by the engines")
    field_solve: Literal["converged", "fast"] | None = Field(
        default=None, description="the coupled solve of fast-uptake substrates (oxygen) each step: 'converged' "
        "(default, null: multigrid to a relative residual of 1e-6) or 'fast' (1e-3: about one V-cycle a step, "
        "or none when the warm start already meets it; same oxygen penetration depth, see docs/engines.md)")

    @model_serializer(mode="wrap")
    def _omit_unset_options(self, handler):  # noqa: ANN001, ANN202 - pydantic's serializer protocol
        """Leave out opt-in options that are unset, so the dump (run config, model hashes)
        of a model that does not use them is what it was before they existed."""
        d = handler(self)
        if isinstance(d, dict) and d.get("field_solve", 0) is None:
            del d["field_solve"]
        return d

    # Convenience lookups (the model is data; these only index it).
    @property
    def substrate_names(self) -> list[str]:
        return [s.name for s in self.substrates]

    @property
    def cell_type_names(self) -> list[str]:
        return [c.name for c in self.cell_types]

    def cell_type(self, name: str) -> CellType:
        for c in self.cell_types:
            if c.name == name:
                return c
        raise KeyError(name)

    def types_with_role(self, *roles: str, tag: str | None = None) -> list[str]:
        """Names of the cell types whose role is one of ``roles`` (and that carry ``tag``)."""
        return [c.name for c in self.cell_types if c.role in roles and (tag is None or tag in c.tags)]

    def substrate(self, name: str) -> Substrate:
        for s in self.substrates:
            if s.name == name:
                return s
        raise KeyError(name)

    def behaviours(self):  # noqa: ANN201 - list[Behaviour]
        return behaviour_table(self.substrate_names, self.cell_type_names, self.state_variables, self.custom_variables)

    def signals(self) -> list[str]:
        return signal_names(self.substrate_names, self.cell_type_names, self.state_variables,
                            [d.name for d in self.drugs], self.custom_variables)

    def drug(self, name: str) -> Drug:
        for d in self.drugs:
            if d.name == name:
                return d
        raise KeyError(name)


__all__ = ["CANONICAL", "Barrier", "CellType", "Domain", "Model", "Param", "Perfusion", "Placement", "Reaction", "Rule",
           "Substrate", "TimeSettings"]
