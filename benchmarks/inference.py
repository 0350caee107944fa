"""Sensitivity ranking of the shipped TNBC model and doubling-time calibration per subtype.

    python benchmarks/inference.py sensitivity   # Morris + Sobol, 3 outputs -> results/sensitivity-tnbc/
    python benchmarks/inference.py tvdt          # ABC-SMC per subtype     -> results/calibration-tvdt/
    python benchmarks/inference.py table         # results/inference.md from the folders above

Results record the tmesim version and each model's hash (summary.json in every folder).
"""

from __future__ import annotations

import json
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
from tmesim.inference.calibrate import apply_posterior
from tmesim.inference.space import build_space

HERE = Path(__file__).resolve().parent
EX = HERE.parent / "src" / "tmesim" / "inference" / "examples"
RES = HERE / "results"
SUBTYPES = {"tnbc": "tvdt-tnbc.yaml", "her2": "tvdt-her2.yaml", "luminal-a": "tvdt-er-positive.yaml",
            "luminal-b": "tvdt-er-positive.yaml"}
OUTPUTS = ["final_cancer", "immune_share", "metastatic_fraction"]


def run_sensitivity(workers: int = 2) -> None:
    space = load_space(EX / "tnbc-sensitivity.yaml")
    prob = Problem.make(space, OUTPUTS)
    t0 = time.perf_counter()
    res = sensitivity(prob, trajectories=8, levels=4, sobol_n=64, seed=0, max_sobol=12, workers=workers)
    s = write_sensitivity(res, RES / "sensitivity-tnbc", space)
    print(f"sensitivity: {s['evaluations']} simulations in {time.perf_counter() - t0:.0f} s; survivors {res.survivors}")


def run_tvdt(workers: int = 2, population: int = 40, generations: int = 4) -> None:
    base = load_space(EX / "tvdt-space.yaml")
    for subtype, tfile in SUBTYPES.items():
        spec = base.spec.model_copy(update={"model": subtype})
        space = build_space(spec)
        targets = load_targets(EX / tfile)
        prob = Problem.make(space, targets.names)
        out = RES / "calibration-tvdt" / subtype
        res = run_abc(prob, targets, out, population=population, generations=generations, min_epsilon=0.3, seed=0,
                      workers=workers, ppc_draws=30)
        write_calibration(res, out, space, targets, tfile)
        apply_posterior(space.model, out, out / f"{subtype}-fitted.yaml")
        (out / "abc.db").unlink(missing_ok=True)  # the pyABC database stays out of the repository
        print(subtype, res.summary[["median", "q_low", "q_high"]].div(1440).round(1).to_dict("records"), res.info["wall_s"])


def table() -> None:
    lines = [f"# Calibration and sensitivity results (tmesim {tmesim.__version__})", ""]
    f = RES / "sensitivity-tnbc" / "summary.json"
    if f.exists():
        s = json.loads(f.read_text())
        rank = pd.read_parquet(RES / "sensitivity-tnbc" / "ranking.parquet")
        lines += ["## Sensitivity of the shipped TNBC model (typical patient, mean-field section 28 days, body model 730 days)", "",
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
            lines += ["## Doubling time per subtype fitted to serial-ultrasound TVDT (Ryu et al., Eur Radiol 2014;24:2227)", "",
                      "ABC-SMC (pyABC), noisy ABC in standard-error units; 32 virtual patients per simulation "
                      "(seed 0), mean-field section 28 days. Posterior median and 90% interval of "
                      "body.primary.doubling_time; posterior-predictive median and 90% interval next to the targets.", ""]
        p = s["posterior"][0]
        lines += [f"### {subtype} (target file {s['target_file']}; model hash {s['model_hash']})", "",
                  f"doubling_time: model {p['model_value'] / 1440:.0f} d → posterior median {p['median'] / 1440:.0f} d "
                  f"(90% {p['q_low'] / 1440:.0f}-{p['q_high'] / 1440:.0f}); {s['simulations']} simulations, "
                  f"{s['generations_run']} generations, final epsilon {s['final_epsilon']:.2f}.", "",
                  "| statistic | observed ± SE | posterior predictive median (90%) | prior predictive median (90%) |",
                  "|---|---|---|---|"]
        for r in s["ppc"]:
            lines.append(f"| {r['statistic']} | {r['observed']:.0f} ± {r['observed_se']:.1f} | {r['pp_median']:.0f} "
                         f"({r['pp_q05']:.0f}-{r['pp_q95']:.0f}) | {r['prior_median']:.0f} ({r['prior_q05']:.0f}-{r['prior_q95']:.0f}) |")
        lines.append("")
    (RES / "inference.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "table"
    {"sensitivity": run_sensitivity, "tvdt": run_tvdt, "table": table}[what]()
    if what != "table":
        table()
