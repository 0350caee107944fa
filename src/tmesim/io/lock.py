"""One writer per output folder: an advisory lock (``filelock``) with a record of its holder.

A run directory, a body folder or a cohort/trial folder is written by one process at a time.
The lock is ``<folder>/.tmesim.lock`` (an OS lock, released by the kernel when the holder
dies, so a crash never leaves the folder locked); beside it ``.tmesim.lock.json`` records the
holder's PID, process start time, host and command line, so that a second writer is told who
holds the folder, and a process that finds the record of a holder that is no longer running
reports that stale lock (the folder may hold a killed run's partial outputs) before taking over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from tmesim.model import ModelError

from .atomic import atomic_write_json

LOCK_NAME = ".tmesim.lock"
HOLDER_NAME = ".tmesim.lock.json"
LOCK_FILES = (LOCK_NAME, HOLDER_NAME)


class LockedError(ModelError):
    """The folder is being written by another process (``holder`` describes it)."""

    def __init__(self, field: str, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(field, message)
        self.holder = holder


def _me() -> dict[str, Any]:
    import psutil

    started = psutil.Process().create_time()
    return {"pid": os.getpid(), "started": started, "started_at": _when(started),
            "host": socket.gethostname(), "command": " ".join(sys.argv)[:500]}


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t))


def read_holder(folder: str | Path) -> dict[str, Any] | None:
    """The recorded holder of a folder's lock (None if there is no readable record)."""
    try:
        rec = json.loads((Path(folder) / HOLDER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("pid"), int) else None


def holder_alive(rec: dict[str, Any]) -> bool:
    """Whether the recorded process still runs (same PID *and* start time: PIDs are reused)."""
    import psutil

    if rec.get("host") not in (None, socket.gethostname()):
        return True  # another machine's process cannot be checked; assume it runs
    try:
        return abs(psutil.Process(int(rec["pid"])).create_time() - float(rec.get("started", 0))) < 1.0
    except (psutil.Error, ValueError, OverflowError):
        return False


def describe(rec: dict[str, Any] | None) -> str:
    if not rec:
        return "another process (no record of which)"
    host = f" on {rec['host']}" if rec.get("host") and rec["host"] != socket.gethostname() else ""
    return f"process {rec['pid']}{host} (started {rec.get('started_at', '?')}: {rec.get('command', '?')})"


class FolderLock:
    """Exclusive use of ``folder`` (created if needed) while held; re-entrant in one object.

    ``notice`` is told (one line) when the folder carries the lock record of a process that
    died without releasing it.
    """

    def __init__(self, folder: str | Path, what: str = "folder", field: str | None = None,
                 notice: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.what = what
        self.field = field or str(self.folder)
        self.notice = notice
        self.stale: dict[str, Any] | None = None
        self._lock: FileLock | None = None
        self._depth = 0

    def acquire(self) -> FolderLock:
        if self._depth:
            self._depth += 1
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ModelError(self.field, f"{str(self.folder)!r} exists and is not a folder") from None
        except NotADirectoryError:
            raise ModelError(self.field, f"cannot create {str(self.folder)!r}: a part of the path is a file") from None
        except OSError as exc:
            raise ModelError(self.field, f"cannot create {str(self.folder)!r} ({exc.strerror or exc})") from None
        lock = FileLock(self.folder / LOCK_NAME, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            rec = read_holder(self.folder)
            raise LockedError(self.field, f"{self.what} {str(self.folder)!r} is in use by {describe(rec)}; "
                                          "wait for it to finish or stop it, or use another folder", rec) from None
        except OSError as exc:
            raise ModelError(self.field, f"cannot lock {str(self.folder)!r} ({exc.strerror or exc})") from None
        self._lock = lock
        prev = read_holder(self.folder)
        if prev is not None and prev.get("pid") != os.getpid() and not holder_alive(prev):
            self.stale = prev
            if self.notice is not None:
                self.notice(f"stale lock: {self.what} {str(self.folder)} was held by {describe(prev)}, which is no "
                            "longer running (killed?); its partial outputs are rolled back or overwritten")
        atomic_write_json(self.folder / HOLDER_NAME, _me())
        self._depth = 1
        return self

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        with contextlib.suppress(OSError):
            (self.folder / HOLDER_NAME).unlink()
        assert self._lock is not None
        self._lock.release()
        self._lock = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(folder: str | Path, what: str = "folder", field: str | None = None,
           notice: Callable[[str], None] | None = None) -> Iterator[FolderLock]:
    """``with locked(out, "run directory"): ...`` — see FolderLock."""
    with FolderLock(folder, what, field, notice) as lk:
        yield lk
