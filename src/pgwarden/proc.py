"""Per-process figures from /proc: reading (I/O) kept apart from the rate maths (pure).

The hot path re-reads `/proc/<pid>/stat` and `/proc/<pid>/io` with `os.pread` on
descriptors kept open between snapshots (ProcReader): a third of the cost of
open+read+close, which is itself a third of psutil's `Process.oneshot()` (a Process object,
stat read twice to identify it, statm for memory). psutil still supplies the host facts.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TOTAL_MEMORY = psutil.virtual_memory().total

# Rates over a shorter window are mostly clock-tick noise (10 ms of CPU is 10 % of 100 ms).
MIN_WINDOW = 0.1
# A new reading becomes a rate base once the newest base is this old; bases this old are preferred.
BASE_SPACING = 0.5
MAX_BASES = 3
# A rate over a longer window says little about now: show none until a fresh reading.
MAX_WINDOW = 300.0
# Descriptors left for sockets, the users file, the audit log...: the rest may hold /proc files.
SPARE_DESCRIPTORS = 256
FILES_PER_PROCESS = 3  # stat, io, schedstat


def clock() -> float:
    """Seconds since boot: the clock /proc/<pid>/stat's start time counts on, as ps reads it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class ProcReading(NamedTuple):
    """One reading of one process; (pid, start_ticks) names the process across pid reuse.

    `start_ticks` (clock ticks) and `taken_at` (seconds, `clock()`) both count from boot.
    """

    pid: int
    start_ticks: int
    parent_pid: int
    state: str
    cpu_ticks: int
    rss_pages: int
    read_bytes: int | None
    write_bytes: int | None
    taken_at: float


class ProcFigures(NamedTuple):
    """What the API shows of a process: rates since a previous reading, or since it started.

    None where the figure cannot be read (the process is gone, or its I/O counters belong to
    another OS user).
    """

    cpu: float | None
    memory: float | None
    read_rate: float | None
    write_rate: float | None
    iowait: bool | None


UNREADABLE = ProcFigures(cpu=None, memory=None, read_rate=None, write_rate=None, iowait=None)


def parse_stat(data: bytes) -> tuple[str, int, int, int, int]:
    """(state, parent pid, utime+stime ticks, start ticks, rss pages) from /proc/<pid>/stat."""
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split(None, 22)
    return (
        fields[0].decode(),
        int(fields[1]),
        int(fields[11]) + int(fields[12]),
        int(fields[19]),
        int(fields[21]),
    )


def parse_io(data: bytes) -> tuple[int, int]:
    """(read_bytes, write_bytes) from /proc/<pid>/io: bytes that reached the storage layer."""
    fields = data.split()
    if fields[8:12:2] == [b"read_bytes:", b"write_bytes:"]:  # the layout since Linux 2.6.20
        return int(fields[9]), int(fields[11])
    read_bytes = write_bytes = 0
    for line in data.splitlines():
        if line.startswith(b"read_bytes:"):
            read_bytes = int(line[11:])
        elif line.startswith(b"write_bytes:"):
            write_bytes = int(line[12:])
    return read_bytes, write_bytes


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


# How far a process's start time, as /proc gives it, may be from pg_postmaster_start_time():
# clock ticks, and the wall clock slewed since boot.
START_TIME_TOLERANCE = 2.0


def postmaster_mismatch(
    own_pid: int,
    own: ProcReading | None,
    parent: ProcReading | None,
    postmaster_started: float,
    *,
    wall_now: float,
    boot_now: float,
    clock_ticks: int = CLOCK_TICKS,
) -> str | None:
    """Why the parent of the agent's backend is not the cluster's postmaster, or None if it is.

    `own` and `parent` are the local /proc readings of the agent's backend pid and of its
    parent; `postmaster_started` is pg_postmaster_start_time() in Unix seconds. A pid read
    from PostgreSQL names a local process only when PostgreSQL runs in this host's PID
    namespace: elsewhere it names an unrelated process, or none.
    """
    elsewhere = "PostgreSQL runs on another host or in another PID namespace"
    if own is None:
        return f"the agent's backend, pid {own_pid}, is not a process here: {elsewhere}"
    if parent is None:
        return f"the parent of the agent's backend (pid {own.parent_pid}) cannot be read"
    started = wall_now - (boot_now - parent.start_ticks / clock_ticks)
    if abs(started - postmaster_started) > START_TIME_TOLERANCE:
        return (
            f"process {parent.pid}, the parent of pid {own_pid} here, started "
            f"{started - postmaster_started:+.0f} s away from pg_postmaster_start_time(): "
            f"{elsewhere}"
        )
    return None


