"""Append-only audit log of kills and cancels: JSON lines, flushed to disk before answering."""

from __future__ import annotations

import os
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
        """Write the entries in one append and fsync them; AuditUnavailable if that fails."""
        data = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise AuditUnavailable(f"{self.path}: {exc.strerror}") from exc

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
