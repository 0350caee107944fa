"""The spatial agent-based engine (lattice cells + diffusing substrates)."""

from .compiled import CompiledModel, compile_model
from .simulation import Observer, Simulation

__all__ = ["CompiledModel", "Observer", "Simulation", "compile_model"]
