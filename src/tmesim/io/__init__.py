"""The run directory format: writing and reading runs (atomic writes, checkpoints)."""

from .rundir import FORMAT_VERSION, RunDirectory, RunWriter, read_checkpoint, resolved_config

__all__ = ["FORMAT_VERSION", "RunDirectory", "RunWriter", "read_checkpoint", "resolved_config"]
