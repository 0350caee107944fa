"""Parameter spaces, the picklable simulator, sensitivity and ABC calibration (tmesim.inference)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tmesim.inference import Problem, apply_params, build_space, load_targets, simulate
from tmesim.inference.calibrate import (
    apply_posterior,
    coverage,
    run_abc,
    synthetic_targets,
    write_calibration,
)
from tmesim.inference.sensitivity import ranking, sensitivity
from tmesim.inference.space import SpaceSpec
from tmesim.model import ModelError, load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "tmesim" / "inference" / "examples"


def _space(params: list[dict], days: float = 3.0, **kw):  # noqa: ANN202
    return build_space(SpaceSpec.model_validate({"model": "tnbc", "days": days, "parameters": params, **kw}))


def test_bad_address_is_one_error_listing_the_valid_forms() -> None:
    with pytest.raises(ModelError) as e:
        _space([{"address": "rules[cancer|oxygen].half_max", "fold": 2}])
    assert "valid forms" in e.value.message and "cell_types[<name>].<behaviour>" in e.value.message
    with pytest.raises(ModelError, match="no such rule"):
        _space([{"address": "rules[cancer|oxygen|decreases|cycle entry].half_max", "fold": 2}])
    with pytest.raises(ModelError, match="has no base value"):
        _space([{"address": "cell_types[cancer].flying", "fold": 2}])


def test_ranges_with_units_and_apply_leaves_the_model_alone() -> None:
    sp = _space([{"name": "td", "address": "body.primary.doubling_time", "range": ["50 day", "200 day"]},
                 {"name": "ox", "address": "rules[cancer|oxygen|increases|cycle entry].half_max", "fold": 2},
                 {"name": "lung", "address": "body.organs.lung.arrest_single", "fold": 2}])
    d = {x.name: x for x in sp.dims}
    assert d["td"].low == pytest.approx(50 * 1440) and d["td"].unit == "minute"
    m = apply_params(sp.model, sp, {"td": 60 * 1440.0, "ox": 3.0, "lung": 0.004})
    assert m.body.primary.doubling_time.value == 60 * 1440.0 and m.body.organs["lung"].arrest_single.value == 0.004
    assert [r.half_max for r in m.rules if r.cell_type == "cancer" and r.signal == "oxygen"][0] == 3.0
    assert sp.model.body.primary.doubling_time.value == d["td"].value  # the loaded model is unchanged
    assert sp.model.body.organs["lung"].arrest_single.value == d["lung"].value
    assert [r.half_max for r in sp.model.rules if r.cell_type == "cancer" and r.signal == "oxygen"][0] == d["ox"].value


def test_simulate_is_pure_and_picklable() -> None:
    sp = _space([{"name": "cd8_attack", "address": "cell_types[CD8_T_cell].attack cancer", "fold": 3}])
    prob = Problem.make(sp, ["final_cancer", "immune_share"])
    again = pickle.loads(pickle.dumps(prob))
    a = simulate({"cd8_attack": 0.01}, 0, prob)
    b = simulate({"cd8_attack": 0.01}, 0, again)
    assert a == b and set(a) == {"final_cancer", "immune_share"}
    assert simulate({"cd8_attack": 0.015}, 0, prob)["final_cancer"] < simulate({"cd8_attack": 0.002}, 0, prob)["final_cancer"]


def test_sensitivity_separates_a_driver_from_an_inert_parameter() -> None:
    """The body's doubling time cannot change a section output; CD8 killing does."""
    sp = _space([{"name": "cd8_attack", "address": "cell_types[CD8_T_cell].attack cancer", "fold": 3},
                 {"name": "cd8_recruitment", "address": "cell_types[CD8_T_cell].recruitment", "fold": 3},
                 {"name": "doubling_time", "address": "body.primary.doubling_time", "fold": 2}])
    res = sensitivity(Problem.make(sp, ["final_cancer"]), trajectories=3, sobol_n=8, max_sobol=2, workers=1)
    rank = ranking(res)
    assert set(res.survivors) == {"cd8_attack", "cd8_recruitment"}
    inert = rank[rank["parameter"] == "doubling_time"].iloc[0]
    assert inert["mu_star"] == 0.0 and inert["stage"] == "screened out"
    assert rank.iloc[0]["parameter"] in ("cd8_attack", "cd8_recruitment") and rank.iloc[0]["ST"] > 0.1


