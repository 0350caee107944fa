"""Shared fixtures: a small version of the shipped TNBC model that runs in seconds."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

import tmesim
from tmesim.model import model_from_dict


def tnbc_dict() -> dict[str, Any]:
    path = tmesim.preset_path("tnbc")
    data = yaml.safe_load(path.read_text())
    data["rules"] = str(path.parent / data["rules"])
    return data


def small_dict(size: int = 48, dims: int = 2, days: float = 2.0) -> dict[str, Any]:
    """The TNBC model on a size×size (×size) lattice of 20 µm sites, tumor and rings scaled."""
    d = tnbc_dict()
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


def build(d: dict[str, Any]) -> tmesim.Model:
    return model_from_dict(copy.deepcopy(d))


@pytest.fixture
def small_model() -> tmesim.Model:
    return build(small_dict())
