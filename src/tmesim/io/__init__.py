"""The run directory format: writing and reading runs (atomic writes, checkpoints, locks)."""

from tmesim.model import ModelError  # re-exported: layers above io report run errors with it

from .lock import LOCK_FILES, FolderLock, LockedError, locked
from .rundir import (
    FORMAT_VERSION,
    NoCheckpoint,
    Run,
    RunDirectory,
    RunWriter,
    read_checkpoint,
    read_config,
    resolved_config,
    write_table_run,
)

__all__ = ["FORMAT_VERSION", "LOCK_FILES", "FolderLock", "LockedError", "ModelError", "NoCheckpoint", "Run",
           "RunDirectory", "RunWriter", "locked", "read_checkpoint", "read_config", "resolved_config",
           "write_table_run"]