def _abc_case(seed: int, tmp: Path, population: int = 16, generations: int = 2, days: float = 3.0,
              ppc_draws: int = 4, credibility: float = 0.9, noise: bool = True):  # noqa: ANN202
    """One synthetic-recovery repetition: the truth drawn from the calibration's own prior (uniform
    on the parameter's log scale over its fold range, as simulation-based calibration requires),
    data simulated at it with a 3% standard error, then ABC-SMC (``noise=False``: a calibration
    that ignores the measurement error, the mis-specified case)."""
    sp = _space([{"name": "cd8_recruitment", "address": "cell_types[CD8_T_cell].recruitment", "fold": 3}], days=days)
    prob = Problem.make(sp, ["immune_share"])
    rng = np.random.default_rng(seed)
    d = sp.dims[0]
    truth = {d.name: float(d.from_unit(rng.uniform(*d.bounds)))}
    se = {"immune_share": 0.03 * simulate(truth, 0, prob)["immune_share"]}
    targets = synthetic_targets(prob, truth, se, seed)
    res = run_abc(prob, targets, tmp, population=population, generations=generations, min_epsilon=0.5, seed=seed,
                  workers=1, ppc_draws=ppc_draws, credibility=credibility, noise=noise)
    return sp, targets, truth, res


def test_abc_recovers_a_known_parameter_from_synthetic_data(tmp_path: Path) -> None:
    """One repetition on the lightest case (a one-day section, 12 particles, 2 generations, no
    figures); the coverage over 20 repetitions is the slow test below."""
    sp, targets, truth, res = _abc_case(0, tmp_path, population=12, days=1.0, ppc_draws=2)
    s = res.summary.iloc[0]
    assert coverage(sp, res, truth)["cd8_recruitment"]
    d = sp.dims[0]
    assert np.log(s["q_high"] / s["q_low"]) < 0.6 * np.log(d.high / d.low)  # the data narrowed the prior
    assert (res.generations["epsilon"].iloc[1:].diff().dropna() < 0).all()
    assert res.generations["ess"].iloc[-1] > 4
    write_calibration(res, tmp_path, sp, targets, "synthetic.yaml", truth, report=False)
    for f in ("posterior.parquet", "generations.parquet", "ppc.parquet", "abc.db", "summary.json"):
        assert (tmp_path / f).exists(), f
    out = apply_posterior(sp.model, tmp_path, tmp_path / "fitted.yaml")
    fitted = load_model(out)
    cd8 = fitted.cell_type("CD8_T_cell").behaviours["recruitment"]
    assert cd8.source.startswith("fit:synthetic.yaml") and cd8.value == pytest.approx(s["median"])


def _width(sp, res) -> float:  # noqa: ANN001
    """The credible interval's width as a share of the prior's width, on the sampling (log) scale."""
    s, d = res.summary.iloc[0], sp.dims[0]
    return float(np.log(s["q_high"] / s["q_low"]) / np.log(d.high / d.low))


@pytest.mark.slow
def test_abc_posterior_covers_the_truth_in_90_percent_of_repetitions(tmp_path: Path) -> None:
    """Simulation-based calibration on the one-parameter case (three-day sections, 30 particles,
    3 generations): truths drawn from the prior, data simulated at them with noise; the 95%
    equal-tailed interval must hold the truth in at least 90% of 20 repetitions.

    Why 95%: an exact 90% interval holds 18 or more of 20 truths only with probability 0.68
    (binomial(20, 0.9)), so a 90% interval against a 90% bar fails a correct method one run in
    three; and 30 weighted particles place a "90%" interval between about the 2nd and 29th of
    them, which holds about 87% of posterior draws. An exact 95% interval passes with probability
    0.92, and ABC's tolerance (> 0) only widens the posterior. The test can still fail: the
    intervals must be narrow (mean width under half the prior's), and the same calibration that
    ignores the measurement error (``noise=False``: simulated statistics compared exactly,
    an overconfident posterior) must miss the truth well beyond 10% of the time. The first
    repetition also writes the figures and the report."""
    hits, widths = [], []
    for seed in range(20):
        sp, targets, truth, res = _abc_case(seed, tmp_path / str(seed), population=30, generations=3,
                                            credibility=0.95)
        hits.append(coverage(sp, res, truth)["cd8_recruitment"])
        widths.append(_width(sp, res))
        if seed == 0:
            write_calibration(res, tmp_path / "0", sp, targets, "synthetic.yaml", truth)
            for f in ("report.html", "marginals.png", "ppc.png", "convergence.png"):
                assert (tmp_path / "0" / f).exists(), f
    wrong, wrong_widths = [], []
    for seed in range(10):
        sp, targets, truth, res = _abc_case(seed, tmp_path / f"exact{seed}", population=20, generations=3,
                                            credibility=0.95, noise=False, ppc_draws=1)
        wrong.append(coverage(sp, res, truth)["cd8_recruitment"])
        wrong_widths.append(_width(sp, res))
    print(f"coverage at 95%: {sum(hits)}/{len(hits)}, mean width {np.mean(widths):.2f} of the prior's; "
          f"ignoring the measurement error: {sum(wrong)}/{len(wrong)}, mean width {np.mean(wrong_widths):.2f}")
    assert np.mean(hits) >= 0.9, hits
    assert np.mean(widths) < 0.5, widths
    assert np.mean(wrong) <= 0.7 and np.mean(wrong_widths) < 0.5 * np.mean(widths), (wrong, wrong_widths)


