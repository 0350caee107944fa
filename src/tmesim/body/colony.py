"""How one metastatic colony grows, from its founding cell to clinical detection and beyond.

Two phases:

* **colonisation** (the organ niche's spatial run, ``niche_days``): the founding cell and its
  first progeny grow at the niche's rate (:attr:`tmesim.body.niche.NicheOutcome.growth_rate`),
  which says whether the soil lets a colony take at all (MET, resident-cell contacts); a niche
  in which the colony does not grow leaves it a single cell;
* **macroscopic outgrowth**: a Gompertz law up to the organ's plateau (``carrying_capacity``)
  with the **primary tumor's** deceleration ``beta = ln 2 / (TVDT ln(K_primary / N_diagnosis))``
  — the subtype's clinical volume doubling time at diagnosis (``body.primary.doubling_time``,
  fitted per subtype to Ryu et al., Eur Radiol 2014;24:2227). Assumption: a metastasis grows
  with its primary's kinetics (at the 1e8-cell detection size it doubles in ~0.8 TVDT: it is
  smaller than the primary at diagnosis). The niches' own rates are measured over four days on
  a few dozen cells (0.1-0.4/day, a doubling in days): holding them to detection size made
  every colony detectable within 3-8 months of founding, whatever the subtype, so the timing of
  relapse came from dissemination alone. An intervention that slows the niche (e.g. TGF-β
  blockade of the bone vicious cycle, review:121, 122) scales ``beta`` by the niche's growth
  rate with the intervention over its rate without.

Hand-written (a closed-form Gompertz): the size and the time to a size are needed per colony
and per week in the body model's inner loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ColonyGrowth:
    """Size of one colony against its age (days since founding)."""

    rate0: float  # niche growth rate during colonisation (1/day); <= 0: the colony does not grow
    niche_days: float  # length of the colonisation phase (days)
    beta: float  # Gompertz deceleration of the macroscopic outgrowth (1/day)
    k: float  # plateau (cells)

    @classmethod
    def for_organ(cls, niche_rate: float, niche_days: float, primary_beta: float, k: float,
                  relative_niche: float = 1.0) -> ColonyGrowth:
        """A colony in an organ whose niche grows at ``niche_rate`` over ``niche_days``; the
        outgrowth follows the primary's Gompertz ``primary_beta`` times ``relative_niche``."""
        return cls(float(niche_rate), float(niche_days), float(primary_beta) * max(float(relative_niche), 0.0), float(k))

    @property
    def grows(self) -> bool:
        return self.rate0 > 0 and self.beta > 0

    @property
    def seeded_cells(self) -> float:
        """Cells at the end of colonisation."""
        return float(np.exp(self.rate0 * self.niche_days)) if self.grows else 1.0

    def size(self, age: np.ndarray | float) -> np.ndarray:
        age = np.clip(np.asarray(age, float), 0.0, None)
        if not self.grows:
            return np.ones_like(age)
        n1 = self.seeded_cells
        early = np.exp(self.rate0 * np.minimum(age, self.niche_days))
        late = self.k * np.exp(np.log(n1 / self.k) * np.exp(-self.beta * np.maximum(age - self.niche_days, 0.0)))
        return np.where(age <= self.niche_days, early, late)

    def time_to(self, cells: float) -> float:
        """Days from founding to ``cells`` (inf if never reached)."""
        if not self.grows or cells >= self.k:
            return float("inf")
        n1 = self.seeded_cells
        if cells <= n1:
            return float(np.log(max(cells, 1.0)) / self.rate0)
        return float(self.niche_days - np.log(np.log(cells / self.k) / np.log(n1 / self.k)) / self.beta)


__all__ = ["ColonyGrowth"]
