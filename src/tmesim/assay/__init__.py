"""Virtual laboratory assays built on the spatial engine (may import model, engine, io, readouts).

``spheroid``: a tumor spheroid embedded in a matrix gel, optionally with CAFs or
macrophages, with invasion distance and area over time.
"""

from .spheroid import COCULTURE, invasion_metrics, matrices, run_spheroid, spheroid_model

__all__ = ["COCULTURE", "invasion_metrics", "matrices", "run_spheroid", "spheroid_model"]
