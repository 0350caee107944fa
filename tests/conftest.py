"""Shared fixtures: a small version of the shipped TNBC model that runs in seconds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import tmesim
from tmesim.model import model_from_dict


def tnbc_dict() -> dict[str, Any]:
    """The compact 12-type TNBC model (preset ``tnbc-core``, the former default ``tnbc``);
    the shipped ``tnbc`` preset now extends the full catalog (see ``preset_dict``)."""
    path = tmesim.preset_path("tnbc-core")
    data = yaml.safe_load(path.read_text())
    data["rules"] = str(path.parent / data["rules"])
    return data


def _scale_layout(d: dict[str, Any], size: int, dims: int, days: float) -> dict[str, Any]:
    """Shrink a 3.2 mm (160-site) model to size×size (×size) sites of 20 µm, layout scaled."""
    d["domain"] = {"dims": dims, "shape": [size] * dims, "site_size": "20 um"}
    d["time"] = {"dt": "6 min", "days": days, "output_interval": "0.5 day", "checkpoint_interval": "0.5 day"}
    scale = size * 20 / 3200
    for p in d["initial"]:
        for key in ("radius", "inner_radius"):
            if key in p:
                p[key] = p[key] * scale
        if p.get("region") == "box":
            p["low"] = [x * scale for x in p["low"]][:dims] + ([0] if dims == 3 else [])
            p["high"] = [x * scale for x in p["high"]][:dims] + ([size * 20] if dims == 3 else [])
    return d


def small_dict(size: int = 48, dims: int = 2, days: float = 2.0) -> dict[str, Any]:
    """The TNBC model on a size×size (×size) lattice of 20 µm sites, tumor and rings scaled."""
    return _scale_layout(tnbc_dict(), size, dims, days)


def build(d: dict[str, Any]) -> tmesim.Model:
    return model_from_dict(copy.deepcopy(d))


@pytest.fixture
def small_model() -> tmesim.Model:
    return build(small_dict())


def preset_dict(name: str = "catalog") -> dict[str, Any]:
    """A shipped preset as a plain dict, ``extends:`` resolved and the rules path absolute."""
    from tmesim.model.io_yaml import _read_yaml

    data = _read_yaml(tmesim.preset_path(name))
    data["rules"] = str(Path(data["rules"]).resolve())
    return data


def catalog_small(size: int = 48, days: float = 3.0, preset: str = "catalog") -> dict[str, Any]:
    """The full catalog (or a subtype preset) on a size×size lattice, layout scaled."""
    return _scale_layout(preset_dict(preset), size, 2, days)


def without_rules(d: dict[str, Any], keep) -> dict[str, Any]:  # noqa: ANN001 - keep: Rule -> bool
    """A copy of model dict ``d`` whose rules are the already-read rules for which ``keep`` is true."""
    from tmesim.model.rules_csv import read_rules_csv

    d = copy.deepcopy(d)
    rules = d["rules"] if isinstance(d["rules"], list) else read_rules_csv(Path(d["rules"]))
    d["rules"] = [r for r in rules if keep(r)]
    return d


@pytest.fixture(scope="session")
def tnbc_run(tmp_path_factory) -> Path:  # noqa: ANN001
    """The shipped default model (``tnbc``) run for 2 days, seed 0 (shared by the readout tests)."""
    out = tmp_path_factory.mktemp("tnbc_run") / "run"
    tmesim.simulate(tmesim.load_model(tmesim.preset_path("tnbc")), out=out, seed=0, days=2, report=False)
    return out
