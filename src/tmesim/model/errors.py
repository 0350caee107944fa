"""Errors raised for bad user input (defined in :mod:`tmesim.errors`, re-exported here)."""

from tmesim.errors import ModelError, ModelErrors, NonFiniteError

__all__ = ["ModelError", "ModelErrors", "NonFiniteError"]
