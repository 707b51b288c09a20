"""Reading /proc: processes through descriptors kept open, the postmaster's children, the clock.

The hot path re-reads `/proc/<pid>/stat` and `/proc/<pid>/io` with `os.pread` on
descriptors kept open between snapshots (ProcReader): a third of the cost of
open+read+close, which is itself a third of psutil's `Process.oneshot()` (a Process object,
stat read twice to identify it, statm for memory).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterable

from pgwarden.proc.readings import ProcReading, parse_io, parse_stat

# Descriptors left for sockets, the users file, the audit log...: the rest may hold /proc files.
SPARE_DESCRIPTORS = 256
FILES_PER_PROCESS = 3  # stat, io, schedstat


def clock() -> float:
    """Seconds since boot: the clock /proc/<pid>/stat's start time counts on, as ps reads it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _reading(pid: int, stat: bytes, io: bytes | None, taken_at: float) -> ProcReading:
    state, parent_pid, cpu_ticks, start_ticks, rss_pages = parse_stat(stat)
    # Another OS user's process: its I/O counters are private (None), the rest is not.
    read_bytes, write_bytes = parse_io(io) if io is not None else (None, None)
    return ProcReading(
        pid,
        start_ticks,
        parent_pid,
        state,
        cpu_ticks,
        rss_pages,
        read_bytes,
        write_bytes,
        taken_at,
    )


def read_process(pid: int) -> ProcReading | None:
    """Read one process, or None when it is gone or its stat cannot be read."""
    try:
        stat = _read(f"/proc/{pid}/stat")
    except OSError:
        return None
    taken_at = clock()
    try:
        io: bytes | None = _read(f"/proc/{pid}/io")
    except OSError:
        io = None
    return _reading(pid, stat, io, taken_at)


def descriptor_budget() -> int:
    """How many processes may keep their /proc files open, after raising the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 1 << 16 if hard == resource.RLIM_INFINITY else min(hard, 1 << 16)
        if wanted > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                soft = wanted
            except (ValueError, OSError):
                pass
    return max(0, (soft - SPARE_DESCRIPTORS) // FILES_PER_PROCESS)


def _thread_count(stat: bytes) -> int:
    return int(stat[stat.rindex(b")") + 2 :].split(None, 18)[17])


class _KeptFiles:
    """A process's open /proc files, and its last reading with the run time it was taken at."""

    __slots__ = ("io", "ran", "reading", "sched", "stat")

    def __init__(self, stat: int, io: int | None, sched: int | None) -> None:
        self.stat = stat
        self.io = io
        self.sched = sched
        self.ran = b""
        self.reading: ProcReading | None = None

    def close(self) -> None:
        for fd in (self.stat, self.io, self.sched):
            if fd is not None:
                os.close(fd)


class ProcReader:
    """Reads processes through their /proc files, kept open from one snapshot to the next.

    A kept descriptor names its process for good: once that process has exited, reading
    fails (ESRCH) even if its pid was reused, so a new process is never read through an old
    one's files. A single-threaded process whose run time (/proc/<pid>/schedstat, in ns)
    has not moved since the last read has not run: its CPU time and I/O counters cannot
    have changed, so that reading stands, with the new time. An idle backend costs one
    small read instead of two larger ones and a parse. (Its state and resident size could
    still change without it running, a wake-up or the kernel reclaiming pages: those are
    seen when it next runs.) Thread-safe: the sampler's reads may overlap a follow-up read.
    """

    def __init__(self, budget: int | None = None) -> None:
        self._files: dict[int, _KeptFiles] = {}
        self._budget = descriptor_budget() if budget is None else budget
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._files)

    def read(self, pids: Iterable[int]) -> dict[int, ProcReading]:
        """Read every pid that can be read; the others are simply absent."""
        readings = {}
        with self._lock:
            for pid in pids:
                reading = self._read_kept(pid)
                if reading is not None:
                    readings[pid] = reading
        return readings

    def retain(self, pids: Iterable[int]) -> None:
        """Close the files of every process but these (the others are gone or not wanted)."""
        with self._lock:
            for pid in self._files.keys() - set(pids):
                self._files.pop(pid).close()

    def _read_kept(self, pid: int) -> ProcReading | None:
        files = self._files.get(pid)
        if files is None:
            files = self._open(pid)
            if files is None:
                return read_process(pid) if len(self._files) >= self._budget else None
        last = files.reading
        try:
            ran = os.pread(files.sched, 64, 0) if files.sched is not None else None
            if last is not None and ran == files.ran:  # it has not run since
                return ProcReading._make((*last[:-1], clock()))
            stat = os.pread(files.stat, 4096, 0)
        except OSError:
            # That process has exited; its pid may already name another one.
            self._files.pop(pid).close()
            return self._read_reopened(pid)
        return self._read_rest(files, pid, stat, ran, clock())

    def _read_reopened(self, pid: int) -> ProcReading | None:
        files = self._open(pid)
        if files is None:
            return None
        try:
            ran = os.pread(files.sched, 64, 0) if files.sched is not None else None
            stat = os.pread(files.stat, 4096, 0)
        except OSError:
            self._files.pop(pid).close()
            return None
        return self._read_rest(files, pid, stat, ran, clock())

    @staticmethod
    def _read_rest(
        files: _KeptFiles, pid: int, stat: bytes, ran: bytes | None, taken_at: float
    ) -> ProcReading:
        io = None
        if files.io is not None:
            try:
                io = os.pread(files.io, 4096, 0)
            except OSError:
                io = None
        reading = _reading(pid, stat, io, taken_at)
        # Only a lone thread's run time speaks for the whole process.
        if ran is not None and _thread_count(stat) == 1:
            files.ran, files.reading = ran, reading
        else:
            files.ran, files.reading = b"", None
        return reading

    def _open(self, pid: int) -> _KeptFiles | None:
        """Open the files of pid and keep them, or None (gone, or over the budget)."""
        if len(self._files) >= self._budget:
            return None
        try:
            stat = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        others: list[int | None] = []
        for name in ("io", "schedstat"):
            try:
                others.append(os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                others.append(None)
        files = self._files[pid] = _KeptFiles(stat, *others)
        return files

    def close(self) -> None:
        with self._lock:
            for files in self._files.values():
                files.close()
            self._files.clear()


def child_pids(parent_pid: int) -> list[int] | None:
    """Children of a process (the postmaster's are all the backends), or None if unknown."""
    try:
        with open(f"/proc/{parent_pid}/task/{parent_pid}/children", "rb") as listing:
            data = listing.read()  # to the end: a thousand pids are more than one page
    except OSError:
        return None
    return [int(pid) for pid in data.split()]
