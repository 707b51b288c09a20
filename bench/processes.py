"""What a process costs: CPU of all its threads and children, resident memory; from /proc."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuReading:
    """CPU used so far by a process: per live thread (ns), and in all (ticks, dead threads too)."""

    threads: dict[int, int]
    total_ns: int

    def since(self, earlier: CpuReading) -> int:
        """Nanoseconds on CPU since `earlier`: exact while no thread ended in between."""
        if earlier.threads.keys() <= self.threads.keys():
            return sum(ns - earlier.threads.get(tid, 0) for tid, ns in self.threads.items())
        # A thread ended and took its schedstat with it: fall back to the 10 ms ticks.
        return self.total_ns - earlier.total_ns


def cpu_reading(pid: int) -> CpuReading:
    threads = {}
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        with contextlib.suppress(OSError), open(path) as stat:
            threads[int(path.split("/")[4])] = int(stat.read().split()[0])
    total = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rpartition(b")")[2].split()
        total = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLOCK_TICKS
    return CpuReading(threads, total)


def cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of every live thread of pid (schedstat: scheduler clock, not ticks)."""
    return sum(cpu_reading(pid).threads.values())


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    found = [pid]
    for child in children(pid):
        found.extend(tree(child))
    return found


def tree_cpu(pid: int) -> dict[int, CpuReading]:
    return {member: cpu_reading(member) for member in tree(pid)}


def tree_cpu_since(earlier: dict[int, CpuReading], pid: int) -> int:
    """Nanoseconds on CPU of pid and its children since `earlier` (children gone: not counted)."""
    now = tree_cpu(pid)
    return sum(
        reading.since(earlier.get(member, CpuReading({}, 0))) for member, reading in now.items()
    )


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def as_user(argv: list[str], user: str | None) -> list[str]:
    """argv run as another OS user (the one owning the cluster) when we are root."""
    if user is None or os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *argv]


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the process we started, SIGKILL if it does not go, then reap it."""
    if process.poll() is not None:
        return
    leftovers = [(child, start_ticks(child)) for child in tree(process.pid)[1:]]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + grace
    for child, started in leftovers:  # children it forked: gone with it, or told once more
        while time.monotonic() < deadline and start_ticks(child) == started:
            time.sleep(0.1)
        if start_ticks(child) == started:  # the same process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)


def start_ticks(pid: int) -> int | None:
    """When the process started (names it across pid reuse), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2 :].split()[19])
