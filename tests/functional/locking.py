"""Staging real lock pile-ups, and reading the agent's three views of them as a graph."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import httpx

from pgwarden.cluster import Cluster
from tests.helpers import BackgroundSession, rows, wait_until

Row = dict[str, Any]


def blocked(cluster: Cluster, session: BackgroundSession, statement: str) -> Future[list[Any]]:
    """Run `statement` in the background and return once PostgreSQL shows it waiting on a lock:
    a pile-up is staged in a known queue order."""
    future = session.submit(statement)

    def waits() -> bool:
        if future.done():
            raise AssertionError(f"{statement!r} did not wait: {future.exception() or 'ran'}")
        with cluster.connect() as conn:
            row = conn.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [session.pid]
            ).fetchone()
        return row is not None and row[0] == "Lock"

    wait_until(waits, what=f"pid {session.pid} to wait on a lock for {statement!r}")
    return future


@dataclass(frozen=True)
class LockGraph:
    """What the agent shows about the backends `ours`, from one read of each view."""

    waiting: dict[int, Row]
    blocking: list[Row]
    activity: dict[int, Row]

    @property
    def waiters(self) -> set[int]:
        return set(self.waiting)

    @property
    def blockers(self) -> set[int]:
        return {row["pid"] for row in self.blocking}

    @property
    def edges(self) -> set[tuple[int, int]]:
        """(waiter, blocker) pairs, from the waiting rows' blocked_by."""
        return {(pid, by) for pid, row in self.waiting.items() for by in row["blocked_by"]}

    @property
    def roots(self) -> set[int]:
        return {row["pid"] for row in self.blocking if row["root"]}

    def blocking_row(self, pid: int) -> Row:
        (row,) = [r for r in self.blocking if r["pid"] == pid]
        return row

    def check_consistent(self) -> None:
        """The three views tell one story: blocking rows mirror the waiting rows' edges, each
        blocker comes once, and /activity shows the same blocked_by and wait flags."""
        mirrored = {(w, row["pid"]) for row in self.blocking for w in row["blocked_pids"]}
        assert mirrored == self.edges
        repeated = [pid for pid, n in Counter(r["pid"] for r in self.blocking).items() if n > 1]
        assert repeated in ([], [0]), f"blockers listed more than once: {repeated}"
        # A parallel leader waits through its worker.
        waiting = set(self.waiting) | {r["leader_pid"] for r in self.waiting.values()}
        for row in self.blocking:
            assert row["blocked_count"] == len(row["blocked_pids"])
            assert row["root"] == (row["pid"] not in waiting)
        for pid, row in self.activity.items():
            if pid in self.waiting:
                assert row["wait"] == "Y"
                assert row["blocked_by"] == self.waiting[pid]["blocked_by"]
            elif row["backend_type"] == "client backend":
                assert row["blocked_by"] == []


def lock_graph(client: httpx.Client, ours: set[int]) -> LockGraph:
    def mine(path: str) -> list[Row]:
        return [row for row in rows(client, path) if row["pid"] in ours]

    return LockGraph(
        waiting={row["pid"]: row for row in mine("/activity/waiting")},
        blocking=mine("/activity/blocking"),
        activity={row["pid"]: row for row in mine("/activity")},
    )
