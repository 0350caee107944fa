"""The spatial agent-based engine (lattice cells + diffusing substrates)."""

from .compiled import CompiledModel, compile_model
from .protocol import Engine
from .simulation import Observer, Simulation

__all__ = ["CompiledModel", "Engine", "Observer", "Simulation", "compile_model"]
