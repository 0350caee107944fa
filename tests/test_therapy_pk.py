"""Drug exposure C(t): one-compartment PK of a dosing schedule (tmesim.model.pk)."""

from __future__ import annotations

import numpy as np
import pytest

from tmesim.model import ModelError
from tmesim.model.drugs import Drug
from tmesim.model.pk import drug_exposures, exposure, steady_state
from tmesim.therapy import therapy_info

DAY = 1440.0


def drug(**kw) -> Drug:
    base = {"name": "x", "peak": 10.0, "interval": "7 day", "half_life": "2 day"}
    return Drug.model_validate({**base, **kw})


def test_single_dose_decays_with_the_half_life() -> None:
    d = drug(cycles=1, start="1 day")
    t = np.array([0.0, 0.999, 1.0, 3.0, 5.0, 7.0, 30.0]) * DAY
    c = exposure(d, t)
    assert c[0] == 0.0 and c[1] == 0.0  # before the first administration
    assert c[2] == pytest.approx(10.0)
    assert c[3] == pytest.approx(5.0) and c[4] == pytest.approx(2.5) and c[5] == pytest.approx(1.25)
    assert c[6] == pytest.approx(10.0 * 0.5 ** (29 / 2))  # no second dose: cycles = 1
    # the log-slope is -ln2 / half-life everywhere after the dose
    tt = np.linspace(1.5, 20, 50) * DAY
    slope = np.diff(np.log(exposure(d, tt))) / np.diff(tt)
    assert np.allclose(slope, -np.log(2) / (2 * DAY), rtol=1e-9)


def test_repeated_dosing_accumulates_to_the_analytic_steady_state() -> None:
    d = drug()  # 10 every 7 days, half-life 2 days, until the end
    peak_ss, trough_ss = steady_state(d)
    r = 0.5 ** (7 / 2)
    assert peak_ss == pytest.approx(10 / (1 - r)) and trough_ss == pytest.approx(10 * r / (1 - r))
    # brute force: the sum of every earlier dose's decay
    t = np.linspace(0, 200 * DAY, 3001)
    brute = sum(np.where(t >= k * 7 * DAY, 10 * 0.5 ** ((t - k * 7 * DAY) / (2 * DAY)), 0.0) for k in range(30))
    assert np.allclose(exposure(d, t), brute, rtol=1e-12, atol=1e-12)
    late = 190 * 1.0
    n = int(late // 7)
    assert exposure(d, n * 7 * DAY)[()] == pytest.approx(peak_ss, rel=1e-9)  # just after a dose
    assert exposure(d, (n * 7 + 6.9999) * DAY)[()] == pytest.approx(trough_ss, rel=1e-3)
    # accumulation: the peaks rise monotonically toward the steady-state peak
    peaks = exposure(d, np.arange(10) * 7 * DAY)
    assert np.all(np.diff(peaks) > 0) and peaks[-1] < peak_ss


def test_offsets_and_cycles() -> None:
    d = drug(interval="28 day", offsets=["0 day", "7 day", "14 day"], cycles=2, half_life="1 day")
    given = [0, 7, 14, 28, 35, 42]
    t = np.array(given) * DAY
    assert np.all(exposure(d, t) >= 10.0)  # each administration adds the peak
    assert exposure(d, 56 * DAY)[()] == pytest.approx(sum(10 * 0.5 ** (56 - g) for g in given))  # no third cycle
    assert exposure(d, t).shape == (6,) and exposure(d, 3.0).shape == ()


def test_dose_and_volume_give_the_peak_in_the_drug_unit() -> None:
    d = Drug(name="mab", dose="840 mg", volume="6.9 L", interval="14 day", half_life="27 day")
    assert d.peak == pytest.approx(840 / 6.9)  # mg/L = µg/mL
    ng = Drug(name="mab", unit="ng/mL", dose="840 mg", volume="6.9 L", interval="14 day", half_life="27 day")
    assert ng.peak == pytest.approx(840 / 6.9 * 1000)


def test_catalog_half_lives_match_their_sources() -> None:
    """The half-lives the issue names: atezolizumab ~27 d, bevacizumab ~20 d, daclizumab ~20 d, taxanes hours."""
    hl = {d.name: d.drug.half_life.value / DAY for n in ("atezolizumab+nab-paclitaxel", "bevacizumab+chemotherapy",
                                                           "anti-CD25", "low-dose-cyclophosphamide")
          for d in therapy_info(n).drugs}
    assert hl["atezolizumab"] == 27 and hl["bevacizumab"] == 20 and hl["daclizumab"] == 20
    assert all(hl[n] < 1.0 for n in ("nab-paclitaxel", "paclitaxel", "cyclophosphamide"))


@pytest.mark.parametrize(("fields", "match"), [
    ({"interval": "0 day"}, "interval must be > 0"),
    ({"half_life": "-1 day"}, "half_life"),
    ({"peak": None}, "give peak"),
    ({"offsets": ["8 day"]}, "offsets must lie in"),
    ({"start": "-2 day"}, "must be >= 0"),
    ({"unit": "furlong"}, "unknown concentration unit"),
    ({"cycles": 0}, "greater than or equal to 1"),
    ({"half_life": "3 um"}, "expected a time"),
])
def test_bad_schedules_are_refused(fields, match) -> None:
    with pytest.raises((ValueError, ModelError), match=match):
        drug(**fields)


def test_drug_exposures_follow_the_model_drug_order(small_model) -> None:
    from tmesim.therapy import apply_therapies

    m = apply_therapies(small_model, ["atezolizumab+nab-paclitaxel@day=1"])
    assert drug_exposures(small_model, 0.0).shape == (0,)
    c = drug_exposures(m, 1.0 * DAY)
    assert c.tolist() == pytest.approx([840 / 6.9, 170 / 1040])
    assert drug_exposures(m, 0.5 * DAY).tolist() == [0.0, 0.0]
