"""Trial report statistics: log-rank p-values, proportional-hazards checks, lifelines at-risk
counts, fixed arm colours and a months axis."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tmesim.cohort.report import ARM_COLORS, analyse, arm_color
from tmesim.cohort.survival import logrank_tests, proportional_hazards_tests


def _trial(n: int = 120, hr: float = 0.5, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    scale = np.where(arm == "control", 300.0, 300.0 / hr)  # exponential times: proportional hazards
    out = {"patient_id": np.arange(n), "arm": arm}
    for ep in ("pfs", "os"):
        t = rng.exponential(scale)
        follow = 720.0
        out[f"{ep}_days"] = np.minimum(t, follow)
        out[f"{ep}_event"] = t < follow
    return pd.DataFrame(out)


def test_logrank_detects_a_real_difference_and_not_a_null_one():
    df = _trial(hr=0.4)
    lr = logrank_tests(df, ["pfs", "os"], ["control", "treatment"])
    assert list(lr["endpoint"]) == ["pfs", "os"] and (lr["p"] < 0.01).all()
    null = [logrank_tests(_trial(hr=1.0, seed=s), ["pfs"], ["control", "treatment"])["p"].iloc[0] for s in range(20)]
    assert np.mean(np.array(null) < 0.05) <= 0.2  # about 5% false positives expected


def test_proportional_hazards_test_per_endpoint():
    ph = proportional_hazards_tests(_trial(hr=0.5), ["pfs", "os"], ["control", "treatment"])
    assert list(ph["endpoint"]) == ["pfs", "os"] and ph["covariate"].eq("arm_treatment").all()
    assert ph["p"].between(0, 1).all()


def test_report_has_tests_colours_and_months(tmp_path):
    summary = analyse(_trial(), tmp_path, "t", ["control", "treatment"], ["pfs", "os"], wall_s=1.0)
    assert {r["endpoint"] for r in summary["logrank"]} == {"pfs", "os"}
    assert {r["endpoint"] for r in summary["proportional_hazards"]} == {"pfs", "os"}
    assert pd.read_csv(tmp_path / "logrank.csv").shape[0] == 2
    html = (tmp_path / "report.html").read_text()
    assert "Log-rank" in html and "Proportional-hazards" in html
    json.loads((tmp_path / "summary.json").read_text())
    assert arm_color(["control", "treatment"], "control") == ARM_COLORS[0]
    assert arm_color(["treatment", "control"], "control") == ARM_COLORS[1]


def test_km_figure_uses_lifelines_at_risk_counts(tmp_path, monkeypatch):
    import lifelines.plotting

    calls = []
    real = lifelines.plotting.add_at_risk_counts

    def spy(*fitters, **kw):
        calls.append([f.label for f in fitters])
        return real(*fitters, **kw)

    monkeypatch.setattr(lifelines.plotting, "add_at_risk_counts", spy)
    analyse(_trial(), tmp_path, "t", ["control", "treatment"], ["pfs", "os"], wall_s=1.0)
    assert calls == [["control", "treatment"], ["control", "treatment"]]
