"""Further lines of therapy after first progression (post-progression therapy), the same in every arm.

In the first-line metastatic trials most patients go on to further lines when their disease
progresses, whatever arm they were in; overall survival then counts the time those lines buy
in both arms, which dilutes a first-line survival difference (the reason usually given why
bevacizumab's PFS gain in E2100, AVADO and RIBBON-1 did not become an OS gain: Miles et al.,
Ann Oncol 2013;24:2773, doi:10.1093/annonc/mdt276, pooled OS HR 0.97 (0.86-1.08) with PFS HR
0.64). A trial file lists the lines (``post_progression``, :class:`tmesim.cohort.trial.TrialSpec`)::

    post_progression:
      - {share: 0.8, control_days: 155}    # second line
      - {share: 0.6, control_days: 67}     # third line

Line k is given to ``share`` of the patients who progressed on line k − 1 (line 1 is the trial's
own; the first progression is the PFS event) and holds the whole disease (primary and
metastases) without net growth for a time drawn from an exponential distribution with median
``control_days``; progression on it is the end of that hold, and the next line, when given,
starts then. After the last line the disease follows its own course, delayed by the time held.
The draws come from the patient's seed (a stream of their own), so a patient draws the same
lines whatever their arm: the lines add the same time in expectation to both arms and nothing
to PFS.

Why hand-written: a few lines of numpy on the assessment grid; no library models
post-progression therapy of a simulated burden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STREAM = 0x6C696E65  # "line": the patient's own random stream for further lines, apart from every engine's


@dataclass(frozen=True)
class FurtherLine:
    """One further line: ``share`` of patients progressing on the previous line who receive it,
    ``control_days`` the median duration (days) it holds the disease."""

    share: float
    control_days: float


def held_days(lines: tuple[FurtherLine, ...], seed: int) -> float:
    """Days the further lines hold one patient's disease: the sum of the control times of the
    lines received in order (a line not given ends the sequence). Every line's two draws are
    made whether or not it is given, so line k's draws do not depend on earlier lines."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, STREAM])
    total = 0.0
    for line in lines:
        given, control = rng.random() < line.share, rng.exponential() * line.control_days / np.log(2.0)
        if not given:
            break
        total += float(control)
    return total


def delay_after(days: np.ndarray, burden: np.ndarray, start: float, hold: float) -> np.ndarray:
    """``burden`` on the grid ``days`` held at its value on day ``start`` for ``hold`` days, then
    following its own course delayed by ``hold`` (unchanged before ``start``)."""
    if not (hold > 0 and np.isfinite(start)):
        return burden
    out = burden.copy()
    at_start = float(np.interp(start, days, burden))
    after = days > start
    out[after] = np.where(days[after] < start + hold, at_start, np.interp(days[after] - hold, days, burden))
    return out


__all__ = ["STREAM", "FurtherLine", "delay_after", "held_days"]
