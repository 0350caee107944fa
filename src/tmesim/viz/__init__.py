"""Figures, animations, the HTML report and the interactive viewer of a run directory."""

from .animate import animate
from .report import write_report
from .viewer import make_server, serve, write_viewer

__all__ = ["animate", "make_server", "serve", "write_report", "write_viewer"]
