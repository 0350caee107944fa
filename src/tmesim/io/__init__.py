"""The run directory format: writing and reading runs (atomic writes, checkpoints, locks)."""

from tmesim.model import ModelError  # re-exported: layers above io report run errors with it

from .lock import LOCK_FILES, FolderLock, LockedError, locked
from .rundir import (
    FORMAT_VERSION,
    NoCheckpoint,
    RunDirectory,
    RunWriter,
    read_checkpoint,
    read_config,
    resolved_config,
)

__all__ = ["FORMAT_VERSION", "LOCK_FILES", "FolderLock", "LockedError", "ModelError", "NoCheckpoint", "RunDirectory",
           "RunWriter", "locked", "read_checkpoint", "read_config", "resolved_config"]
