"""Shipped, ready-to-run models."""

from __future__ import annotations

from pathlib import Path

from tmesim._resources import data_path

HERE = data_path(__name__)
DEFAULT = "tnbc"


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def preset_path(name: str = DEFAULT) -> Path:
    """Path of a shipped model YAML (``tnbc`` is the default)."""
    path = HERE / f"{name}.yaml"
    if not path.exists():
        from tmesim.errors import ModelError

        raise ModelError("preset", f"unknown preset {name!r}; allowed: {', '.join(available())}")
    return path
