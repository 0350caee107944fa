"""The whole-body section of a model (``body:``): circulation, organs, dissemination.

The spatial engine simulates a section of the primary tumor; the body section says how that
tumor's intravasating cells travel, die, arrest, extravasate, stay dormant and colonise bone,
lung, liver and brain. Every number is a parameter ``{value, unit, source}`` like the rest of
the model; rates are stored in 1/min, times in min, volumes in mL.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .params import Number, Param, Rate, Source, Time, Volume

ORGANS: tuple[str, ...] = ("bone", "lung", "liver", "brain")
EMT_CLASSES: tuple[str, ...] = ("epithelial", "hybrid", "mesenchymal")
# Tumor-cell factors the organ barriers, chemoattraction and priming respond to (0-1 scores).
TUMOR_FACTORS: tuple[str, ...] = (
    "vegf", "mmp", "cathepsin_s", "cox2_epiregulin", "claudin2", "cxcr4", "ccl2", "rankl_response",
    "jag1", "integrin_a6b4", "integrin_avb5", "mir105", "cemip", "annexin_a6", "mir20a",
    "tgfb", "myeloid", "platelets",
)
# Section quantities a coupling map may read (besides ``substrate:<name>`` and ``group:<role>``,
# cells of a role per tumor cell): see tmesim.body.coupling.
SECTION_QUANTITIES: tuple[str, ...] = (
    "shedding", "emt", "stemness", "pdl1", "hypoxia", "epithelial", "hybrid", "mesenchymal",
    "junctional", "tumor_death",
)


def _fraction(p: Param) -> Param:
    if p.value > 1.0:
        raise ValueError(f"must be a fraction between 0 and 1, got {p.value}")
    return p


Fraction = Annotated[Number, AfterValidator(_fraction)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _check_factors(weights: dict[str, Param], where: str) -> None:
    unknown = sorted(set(weights) - set(TUMOR_FACTORS))
    if unknown:
        raise ValueError(f"{where}: unknown tumor factor(s) {unknown}; allowed: {', '.join(TUMOR_FACTORS)}")


class EMTClass(_Strict):
    """How a disseminated cell's EMT state shapes its fate after it leaves the primary tumor."""

    anoikis: Number = Field(description="factor on the death hazard in blood (anoikis)")
    extravasation: Number = Field(description="factor on the probability of crossing an organ barrier")
    met: Rate = Field(description="rate at which a disseminated cell of this state completes MET (1/min)")
    colony_founding: Fraction = Field(description="probability that a re-awakened cell founds a growing colony (stemness)")


class Circulation(_Strict):
    """Blood: transit loops, CTC death, platelet shielding and clinical sampling."""

    blood_volume: Volume
    circulation_time: Time = Field(description="time for one loop through the body (blood volume / cardiac output)")
    first_pass_trap: Fraction = Field(description="share of entering cells and clusters stopped by size in the lung capillaries on their first pass")
    death_single: Rate = Field(description="death hazard of a single CTC in blood: shear, anoikis and NK cells (1/min)")
    nk_share: Fraction = Field(description="share of that hazard due to NK cells")
    platelet_shield: Fraction = Field(description="fraction of shear and NK killing prevented by a platelet coat")
    cluster_protection: Fraction = Field(description="fraction of the death hazard a cell in a cluster escapes")
    sample_volume: Volume = Field(description="blood volume of one CTC assay (CellSearch: 7.5 mL)")
    detectable: list[Literal["epithelial", "hybrid", "mesenchymal"]] = Field(
        description="EMT states an EpCAM-based CTC assay captures")


