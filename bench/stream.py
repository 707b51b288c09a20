"""What viewers cost the agent: stream subscribers against clients polling the snapshot.

    .venv/bin/python -m bench.stream [--backends 1000] [--viewers 1,5,20] [--seconds 12]
                                     [--history]

One cluster with --backends idle client backends and one pgwarden agent ([sampler]
interval 1 s; its history recorder off unless --history, so only the viewers listen).
For each number of viewers, first that many GET /activity/stream subscribers, then that
many clients polling GET /activity/snapshot once per interval (each at its own offset
within the interval, as browsers opened at different moments poll): the agent's CPU
(every thread and child, from schedstat) and its PostgreSQL backends' CPU, per second and
per viewer, over --seconds after a warm-up. Prints a Markdown table. Every process
started here is stopped by its pid.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psycopg

from bench import processes
from bench.agents import Pgwarden
from bench.run import backend_pids, machine, open_idle
from pgwarden.cluster import create_cluster

INTERVAL = 1.0  # the agent's default [sampler] interval
WARMUP = 3.0


@dataclass
class Cell:
    mode: str
    viewers: int
    seconds: float
    agent_ms: float  # agent process CPU over the window
    backends_ms: float  # its PostgreSQL backends' CPU over the window
    received: int  # snapshot bodies the viewers got in the window
    bytes_received: int

    @property
    def total_ms_per_s(self) -> float:
        return (self.agent_ms + self.backends_ms) / self.seconds

    @property
    def agent_ms_per_s(self) -> float:
        return self.agent_ms / self.seconds


class Viewers:
    """`count` threads, each a viewer, counting the snapshots they get while `counting`."""

    def __init__(self, agent: Pgwarden, count: int, mode: str) -> None:
        self.agent = agent
        self.mode = mode
        self.stop = threading.Event()
        self.counting = threading.Event()
        self.lock = threading.Lock()
        self.received = 0
        self.bytes = 0
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i, count), daemon=True) for i in range(count)
        ]

    def __enter__(self) -> Viewers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _note(self, snapshots: int, size: int) -> None:
        if self.counting.is_set():
            with self.lock:
                self.received += snapshots
                self.bytes += size

    def _run(self, index: int, count: int) -> None:
        url = f"http://127.0.0.1:{self.agent.port}"
        headers = {"X-Session": self.agent.token}
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                if self.mode == "stream":
                    self._watch(client)
                else:
                    self._poll(client, index * INTERVAL / count)
        except Exception as exc:  # reported in the table's notes: a bench must not hang
            if not self.stop.is_set():
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _watch(self, client: httpx.Client) -> None:
        with client.stream("GET", "/activity/stream") as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                self._note(chunk.count(b"event: snapshot\n"), len(chunk))
                if self.stop.is_set():
                    return

    def _poll(self, client: httpx.Client, offset: float) -> None:
        start = time.monotonic() + offset
        tick = 0
        while not self.stop.is_set():
            delay = start + tick * INTERVAL - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            if self.stop.is_set():
                return
            body = client.get("/activity/snapshot").raise_for_status().content
            self._note(1, len(body))
            tick += 1


def measure(
    agent: Pgwarden, admin: psycopg.Connection, mode: str, viewers: int, seconds: float
) -> tuple[Cell, list[str]]:
    with Viewers(agent, viewers, mode) as crowd:
        time.sleep(WARMUP)
        watched = backend_pids(admin, agent.application_name)
        agent_before = processes.tree_cpu(agent.pid)
        backends_before = sum(processes.cpu_ns(pid) for pid in watched)
        started = time.monotonic()
        crowd.counting.set()
        time.sleep(seconds)
        crowd.counting.clear()
        elapsed = time.monotonic() - started
        agent_ns = processes.tree_cpu_since(agent_before, agent.pid)
        backends_ns = sum(processes.cpu_ns(pid) for pid in watched) - backends_before
        cell = Cell(
            mode, viewers, elapsed, agent_ns / 1e6, backends_ns / 1e6, crowd.received, crowd.bytes
        )
    return cell, crowd.errors


def table(cells: list[Cell]) -> str:
    first = {c.mode: c for c in cells if c.viewers == min(x.viewers for x in cells)}
    lines = [
        "| viewers | mode | bodies received/s | MB/s sent | agent CPU ms/s | + its PG backends"
        " | = total ms/s | per viewer | total vs 1 viewer |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        lines.append(
            f"| {c.viewers} | {c.mode} | {c.received / c.seconds:.1f}"
            f" | {c.bytes_received / c.seconds / 2**20:.1f} | {c.agent_ms_per_s:.1f}"
            f" | {c.backends_ms / c.seconds:.1f} | {c.total_ms_per_s:.1f}"
            f" | {c.total_ms_per_s / c.viewers:.1f}"
            f" | {c.total_ms_per_s / first[c.mode].total_ms_per_s:.2f}x |"
        )
    return "\n".join(lines)


def comparison(cells: list[Cell]) -> str:
    by = {(c.mode, c.viewers): c for c in cells}
    lines = ["| viewers | polling / stream, total CPU |", "|---:|---:|"]
    for n in sorted({c.viewers for c in cells}):
        stream, poll = by.get(("stream", n)), by.get(("poll", n))
        if stream and poll:
            lines.append(f"| {n} | {poll.total_ms_per_s / stream.total_ms_per_s:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", type=int, default=1000)
    parser.add_argument("--viewers", default="1,5,20")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument(
        "--history",
        action="store_true",
        help="keep the history recorder on (the default of the agent): one more listener",
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.viewers.split(",")]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    cluster = create_cluster(
        prefix="pgwarden-bench-stream-",
        settings={"max_connections": str(args.backends + 100), "shared_buffers": "128MB"},
    )
    idle: list[psycopg.Connection] = []
    cells: list[Cell] = []
    notes: list[str] = []
    agent = None
    admin = None
    try:
        admin = cluster.connect(application_name="bench-admin")
        extra = "" if args.history else "[history]\nenabled = false\n"
        agent = Pgwarden.start(cluster, cluster.root / "pgwarden", extra)
        open_idle(cluster, idle, args.backends)
        for mode in ("stream", "poll"):
            for n in counts:
                print(f"{args.backends} backends: {n} viewers, {mode}", file=sys.stderr)
                cell, errors = measure(agent, admin, mode, n, args.seconds)
                cells.append(cell)
                notes += [f"{mode} x{n}: {e}" for e in dict.fromkeys(errors)]
    finally:
        for conn in idle:
            conn.close()
        if admin is not None:
            admin.close()
        if agent is not None:
            agent.stop()
        cluster.stop()
        cluster.remove()

    print(
        f"{started_at:%Y-%m-%d %H:%M} UTC on {machine()}; PostgreSQL "
        f"{cluster.bindir.parent.name}; {args.backends} idle backends; [sampler] interval "
        f"{INTERVAL:g} s; history recorder {'on' if args.history else 'off'}; "
        f"{args.seconds:g} s per cell after {WARMUP:g} s of warm-up; load "
        f"average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print()
    print(table(cells))
    print()
    print(comparison(cells))
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