def test_target_file_errors_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("name: x\nstatistics:\n  - {statistic: tvdt_mean, observed: 103, sd: 43, source: 'paper:x'}\n")
    with pytest.raises(ModelError, match="give se, or sd and n"):
        load_targets(f)
    f.write_text("name: x\nstatistics:\n  - {statistic: tvdt_mode, observed: 103, se: 4, source: 'paper:x'}\n")
    with pytest.raises(ModelError, match="unknown statistic 'tvdt_mode'; allowed: final_cancer"):
        load_targets(f)
    f.write_text("name: x\nstatistics:\n  - {statistic: tvdt_mean, observed: 103, sd: 43, n: 17, source: 'paper:x'}\n")
    assert load_targets(f).se()["tvdt_mean"] == pytest.approx(43 / np.sqrt(17))


def test_cli_bad_address_and_output_are_one_error_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tmesim.cli import app

    spec = tmp_path / "s.yaml"
    spec.write_text("model: tnbc\nparameters:\n  - {address: 'cell_types[cancer]apoptosis', fold: 2}\n")
    r = CliRunner().invoke(app, ["sensitivity", str(spec), "--output", "final_cancer"])
    text = " ".join(r.output.split())  # rich wraps long lines at the terminal width
    assert r.exit_code == 2 and text.startswith("error:") and "valid forms" in text and "Traceback" not in text
    spec.write_text("model: tnbc\nparameters:\n  - {address: 'cell_types[cancer].apoptosis', fold: 2}\n")
    r = CliRunner().invoke(app, ["sensitivity", str(spec), "--output", "tumour_size"])
    assert r.exit_code == 2 and "unknown output 'tumour_size'" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["calibrate", str(spec), "--apply", str(tmp_path / "m.yaml")])
    assert r.exit_code == 2 and "--out" in r.output


def test_cli_calibrate_and_apply_end_to_end(tmp_path: Path) -> None:
    """tmesim calibrate on the lightest case (one-day section, 8 particles, one generation, in
    process), then --apply: the folder, the report and a loadable fitted model."""
    from typer.testing import CliRunner

    from tmesim.cli import app

    spec, tg, cal = tmp_path / "space.yaml", tmp_path / "targets.yaml", tmp_path / "cal"
    spec.write_text("model: tnbc\nengine: meanfield\ndays: 1\nparameters:\n"
                    "  - {name: cd8_recruitment, address: 'cell_types[CD8_T_cell].recruitment', fold: 3}\n")
    tg.write_text("name: synthetic\nstatistics:\n  - {statistic: immune_share, observed: 0.054, se: 0.002, "
                  "source: 'assumption: synthetic'}\n")
    r = CliRunner().invoke(app, ["calibrate", str(spec), str(tg), "--population", "8", "--generations", "1",
                                 "--ppc-draws", "2", "--workers", "1", "--out", str(cal)])
    assert r.exit_code == 0, r.output
    assert "cd8_recruitment: median" in r.output and "immune_share: observed 0.054" in r.output
    for f in ("posterior.parquet", "abc.db", "summary.json", "report.html", "marginals.png"):
        assert (cal / f).exists(), f
    r = CliRunner().invoke(app, ["calibrate", str(spec), "--out", str(cal), "--apply", str(tmp_path / "fit.yaml")])
    assert r.exit_code == 0, r.output
    cd8 = load_model(tmp_path / "fit.yaml").cell_type("CD8_T_cell").behaviours["recruitment"]
    assert cd8.source.startswith("fit:targets.yaml") and 2e-5 <= cd8.value <= 1.8e-4


def test_shipped_examples_load() -> None:
    import yaml

    from tmesim.inference import load_space

    for f in sorted(EXAMPLES.glob("*.yaml")):
        if "statistics" in yaml.safe_load(f.read_text()):
            assert load_targets(f).fitted, f
        else:
            assert len(load_space(f).dims) >= 1, f
    assert load_targets(EXAMPLES / "tvdt-tnbc.yaml").fitted == ["tvdt_mean", "tvdt_sd"]