class Dormancy(_Strict):
    """What keeps disseminated cells dormant in an organ and what wakes them.

    ``sleep = 1 + sum_s w_s * x_s / (x_s + half_s)`` over the organ niche's signals ``s``
    (``substrate:<name>``: its mean concentration in the spatial niche run; ``cells:<type>``:
    that resident type's share of cells, standing for contact); ``wake = 1 + sum_f w_f * f``
    over the patient's systemic tumor factors (inflammation, neutrophils/NETs, angiogenic
    sprouting). Awakening is ``awakening * wake / sleep`` and dormant death ``dormant_death / sleep`` (``/ (1 + s (sleep - 1))`` with the subtype's ``primary.dormant_survival`` s)
    (quiescent cells in a dormancy niche survive, e.g. Braun et al. NEJM 2005)."""

    signals: dict[str, Number] = Field(default_factory=dict, description="niche signal -> weight on sleep")
    half: dict[str, Number] = Field(default_factory=dict, description="niche signal -> value giving half its weight")
    wake: dict[str, Number] = Field(default_factory=dict, description="tumor factor -> weight on awakening")

    @model_validator(mode="after")
    def _check(self) -> Dormancy:
        _check_factors(self.wake, "dormancy.wake")
        for k in self.signals:
            kind, _, rest = k.partition(":")
            if kind not in ("substrate", "cells") or not rest:
                raise ValueError(f"dormancy.signals: {k!r}; allowed: substrate:<name> or cells:<type>")
            if k not in self.half:
                raise ValueError(f"dormancy.half: give a half value for {k!r}")
        return self


class Organ(_Strict):
    """One metastatic site: its share of blood, barrier, priming, dormancy and niche model."""

    blood_flow: Fraction = Field(description="share of cardiac output through this organ's capillaries")
    arrest_single: Fraction = Field(description="arrest probability of a single CTC per pass")
    arrest_cluster: Fraction = Field(description="arrest probability of a cluster per pass")
    chemoattraction: dict[str, Number] = Field(default_factory=dict,
                                               description="tumor factor -> gain on arrest (homing)")
    extravasation: Fraction = Field(description="probability that an arrested cell crosses without help")
    barrier_opening: dict[str, Number] = Field(default_factory=dict,
                                               description="tumor factor -> probability that it opens the barrier")
    priming: dict[str, Number] = Field(default_factory=dict,
                                       description="exosome tumor factor -> weight of pre-metastatic priming")
    priming_gain: Number = Field(description="factor on arrest and dormant survival in a fully primed organ, minus 1")
    dormant_death: Rate = Field(description="death rate of dormant disseminated cells (1/min)")
    awakening: Rate = Field(description="rate at which an epithelial (post-MET) dormant cell re-enters the cycle (1/min)")
    detection_cells: Number = Field(description="metastasis size at clinical detection (cells)")
    carrying_capacity: Number = Field(description="Gompertz plateau of one metastasis (cells)")
    lethal_cells: Number | None = Field(
        default=None, description="metastatic cells in this organ at which the organ's failure is fatal whatever the "
        "rest of the body holds (cells; e.g. raised intracranial pressure in the brain); unset: the organ counts only "
        "towards the whole body's lethal burden (primary.carrying_capacity)")
    niche: str = Field(description="preset name of the organ niche model run by the spatial engine")
    dormancy: Dormancy | None = None

    @model_validator(mode="after")
    def _factors(self) -> Organ:
        _check_factors(self.chemoattraction, "chemoattraction")
        _check_factors(self.barrier_opening, "barrier_opening")
        _check_factors(self.priming, "priming")
        if self.lethal_cells is not None and not self.lethal_cells.value > self.detection_cells.value:
            raise ValueError(f"lethal_cells: must be above detection_cells ({self.detection_cells.value:g} cells): "
                             f"got {self.lethal_cells.value:g}")
        return self


