"""The one interface every engine offers: what :func:`tmesim.simulate` drives.

An engine is built for one validated model (``Simulation(model, seed)``,
``MeanField(model, contacts=...)``) and advanced with ``run(days)``; ``kind`` is the name
``tmesim.simulate(engine=...)`` takes. Engines do not write files: the api hands each one's
results to :mod:`tmesim.io` (the run directory), and what it records is the same whichever
engine ran. The protocol is structural (``typing.Protocol``), so the mean-field engine
satisfies it without importing this floor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tmesim.model import Model


@runtime_checkable
class Engine(Protocol):
    """A model on one engine: ``kind`` (``"spatial"`` or ``"meanfield"``), the ``model`` it
    runs, and ``run(days)`` to simulate ``days`` of time (default: the model's ``time.days``).

    >>> import tmesim
    >>> from tmesim.engine import Engine, Simulation
    >>> from tmesim.meanfield import MeanField
    >>> m = tmesim.load_model(tmesim.preset_path("tnbc-core"))
    >>> [isinstance(e, Engine) for e in (Simulation(m, seed=0), MeanField(m))]
    [True, True]
    """

    kind: ClassVar[str]
    model: Model

    def run(self, days: float | None = None) -> object: ...


__all__ = ["Engine"]
