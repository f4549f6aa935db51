"""The target folder of ``hub deliver --to-dir``: one writer at a time, crash-safe files.

A batch becomes visible only complete: it is written to a hidden temporary file, flushed and
fsynced, renamed to its final name and the folder is fsynced. Only then may the caller commit
the Kafka offsets; the file names are the record of what was written (``batchfiles``).
"""

from __future__ import annotations

import fcntl
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from connectors.delivery.batchfiles import BatchFileName, stale_temp_files, written_positions
from hub.errors import HubError

log = logging.getLogger(__name__)

FILE_MODE = 0o640
"""Batch files: read and write for the owner, read for the group (the agency's import)."""


class BatchDirectory:
    """Exclusive, crash-safe writes of one agency's batch files into ``path``.

    Use as a context manager: entering takes the folder's lock for the agency (a second
    ``hub deliver`` for the same agency and folder stops with a clear error) and removes
    temporary files that an interrupted run left behind.
    """

    def __init__(self, path: Path, agency_id: str):
        self.path = Path(path)
        self.agency_id = agency_id
        self._lock_fd: int | None = None

    def __enter__(self) -> BatchDirectory:
        self._create()
        self._lock()
        try:
            self._remove_stale_temp_files()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def written_positions(self) -> dict[int, int]:
        """Per partition, the next offset to write (from the names of the batch files)."""
        return written_positions(self.agency_id, os.listdir(self.path))

    def write_batch(self, partition: int, first: int, last: int, content: bytes,
                    now: datetime | None = None) -> BatchFileName:
        """Write one batch file atomically and durably; returns its name."""
        name = BatchFileName(self.agency_id, now or datetime.now(UTC), partition, first, last)
        temp, final = self.path / name.temp_name, self.path / name.name
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, final)
            self._fsync_folder()
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise HubError(f"cannot write batch file {final}: {exc.strerror or exc}") from None
        return name

    # ------------------------------------------------------------------------- internals
    def _create(self) -> None:
        try:
            self.path.mkdir(exist_ok=True)
        except FileNotFoundError:
            raise HubError(f"cannot create {self.path}: its parent folder does not exist") from None
        except OSError as exc:
            raise HubError(f"cannot create {self.path}: {exc.strerror}") from None
        if not self.path.is_dir():
            raise HubError(f"{self.path} is not a folder")

    def _lock(self) -> None:
        lock_path = self.path / f".{self.agency_id}_inbox.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HubError(f"cannot write to {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HubError(f"another `hub deliver {self.agency_id}` writes to {self.path} "
                           f"already (it holds {lock_path.name}); run one per folder") from None
        self._lock_fd = fd

    def _remove_stale_temp_files(self) -> None:
        stale = stale_temp_files(self.agency_id, os.listdir(self.path))
        for name in stale:
            (self.path / name).unlink(missing_ok=True)
            log.warning("removed %s, left by an interrupted run; its events are written again",
                        name)
        if stale:
            self._fsync_folder()

    def _fsync_folder(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
