"""The primary tumor section of one patient (moved to :mod:`tmesim.body.section`, which the
body level needs as well; kept here so that cohort code and users keep their import)."""

from tmesim.body.section import ENGINES, KILLED, MEAN_EMT, TUMOR, Engine, run_section

__all__ = ["ENGINES", "KILLED", "MEAN_EMT", "TUMOR", "Engine", "run_section"]