class Primary(_Strict):
    """The whole primary tumor the spatial section samples: growth, surgery, factors."""

    initial_cells: Number = Field(description="tumor cells when the simulated life history starts")
    diagnosis_cells: Number = Field(description="tumor cells at clinical diagnosis")
    carrying_capacity: Number = Field(description="Gompertz plateau of the primary tumor (cells)")
    doubling_time: Time = Field(description="volume doubling time of the primary tumor at diagnosis")
    surgery_delay: Time = Field(description="time from diagnosis to resection (shedding stops)")
    awakening_factor: Number = Field(description="factor on every organ's awakening rate: how readily this subtype's disseminated cells leave dormancy")
    dormant_survival: Number | None = Field(
        default=None, description="factor on the organ niches' hold on dormant death: dormant death is "
        "dormant_death / (1 + s (sleep - 1)), how much longer this subtype's disseminated cells survive in a "
        "dormancy niche (ER+ cells persist for decades); unset: 1 (dormant_death / sleep)")
    shedding_variability: Number = Field(description="standard deviation of ln(shedding) between patients (a patient's tumor sheds exp(N(0, s²)) times the section's rate)")
    immune_growth_exponent: Number | None = Field(default=None, description="elasticity w of the whole tumor's growth on its section's immune kill rate: g = g0 (k_ref / k)^w (tmesim.cohort.endpoints); unset: the cohort default")
    factors: dict[str, Fraction] = Field(default_factory=dict, description="tumor factor scores 0-1 (expression)")
    angiogenic_dependence: Fraction | None = Field(
        default=None, description="share of the whole tumor's expansion that needs new vessels driven by the "
        "section's angiogenic growth factors (the vessel types' growth-factor rules on cycle entry): a therapy that "
        "lowers that drive slows this share (tmesim.cohort.endpoints); null: expansion independent of it")

    @model_validator(mode="after")
    def _check(self) -> Primary:
        _check_factors(self.factors, "factors")
        if not self.initial_cells.value < self.diagnosis_cells.value < self.carrying_capacity.value:
            raise ValueError("need initial_cells < diagnosis_cells < carrying_capacity")
        return self


class Exosomes(_Strict):
    """Tumor exosomes that prime pre-metastatic niches before cells arrive."""

    enabled: bool = True
    release_half_cells: Number = Field(description="tumor size giving half-maximal priming drive (cells)")
    priming_rate: Rate = Field(description="rate at which an organ approaches full priming at maximal drive (1/min)")
    decay: Rate = Field(description="rate at which priming fades without exosomes (1/min)")


class Map(_Strict):
    """One documented map from a quantity of the primary section to a body-level factor:
    ``score = max * q^hill / (q^hill + half^hill)`` (a saturating Hill response)."""

    quantity: str = Field(description="section quantity: one of SECTION_QUANTITIES, substrate:<name> or group:<role>")
    half: float = Field(gt=0, description="value of the quantity giving half the maximal score (the quantity's unit)")
    max: float = Field(default=1.0, ge=0, description="score at saturation")
    hill: float = Field(default=1.0, gt=0)
    source: str = Field(min_length=3, description="citation or 'assumption: ...'")

    @model_validator(mode="after")
    def _quantity(self) -> Map:
        kind, _, rest = self.quantity.partition(":")
        if not (self.quantity in SECTION_QUANTITIES or (kind in ("substrate", "group") and rest)):
            raise ValueError(f"quantity {self.quantity!r}; allowed: {', '.join(SECTION_QUANTITIES)}, "
                             "substrate:<name> or group:<role>")
        return self


class Partner(_Strict):
    """A non-tumor cell that can leave with a CTC cluster (a heterotypic cluster)."""

    group: str = Field(description="role (a key of coupling.groups) whose section cells are the partners")
    contacts: float = Field(ge=0, description="neighbour sites around a departing cluster that a partner may fill")
    survival: Fraction = Field(description="fraction of the blood death hazard that a cluster with this partner escapes")
    founding: Number = Field(description="factor on the colony founding of a cluster with this partner")
    source: str = Field(min_length=3)


