"""A dask worker plugin that ends a local worker process when the process that started it ends.

A worker of a ``LocalCluster`` outlives its parent when the parent is killed with SIGKILL
(no cleanup runs, and distributed's ``death_timeout`` only covers the first connection to
the scheduler), leaving orphaned processes that hold memory and CPU. Hand-written because
distributed has no such option.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class ExitWithParent(WorkerPlugin):
    """dask worker plugin: the worker process exits within ``interval`` seconds of the process
    ``pid`` (the one that started the local cluster) ending. Hand-written because distributed's
    own ``death_timeout`` only covers the first connection to the scheduler."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval

    def setup(self, worker: Any) -> None:
        threading.Thread(target=self._watch, name="tmesim-exit-with-parent", daemon=True).start()

    def _watch(self) -> None:
        import psutil

        try:
            started = psutil.Process(self.pid).create_time()
        except psutil.Error:
            os._exit(1)
        while True:
            time.sleep(self.interval)
            try:
                alive = psutil.Process(self.pid).create_time() == started
            except psutil.Error:
                alive = False
            if not alive:
                os._exit(1)  # no cleanup: the parent that would receive results is gone
