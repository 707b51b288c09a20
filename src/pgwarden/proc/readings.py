"""What /proc says of a process, parsed: the records, the file formats, the host's facts; pure.

Nothing here opens a file: reader.py reads, this module only reads bytes it is given.
"""

from __future__ import annotations

import os
from typing import NamedTuple

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# The kernel's total RAM (MemTotal), as psutil.virtual_memory().total gives it, without a read.
TOTAL_MEMORY = PAGE_SIZE * os.sysconf("SC_PHYS_PAGES")


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
