"""The run directory format: writing and reading runs (atomic writes, checkpoints)."""

from tmesim.model import ModelError  # re-exported: layers above io report run errors with it

from .rundir import (
           FORMAT_VERSION,
           Run,
           RunDirectory,
           RunWriter,
           read_checkpoint,
           resolved_config,
           write_table_run,
)

__all__ = ["FORMAT_VERSION", "ModelError", "Run", "RunDirectory", "RunWriter", "read_checkpoint", "resolved_config",
           "write_table_run"]