class Coupling(_Strict):
    """How a patient's own primary section sets the body level (tmesim.body.coupling)."""

    window: Time = Field(description="the section's last days that are averaged")
    groups: dict[str, list[str]] = Field(description="role -> section cell types playing it; 'tumor' is required")
    emt_spread: Number = Field(description="concentration of the Beta distribution of EMT scores around the section's mean")
    emt_propensity: dict[Literal["epithelial", "hybrid", "mesenchymal"], Number] = Field(
        description="relative intravasation of tumor cells of each EMT class")
    cluster_fraction: Map = Field(description="share of departing tumor cells that leave in clusters")
    cluster_size: Number = Field(description="mean tumor cells per cluster")
    founding: Map = Field(description="factor on colony founding from the CTCs' stemness (1 at the half value)")
    pdl1_escape: Fraction = Field(description="fraction of NK killing of CTCs escaped at PD-L1 score 1")
    exosome_release: Map = Field(description="factor on exosome release per tumor cell (1 at the half value)")
    shield: Map = Field(description="factor on circulation.platelet_shield from the tumor's platelet activation")
    cluster_stemness: Number = Field(description="factor on the colony founding of each cell of a cluster (cluster-specific stemness)")
    factors: dict[str, Map] = Field(description="tumor factor -> its section map (replaces primary.factors)")
    partners: dict[str, Partner] = Field(default_factory=dict)
    source: Source = None

    @model_validator(mode="after")
    def _check(self) -> Coupling:
        _check_factors(self.factors, "coupling.factors")
        if "tumor" not in self.groups:
            raise ValueError("coupling.groups needs 'tumor' (the section's tumor cell types)")
        roles = [m.quantity.split(":", 1)[1] for m in (self.cluster_fraction, self.founding, self.exosome_release,
                                                        self.shield, *self.factors.values()) if m.quantity.startswith("group:")]
        roles += [p.group for p in self.partners.values()]
        unknown = sorted(set(roles) - set(self.groups))
        if unknown:
            raise ValueError(f"coupling: unknown role(s) {unknown}; defined in coupling.groups: {', '.join(self.groups)}")
        return self


class Body(_Strict):
    """The ``body:`` section of a model."""

    follow_up: Time = Field(description="time simulated after diagnosis")
    circulation: Circulation
    emt_classes: dict[Literal["epithelial", "hybrid", "mesenchymal"], EMTClass]
    organs: dict[Literal["bone", "lung", "liver", "brain"], Organ]
    primary: Primary
    exosomes: Exosomes
    coupling: Coupling | None = None
    presentation_cells: Number | None = Field(
        default=None, description="total tumor burden (cells: every organ's metastatic cells plus the primary in "
        "place) at which metastatic disease is diagnosed clinically, from symptoms; a metastatic-setting trial enrols "
        "patients then (tmesim.cohort.metastatic); unset: at the first detected metastasis")
    source: Source = None

    @model_validator(mode="after")
    def _complete(self) -> Body:
        for name, have, want in (("emt_classes", self.emt_classes, EMT_CLASSES), ("organs", self.organs, ORGANS)):
            missing = [k for k in want if k not in have]
            if missing:
                raise ValueError(f"{name} is missing {missing}; give all of {', '.join(want)}")
        if self.organs["lung"].blood_flow.value != 1.0:
            raise ValueError("organs.lung.blood_flow must be 1: all venous return from the breast passes the lung capillaries first")
        flow = sum(o.blood_flow.value for o in self.organs.values() if o is not self.organs["lung"])
        if flow > 1.0:
            raise ValueError(f"blood_flow of bone, liver and brain add up to {flow:.2f}; they are shares of cardiac output and must sum to <= 1")
        lethal = self.primary.carrying_capacity.value
        p = self.presentation_cells
        if p is not None and not 0.0 < p.value < lethal:
            raise ValueError(f"presentation_cells: must be > 0 and below primary.carrying_capacity (the lethal burden, "
                             f"{lethal:g} cells): got {p.value:g}")
        return self


__all__ = ["EMT_CLASSES", "ORGANS", "SECTION_QUANTITIES", "TUMOR_FACTORS", "Body", "Circulation", "Coupling", "Dormancy", "EMTClass",
           "Exosomes", "Map", "Organ", "Partner", "Primary"]
