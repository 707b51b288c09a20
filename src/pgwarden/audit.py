"""Append-only audit log of kills and cancels: JSON lines, flushed to disk before answering."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path
from typing import Any

import orjson

TAIL_BLOCK = 64 * 1024


class AuditUnavailable(Exception):
    """The audit log cannot be written: nothing may be done unrecorded."""


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Write the entries in one append and fsync them; AuditUnavailable if that fails.

        A failed write leaves no torn line: the file is cut back to where it was. Should a
        torn line be there anyway (a crash mid-write), the entries start on a fresh line.
        """
        data = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
        try:
            with self._lock:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    self._append(fd, data)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise AuditUnavailable(f"{self.path}: {exc.strerror}") from exc

    @staticmethod
    def _append(fd: int, data: bytes) -> None:
        start = os.lseek(fd, 0, os.SEEK_END)
        regular = stat.S_ISREG(os.fstat(fd).st_mode)  # /dev/full and pipes cannot be cut
        if regular and start > 0 and os.pread(fd, 1, start - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            if regular:
                with contextlib.suppress(OSError):  # the next append starts a fresh line anyway
                    os.ftruncate(fd, start)
            raise

    def tail(self, limit: int) -> list[dict[str, Any]]:
        """The latest `limit` entries, oldest first; an unreadable line is skipped."""
        try:
            with self.path.open("rb") as fh:
                end = fh.seek(0, os.SEEK_END)
                data = b""
                position = end
                while position > 0 and data.count(b"\n") <= limit:
                    step = min(TAIL_BLOCK, position)
                    position -= step
                    fh.seek(position)
                    data = fh.read(step) + data
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditUnavailable(f"{self.path}: {exc.strerror}") from exc
        lines = data.splitlines()
        if position > 0:
            lines = lines[1:]  # the first line may be cut
        entries = []
        for line in lines[-limit:] if limit else []:
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return entries
