"""The installed tmesim version (ground floor: imports nothing of tmesim)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tmesim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
