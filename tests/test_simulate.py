"""One entry point: tmesim.simulate runs either engine into a run directory that one Run reads."""

from __future__ import annotations

from pathlib import Path

import pytest

import tmesim
from conftest import build, small_dict
from tmesim.model import ModelError

CORE = {"time_days", "cell_type", "state", "count"}


@pytest.fixture(scope="module")
def tiny() -> tmesim.Model:
    return build(small_dict(size=24, days=0.25))


@pytest.mark.parametrize("engine", ["spatial", "meanfield"])
def test_both_engines_give_the_same_reader(tiny: tmesim.Model, engine: str, tmp_path: Path) -> None:
    run = tmesim.simulate(tiny, engine=engine, days=0.25, seed=3, out=tmp_path / engine)
    assert isinstance(run, tmesim.Run) and run.engine == engine and run.config["engine"] == engine
    assert run.info["status"] == "complete" and run.info["format_version"] == 1
    summary = run.summary()
    assert CORE <= set(summary.columns) and set(summary["cell_type"]) <= set(tiny.cell_type_names)
    assert summary["time_days"].max() == pytest.approx(0.25)
    assert "time_days" in run.metrics().columns
    assert run.model().cell_type_names == tiny.cell_type_names
    again = tmesim.simulate(tiny, engine=engine, days=0.25, seed=3)  # temporary directory
    assert again.summary().equals(summary)


def test_bad_engine_and_used_out_folder(tiny: tmesim.Model, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="allowed: spatial, meanfield") as err:
        tmesim.simulate(tiny, engine="ode")
    assert err.value.field == "engine"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(ModelError) as err:
        tmesim.simulate(tiny, engine="meanfield", out=tmp_path / "used")
    assert err.value.field == "out"
    with pytest.raises(ModelError) as err:
        tmesim.simulate(tiny, engine="meanfield", days=0)
    assert err.value.field == "days"


def test_simulate_drives_every_engine_through_the_engine_protocol(tiny: tmesim.Model, monkeypatch) -> None:
    from tmesim import api
    from tmesim.engine import Engine

    made = []

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        made.append(real(*args, **kwargs))
        return made[-1]

    real = api.new_engine
    monkeypatch.setattr(api, "new_engine", spy)
    for kind in tmesim.ENGINES:
        assert tmesim.simulate(tiny, engine=kind, days=0.1, seed=1).engine == kind
    assert [e.kind for e in made] == list(tmesim.ENGINES)
    assert all(isinstance(e, Engine) and e.model is tiny for e in made)

    class NoRun:
        kind = "spatial"
        model = tiny

    assert not isinstance(NoRun(), Engine)


def test_deprecated_entry_points_still_work(tiny: tmesim.Model, tmp_path: Path) -> None:
    from tmesim.meanfield import simulate as mf_simulate

    with pytest.deprecated_call():
        sim_class = tmesim.Simulation
    with pytest.deprecated_call():
        rd = tmesim.run(tiny, tmp_path / "old", seed=1, days=0.1, report=False)
    assert rd.info["status"] == "complete"
    with pytest.deprecated_call():
        sim = tmesim.simulate(tiny, 1, 0.1)  # the 0.x in-memory form: (model, seed, days)
    assert isinstance(sim, sim_class)
    with pytest.deprecated_call():
        table = mf_simulate(tiny, days=0.1)
    assert "time_days" in table


def test_public_namespace_is_curated() -> None:
    assert set(tmesim.__all__) >= {"simulate", "Run", "load_model", "citation", "Patient", "preset_path"}
    assert all(hasattr(tmesim, name) for name in tmesim.__all__)
    assert "Simulation" not in tmesim.__all__ and "run" not in tmesim.__all__