def test_posterior_draws_follow_the_weights_and_the_mixture_widens_the_interval(tmp_path: Path) -> None:
    import pandas as pd

    from tmesim.inference.uncertainty import _mixture_interval, posterior_draws

    sp = _space([{"name": "cd8_attack", "address": "cell_types[CD8_T_cell].attack cancer", "fold": 3}])
    pd.DataFrame({"cd8_attack": [0.002, 0.01], "weight": [0.0, 1.0]}).to_parquet(tmp_path / "posterior.parquet")
    sp.table().to_parquet(tmp_path / "space.parquet")
    X, addrs = posterior_draws(tmp_path, 5, seed=1)
    assert (X["cd8_attack"] == 0.01).all() and addrs["cd8_attack"].kind == "cell"
    same = _mixture_interval(np.log([0.7, 0.7, 0.7]), np.array([0.1, 0.1, 0.1]), 0)
    spread = _mixture_interval(np.log([0.5, 0.7, 0.98]), np.array([0.1, 0.1, 0.1]), 0)
    assert same[0] == pytest.approx(0.7, rel=0.02) and same[1] == pytest.approx(0.7 * np.exp(-1.96 * 0.1), rel=0.03)
    assert spread[2] / spread[1] > 1.5 * same[2] / same[1]  # parameter uncertainty widens the HR interval
    with pytest.raises(ModelError, match="not a calibration folder"):
        posterior_draws(tmp_path / "nothing", 2)


@pytest.mark.slow
def test_posterior_trial_cli_runs_a_trial_per_draw(tmp_path: Path) -> None:
    """tmesim posterior-trial on a calibration folder: one sub-trial per draw, the drawn values
    in each draw's model, hazard ratios combined over draws (a tiny trial: 8 patients, 3+7 days;
    slow only because each sub-trial starts the cohort runner's dask worker, ~40 s idle, 2 min busy)."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from tmesim.cli import app

    sp = _space([{"name": "doubling_time", "address": "body.primary.doubling_time", "range": ["40 day", "400 day"]}])
    cal = tmp_path / "cal"
    cal.mkdir()
    sp.table().to_parquet(cal / "space.parquet")
    pd.DataFrame({"doubling_time": [50 * 1440.0, 300 * 1440.0], "weight": [0.5, 0.5]}).to_parquet(cal / "posterior.parquet")
    trial = tmp_path / "t.yaml"
    trial.write_text("name: tiny\npreset: tnbc\nn: 8\nseed: 1\nfollow_up: 120\nendpoints: [pfs]\n"
                     "arms:\n  - {name: control}\n  - {name: chemo, therapies: ['nab-paclitaxel@day=0']}\n"
                     "timing: {run_in_days: 3, treatment_days: 7, immune_control: false}\n")
    r = CliRunner().invoke(app, ["posterior-trial", str(trial), str(cal), "--draws", "3", "--workers", "1",
                                 "--out", str(tmp_path / "post")])
    assert r.exit_code == 0, r.output
    draws = pd.read_parquet(tmp_path / "post" / "draws.parquet")
    assert sorted(draws["draw"].unique()) == [0, 1, 2] and set(draws["doubling_time"]) <= {50 * 1440.0, 300 * 1440.0}
    s = json.loads((tmp_path / "post" / "summary.json").read_text())
    assert s["draws"] == 3 and s["hazard_ratios"][0]["endpoint"] == "pfs" and "HR PFS chemo" in r.output
    assert s["n"] == 8 and s["trial_seed"] == 1 and len(s["model_hash"]) == 16 and s["tmesim_version"]
    r = CliRunner().invoke(app, ["posterior-trial", str(trial), str(tmp_path / "nothing"), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "not a calibration folder" in r.output


def _fit_sources(node, path=""):  # noqa: ANN001, ANN202
    """(path, source) of every value in a model dump whose source is a fit."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), str) and node["source"].startswith("fit:"):
            yield path, node["source"]
        for k, v in node.items():
            yield from _fit_sources(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _fit_sources(v, f"{path}[{i}]")


@pytest.mark.parametrize("preset", ["tnbc", "her2", "luminal-a", "luminal-b"])
def test_fitted_preset_parameters_name_their_target_file(preset: str) -> None:
    """What benchmarks/inference.py tvdt and benchmarks/calibrate_organotropism.py fit carries
    fit:<target file>, and every fit: source names a target file that ships with tmesim."""
    import tmesim

    m = load_model(tmesim.preset_path(preset))
    p = m.body.primary
    target = "tvdt-er-positive.yaml" if preset.startswith("luminal") else f"tvdt-{preset}.yaml"
    for par in (p.doubling_time, p.immune_growth_exponent):
        assert par.source.startswith(f"fit:tmesim/inference/examples/{target}"), par.source
    organo = "fit:tmesim/body/data/organotropism_targets.csv"
    assert all(o.awakening.source.startswith(organo) for o in m.body.organs.values())
    if preset != "luminal-a":  # luminal-a's factor is held: only the products with the organ rates are identified
        assert p.awakening_factor.source.startswith(organo)
    root = Path(tmesim.__file__).resolve().parent.parent
    fits = list(_fit_sources(m.model_dump(mode="json")))
    assert len(fits) >= 6
    for where, src in fits:
        assert (root / src[4:].split(" ")[0]).is_file(), f"{where}: {src}"
