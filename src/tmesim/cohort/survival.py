"""Survival analysis of a cohort or trial table with lifelines.

Endpoints are columns ``<name>_days`` and ``<name>_event`` (``pfs``, ``os``, ``met_<organ>``).
Hazard ratios come from Cox models (Efron ties) with 95% Wald confidence intervals:
treatment arms against the reference (first) arm, and per marker (standardised log marker,
HR per standard deviation, adjusted for arm when there are several arms).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .markers import MARKERS


def km_table(df: pd.DataFrame, endpoint: str, group: str = "arm") -> pd.DataFrame:
    """Kaplan–Meier survival per group: ``group, time_days, survival, ci_lower, ci_upper, at_risk``
    (patients still followed at that time) + medians in attrs."""
    from lifelines import KaplanMeierFitter

    rows, medians = [], {}
    for g, sub in df.groupby(group, sort=False):
        kmf = KaplanMeierFitter().fit(sub[f"{endpoint}_days"], sub[f"{endpoint}_event"].astype(bool), label=str(g))
        sf, ci = kmf.survival_function_, kmf.confidence_interval_
        at_risk = kmf.event_table["at_risk"].reindex(sf.index).fillna(len(sub)).to_numpy(int)
        rows.append(pd.DataFrame({group: g, "time_days": sf.index.to_numpy(float), "survival": sf.iloc[:, 0].to_numpy(),
                                  "ci_lower": ci.iloc[:, 0].to_numpy(), "ci_upper": ci.iloc[:, 1].to_numpy(),
                                  "at_risk": at_risk}))
        medians[str(g)] = float(kmf.median_survival_time_)
    out = pd.concat(rows, ignore_index=True)
    out.attrs["medians"] = medians
    return out


def _cox(data: pd.DataFrame, duration: str, event: str) -> pd.DataFrame:
    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter(penalizer=1e-6).fit(data, duration_col=duration, event_col=event)
    s = cph.summary
    return pd.DataFrame({"covariate": s.index, "hr": s["exp(coef)"].to_numpy(), "ci_lower": s["exp(coef) lower 95%"].to_numpy(),
                         "ci_upper": s["exp(coef) upper 95%"].to_numpy(), "p": s["p"].to_numpy()})


def arm_hazard_ratios(df: pd.DataFrame, endpoints: list[str], arms: list[str] | None = None,
                      reference: str | None = None) -> pd.DataFrame:
    """HR (95% CI) of each arm vs ``reference`` (default: the first of ``arms``) per endpoint."""
    arms = arms or list(dict.fromkeys(df["arm"]))
    ref = reference or arms[0]
    rows = []
    for ep in endpoints:
        for arm in arms:
            if arm == ref:
                continue
            sub = df[df["arm"].isin([ref, arm])]
            d = pd.DataFrame({"t": sub[f"{ep}_days"].to_numpy(float), "e": sub[f"{ep}_event"].astype(int).to_numpy(),
                              "treated": (sub["arm"] == arm).astype(float).to_numpy()})
            n_ev = int(d["e"].sum())
            if n_ev == 0 or d.groupby("treated")["e"].sum().min() == 0 and n_ev < 2:
                rows.append({"endpoint": ep, "arm": arm, "reference": ref, "hr": np.nan, "ci_lower": np.nan,
                             "ci_upper": np.nan, "p": np.nan, "events": n_ev})
                continue
            r = _cox(d, "t", "e").iloc[0]
            rows.append({"endpoint": ep, "arm": arm, "reference": ref, "hr": r["hr"], "ci_lower": r["ci_lower"],
                         "ci_upper": r["ci_upper"], "p": r["p"], "events": n_ev})
    return pd.DataFrame(rows)


def marker_hazard_ratios(df: pd.DataFrame, endpoints: list[str], markers: tuple[str, ...] = MARKERS,
                         arms: list[str] | None = None) -> pd.DataFrame:
    """HR per standard deviation of log(marker) for each endpoint (adjusted for arm)."""
    arms = arms or list(dict.fromkeys(df["arm"]))
    rows = []
    for ep in endpoints:
        for mk in markers:
            if mk not in df:
                continue
            x = np.log(df[mk].to_numpy(float).clip(1e-12))
            ok = np.isfinite(x)
            if ok.sum() < 5 or np.nanstd(x[ok]) == 0:
                continue
            d = pd.DataFrame({"t": df[f"{ep}_days"].to_numpy(float)[ok], "e": df[f"{ep}_event"].astype(int).to_numpy()[ok],
                              "z": ((x - x[ok].mean()) / x[ok].std())[ok]})
            for a in arms[1:]:
                d[f"arm_{a}"] = (df["arm"].to_numpy()[ok] == a).astype(float)
            if d["e"].sum() == 0:
                continue
            r = _cox(d, "t", "e").set_index("covariate").loc["z"]
            rows.append({"endpoint": ep, "marker": mk, "hr_per_sd": r["hr"], "ci_lower": r["ci_lower"],
                         "ci_upper": r["ci_upper"], "p": r["p"], "events": int(d["e"].sum())})
    return pd.DataFrame(rows)


def _pairs(df: pd.DataFrame, ep: str, arms: list[str], ref: str):  # noqa: ANN202 - yields (arm, ref rows, arm rows)
    for arm in arms:
        if arm != ref:
            yield arm, df[df["arm"] == ref], df[df["arm"] == arm]


def logrank_tests(df: pd.DataFrame, endpoints: list[str], arms: list[str] | None = None,
                  reference: str | None = None) -> pd.DataFrame:
    """Log-rank test of each arm against ``reference`` (default: the first arm) per endpoint
    (lifelines ``logrank_test``): ``endpoint, arm, reference, chi2, p``."""
    from lifelines.statistics import logrank_test

    arms = arms or list(dict.fromkeys(df["arm"]))
    ref = reference or arms[0]
    rows = []
    for ep in endpoints:
        for arm, a, b in _pairs(df, ep, arms, ref):
            if len(a) == 0 or len(b) == 0 or (a[f"{ep}_event"].sum() + b[f"{ep}_event"].sum()) == 0:
                rows.append({"endpoint": ep, "arm": arm, "reference": ref, "chi2": np.nan, "p": np.nan})
                continue
            r = logrank_test(a[f"{ep}_days"], b[f"{ep}_days"], a[f"{ep}_event"].astype(bool), b[f"{ep}_event"].astype(bool))
            rows.append({"endpoint": ep, "arm": arm, "reference": ref, "chi2": float(r.test_statistic), "p": float(r.p_value)})
    return pd.DataFrame(rows, columns=["endpoint", "arm", "reference", "chi2", "p"])


def proportional_hazards_tests(df: pd.DataFrame, endpoints: list[str], arms: list[str] | None = None) -> pd.DataFrame:
    """Test of the proportional-hazards assumption of the arm Cox model per endpoint
    (lifelines ``proportional_hazard_test``, rank time transform; Grambsch–Therneau):
    ``endpoint, covariate, chi2, p``. A small p means the hazard ratio changes over time."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    arms = arms or list(dict.fromkeys(df["arm"]))
    rows = []
    for ep in endpoints:
        d = pd.DataFrame({"t": df[f"{ep}_days"].to_numpy(float), "e": df[f"{ep}_event"].astype(int).to_numpy()})
        for a in arms[1:]:
            d[f"arm_{a}"] = (df["arm"].to_numpy() == a).astype(float)
        if len(arms) < 2 or d["e"].sum() < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cph = CoxPHFitter(penalizer=1e-6).fit(d, duration_col="t", event_col="e")
                res = proportional_hazard_test(cph, d, time_transform="rank")
            except Exception:  # noqa: BLE001 - lifelines raises several types on degenerate data
                continue
        for cov, r in res.summary.iterrows():
            name = cov[0] if isinstance(cov, tuple) else cov
            rows.append({"endpoint": ep, "covariate": str(name), "chi2": float(r["test_statistic"]), "p": float(r["p"])})
    return pd.DataFrame(rows, columns=["endpoint", "covariate", "chi2", "p"])


def endpoints_of(df: pd.DataFrame) -> list[str]:
    """Endpoint names present in a table (pfs, os, met_<organ>)."""
    return [c[: -len("_days")] for c in df.columns if c.endswith("_days") and f"{c[: -len('_days')]}_event" in df]


__all__ = ["arm_hazard_ratios", "endpoints_of", "km_table", "logrank_tests", "marker_hazard_ratios",
           "proportional_hazards_tests"]
