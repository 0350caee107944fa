"""Figures and the HTML report of a run directory."""

from .report import write_report

__all__ = ["write_report"]
