"""Sensitivity ranking of the shipped TNBC model and doubling-time calibration per subtype.

    python benchmarks/inference.py sensitivity   # Morris + Sobol, 3 outputs -> results/sensitivity-tnbc/
    python benchmarks/inference.py tvdt          # ABC-SMC per subtype     -> results/calibration-tvdt/
    python benchmarks/inference.py tvdt --write  # ... and the posterior medians into the subtype presets
    python benchmarks/inference.py table         # results/inference.md from the folders above

Results record the tmesim version and each model's hash (summary.json in every folder, and
results/MANIFEST.json through tmesim.io.results.record, which tests/test_results.py checks).
Sample sizes (SENS, TVDT) are chosen to finish in about 15 minutes each on two busy cores.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pandas as pd

import tmesim
from tmesim.inference import (
    Problem,
    load_space,
    load_targets,
    run_abc,
    sensitivity,
    write_calibration,
    write_sensitivity,
)
from tmesim.inference.space import build_space
from tmesim.io.results import record

HERE = Path(__file__).resolve().parent
EX = HERE.parent / "src" / "tmesim" / "inference" / "examples"
RES = HERE / "results"
SUBTYPES = {"tnbc": "tvdt-tnbc.yaml", "her2": "tvdt-her2.yaml", "luminal-a": "tvdt-er-positive.yaml",
            "luminal-b": "tvdt-er-positive.yaml"}
OUTPUTS = ["final_cancer", "immune_share", "metastatic_fraction"]
SENS = {"trajectories": 12, "levels": 4, "sobol_n": 64, "max_sobol": 16, "seed": 0}
TVDT = {"population": 60, "generations": 5, "min_epsilon": 0.3, "ppc_draws": 40}
PRESETS = HERE.parent / "src" / "tmesim" / "presets"


def run_sensitivity(workers: int = 2) -> None:
    space = load_space(EX / "tnbc-sensitivity.yaml")
    prob = Problem.make(space, OUTPUTS)
    t0 = time.perf_counter()
    res = sensitivity(prob, workers=workers, **SENS)
    s = write_sensitivity(res, RES / "sensitivity-tnbc", space)
    record(RES, ["sensitivity-tnbc"], ["tnbc"], "python benchmarks/inference.py sensitivity")
    print(f"sensitivity: {s['evaluations']} simulations in {time.perf_counter() - t0:.0f} s; survivors {res.survivors}")


def write_presets() -> None:
    """Put each subtype's posterior medians (doubling time, immune growth exponent) into its preset,
    with the source fit:<target file>."""
    for subtype, tfile in SUBTYPES.items():
        s = json.loads((RES / "calibration-tvdt" / subtype / "summary.json").read_text())
        post = {r["parameter"]: r for r in s["posterior"]}
        src = f"fit:tmesim/inference/examples/{tfile}"
        td, w = post["doubling_time"], post["immune_exponent"]
        lines = {
            "doubling_time": f'    doubling_time: {{value: {td["median"] / 1440:.0f}, unit: day, source: "{src} (ABC-SMC posterior '
                             f'median, 90% interval {td["q_low"] / 1440:.0f}-{td["q_high"] / 1440:.0f} days; serial-ultrasound TVDT mean and SD '
                             'of the subtype, Ryu et al., Eur Radiol 2014;24:2227; benchmarks/inference.py tvdt)"}',
            "immune_growth_exponent": f'    immune_growth_exponent: {{value: {w["median"]:.2f}, unit: "", source: "{src} (ABC-SMC '
                                      f'posterior median, 90% interval {w["q_low"]:.2f}-{w["q_high"]:.2f}; fitted with the doubling time '
                                      'to the TVDT mean and SD of Ryu et al., Eur Radiol 2014;24:2227)"}'}
        f = PRESETS / f"{subtype}.yaml"
        text = f.read_text()
        for key, line in lines.items():
            text, k = re.subn(rf"    {key}: \{{[^\n]*\}}", lambda _m, ln=line: ln, text)
            if not k:  # not in the preset yet: after its doubling time
                text = re.sub(r"(    doubling_time: \{[^\n]*\}\n)", lambda m, ln=line: m.group(1) + ln + "\n", text, count=1)
        f.write_text(text)
        print(f"{f.name}: doubling_time {td['median'] / 1440:.0f} d, immune_growth_exponent {w['median']:.2f}")


def run_tvdt(workers: int = 1, write: bool = False) -> None:
    """One worker: pyABC's seeded single-core sampler, so a re-run gives the same posterior (the
    presets written with --write are then a fixed point: a second run shows them as the model values)."""
    base = load_space(EX / "tvdt-space.yaml")
    for subtype, tfile in SUBTYPES.items():
        spec = base.spec.model_copy(update={"model": subtype})
        space = build_space(spec)
        targets = load_targets(EX / tfile)
        prob = Problem.make(space, targets.names)
        out = RES / "calibration-tvdt" / subtype
        res = run_abc(prob, targets, out, seed=0, workers=workers, **TVDT)
        write_calibration(res, out, space, targets, tfile)
        (out / "abc.db").unlink(missing_ok=True)  # the pyABC database stays out of the repository
        print(subtype, res.summary[["parameter", "median", "q_low", "q_high"]].to_dict("records"), res.info["wall_s"])
    if write:
        write_presets()
    record(RES, ["calibration-tvdt"], list(SUBTYPES), "python benchmarks/inference.py tvdt")


def table() -> None:
    lines = [f"# Calibration and sensitivity results (tmesim {tmesim.__version__})", ""]
    f = RES / "sensitivity-tnbc" / "summary.json"
    if f.exists():
        s = json.loads(f.read_text())
        rank = pd.read_parquet(RES / "sensitivity-tnbc" / "ranking.parquet")
        lines += ["## Sensitivity of the shipped TNBC model (typical patient, mean-field section 28 days, body model 730 days)", "",
                  f"`python benchmarks/inference.py sensitivity` (settings {SENS}, two dask workers). "
                  f"Model hash {s['model_hash']}; {s['evaluations']} simulations ({s['wall_s']} s); Morris "
                  f"{s['trajectories']} trajectories over {len(rank['parameter'].unique())} parameters, Sobol N = {s['sobol_n']} "
                  f"(Saltelli, {len(s['survivors'])} survivors, each output taking an equal share). ST: total Sobol index "
                  "(95% bootstrap CI); ranked by ST where ST >= 0.01, then by Morris μ* relative to the output's "
                  "largest (parameters screened out by Morris, or with ST < 0.01, have no meaningful total index).", ""]
        for out in s["outputs"]:
            sub = rank[rank["output"] == out].head(10)
            lines += [f"### {out}", "", "| rank | parameter | ST | ST 95% CI | S1 | Morris μ* (rel.) | stage |", "|---|---|---|---|---|---|---|"]
            for _, r in sub.iterrows():
                st = "" if pd.isna(r["ST"]) else f"{r['ST']:.3f}"
                ci = "" if pd.isna(r["ST"]) else f"± {r['ST_conf']:.3f}"
                s1 = "" if pd.isna(r["S1"]) else f"{r['S1']:.3f}"
                lines.append(f"| {r['rank']} | {r['parameter']} | {st} | {ci} | {s1} | {r['mu_star_rel']:.3f} | {r['stage']} |")
            lines.append("")
    for subtype in SUBTYPES:
        f = RES / "calibration-tvdt" / subtype / "summary.json"
        if not f.exists():
            continue
        s = json.loads(f.read_text())
        if subtype == next(iter(SUBTYPES)):
            lines += ["## Doubling time and immune growth exponent per subtype fitted to serial-ultrasound TVDT "
                      "(Ryu et al., Eur Radiol 2014;24:2227)", "",
                      f"`python benchmarks/inference.py tvdt`: ABC-SMC (pyABC, one seeded worker: reproducible), population "
                      f"{TVDT['population']}, at most {TVDT['generations']} generations, min epsilon {TVDT['min_epsilon']}, "
                      f"{TVDT['ppc_draws']} predictive draws; noisy ABC in standard-error units; 32 virtual patients per "
                      "simulation (patient seed 0), mean-field section 28 days. Fitted: the TVDT mean and SD (what the "
                      "study reports); the median is a check. Priors uniform: doubling time 30-600 days (log), "
                      "exponent w 0-1.5 (linear), in g = g0·(k_ref/k)^w. The presets carry the posterior medians "
                      "(`--write`), so the model values below are the fit itself.", ""]
        lines += [f"### {subtype} (target file {s['target_file']}; model hash {s['model_hash']})", ""]
        for p in s["posterior"]:
            day = p["unit"] == "minute"
            f = (lambda v: f"{v / 1440:.0f} d") if day else (lambda v: f"{v:.2f}")
            lines.append(f"- {p['parameter']}: model {f(p['model_value'])}, posterior median {f(p['median'])} "
                         f"(90% {f(p['q_low'])} to {f(p['q_high'])})")
        lines += ["", f"{s['simulations']} simulations, {s['generations_run']} generations, final epsilon "
                      f"{s['final_epsilon']:.2f}, {s['wall_s']:.0f} s.", "",
                  "| statistic | fitted | observed ± SE | posterior predictive median (90%) | prior predictive median (90%) |",
                  "|---|---|---|---|---|"]
        for r in s["ppc"]:
            lines.append(f"| {r['statistic']} | {'yes' if r['fitted'] else 'check'} | {r['observed']:.0f} ± {r['observed_se']:.1f} | {r['pp_median']:.0f} "
                         f"({r['pp_q05']:.0f}-{r['pp_q95']:.0f}) | {r['prior_median']:.0f} ({r['prior_q05']:.0f}-{r['prior_q95']:.0f}) |")
        lines.append("")
    (RES / "inference.md").write_text("\n".join(lines) + "\n")
    record(RES, ["inference.md"], list(SUBTYPES), "python benchmarks/inference.py table")
    print("\n".join(lines))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "table"
    if what == "tvdt":
        run_tvdt(write="--write" in sys.argv)
    elif what == "sensitivity":
        # the samples are seeded one by one, so the worker count changes the time, not the result
        run_sensitivity(int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 2)
    else:
        table()
    if what != "table":
        table()