def child_pids(parent_pid: int) -> list[int] | None:
    """Children of a process (the postmaster's are all the backends), or None if unknown."""
    try:
        with open(f"/proc/{parent_pid}/task/{parent_pid}/children", "rb") as listing:
            data = listing.read()  # to the end: a thousand pids are more than one page
    except OSError:
        return None
    return [int(pid) for pid in data.split()]


def figures(
    current: ProcReading,
    base: ProcReading | None,
    *,
    clock_ticks: int = CLOCK_TICKS,
    page_size: int = PAGE_SIZE,
    total_memory: int = TOTAL_MEMORY,
) -> ProcFigures:
    """Figures of `current`: rates against `base`, or over its lifetime without one (as ps)."""
    memory = round(current.rss_pages * page_size * 100 / total_memory, 2)
    if base is not None and current.taken_at - base.taken_at >= MIN_WINDOW:
        window = current.taken_at - base.taken_at
        cpu_ticks = max(current.cpu_ticks - base.cpu_ticks, 0)
        read = _delta(current.read_bytes, base.read_bytes)
        write = _delta(current.write_bytes, base.write_bytes)
    else:
        # Counters start at zero when the process is forked: all it did, over its age.
        window = current.taken_at - current.start_ticks / clock_ticks
        cpu_ticks, read, write = current.cpu_ticks, current.read_bytes, current.write_bytes
    if window <= 0:  # born within the last clock tick: nothing measurable yet
        return ProcFigures(
            0.0,
            memory,
            None if read is None else 0.0,
            None if write is None else 0.0,
            current.state == "D",
        )
    return ProcFigures(
        round(cpu_ticks * 100 / clock_ticks / window, 1),
        memory,
        None if read is None else read / window,
        None if write is None else write / window,
        current.state == "D",
    )


def _delta(now: int | None, then: int | None) -> int | None:
    if now is None or then is None:
        return None
    return max(now - then, 0)


def _base_among(bases: list[ProcReading], now: float) -> ProcReading | None:
    """The newest of these bases at least BASE_SPACING old, else the oldest MIN_WINDOW old."""
    younger = None  # the oldest base younger than BASE_SPACING
    for base in reversed(bases):
        age = now - base.taken_at
        if age >= BASE_SPACING:
            if age <= MAX_WINDOW:
                return base
            break  # it and all older ones are too old
        younger = base
    if younger is not None and now - younger.taken_at >= MIN_WINDOW:
        return younger
    return None


class ProcessHistory:
    """Earlier readings of each process, kept as rate bases; not thread-safe by design.

    Bases are kept at least BASE_SPACING apart, so a burst of polls still measures rates
    over half a second or more, while a poll every two seconds measures over those two.
    """

    def __init__(self) -> None:
        self._bases: dict[tuple[int, int], list[ProcReading]] = {}
        # Pids of the last observe() with a single reading: a follow-up read gives them rates.
        self.unbased: list[int] = []

    def __len__(self) -> int:
        return len(self._bases)

    def base_for(self, current: ProcReading) -> ProcReading | None:
        """The newest base at least BASE_SPACING old, else the oldest one MIN_WINDOW old."""
        bases = self._bases.get((current.pid, current.start_ticks))
        return _base_among(bases, current.taken_at) if bases else None

    def remember(self, reading: ProcReading) -> None:
        bases = self._bases.setdefault((reading.pid, reading.start_ticks), [])
        if not bases or reading.taken_at - bases[-1].taken_at >= BASE_SPACING:
            bases.append(reading)
            del bases[:-MAX_BASES]

    def observe(
        self, readings: dict[int, ProcReading], *, complete: bool
    ) -> dict[int, ProcFigures]:
        """Figures for these readings; then remember them. `complete` forgets the unseen."""
        result = {}
        known = self._bases
        self.unbased = []
        for pid, reading in readings.items():  # base_for and remember, in one pass
            key = (pid, reading.start_ticks)
            bases = known.get(key)
            if bases is None:
                known[key] = [reading]
                result[pid] = figures(reading, None)
                self.unbased.append(pid)
                continue
            result[pid] = figures(reading, _base_among(bases, reading.taken_at))
            if reading.taken_at - bases[-1].taken_at >= BASE_SPACING:
                bases.append(reading)
                del bases[:-MAX_BASES]
            elif len(bases) < 2:
                self.unbased.append(pid)
        if complete and len(known) > len(readings):  # some process was not seen: forget it
            seen = {(pid, r.start_ticks) for pid, r in readings.items()}
            for stale in known.keys() - seen:
                del known[stale]
        return result
