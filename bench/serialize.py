"""What turning one snapshot into the /activity body costs, step by step; no cluster needed.

    .venv/bin/python -m bench.serialize [--backends 400,1000] [--repeat 200]

A synthetic snapshot like a busy server's (timestamps, queries of a few hundred characters,
most backends idle with zero rates, some busy) goes through each step of `render` alone:
building the row dicts, sorting them, and encoding them with orjson; then all of it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from pgwarden import activity
from pgwarden.activity import RowQuery, View
from pgwarden.models import Backend, Snapshot
from pgwarden.proc import ProcFigures


def synthetic_snapshot(count: int, seed: int = 8) -> Snapshot:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    backends = []
    figures = {}
    for i in range(count):
        pid = 10_000 + i
        busy = rng.random() < 0.2
        started = now - timedelta(seconds=rng.uniform(0, 3600))
        backends.append(
            Backend(
                pid=pid,
                database=rng.choice(["app", "postgres", "reports"]),
                user=rng.choice(["app", "batch", "postgres"]),
                client=f"10.0.{i // 250}.{i % 250}",
                application_name=f"worker-{i % 17}",
                backend_type="client backend",
                state="active" if busy else "idle",
                wait_event_type=None if busy else "Client",
                wait_event=None if busy else "ClientRead",
                xact_start=started if busy else None,
                query_start=started,
                duration=(now - started).total_seconds(),
                query="SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = "
                f"o.customer_id WHERE o.created_at > now() - interval '{i % 90} days' "
                "ORDER BY o.total DESC LIMIT 50",
                leader_pid=None,
                xmin_age=rng.randrange(1000) if busy else None,
                blocked_by=None,
            )
        )
        figures[pid] = ProcFigures(
            cpu=round(rng.uniform(0, 100), 1) if busy else 0.0,
            memory=round(rng.uniform(0.01, 2.0), 2),
            read_rate=rng.uniform(0, 50e6) if busy else 0.0,
            write_rate=rng.uniform(0, 10e6) if busy else 0.0,
            iowait=False,
        )
    return Snapshot(now, tuple(backends), figures)


def timed(step: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of one call."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(count: int, repeat: int) -> dict[str, float]:
    snapshot = synthetic_snapshot(count)
    query = RowQuery()
    rows = activity.activity_rows(snapshot)
    selected = activity.sort_rows(rows, query)
    body = {"rows": selected, "total": len(selected)}

    def fresh_render() -> bytes:
        snapshot.rendered.clear()
        return activity.render(snapshot, View.ACTIVITY, query)

    return {
        "build rows": timed(lambda: activity.activity_rows(snapshot), repeat),
        "sort": timed(lambda: activity.sort_rows(rows, query), repeat),
        "orjson.dumps": timed(lambda: orjson.dumps(body), repeat),
        "render, all of it": timed(fresh_render, repeat),
        "render, cached": timed(lambda: activity.render(snapshot, View.ACTIVITY, query), repeat),
        "body KiB": len(fresh_render()) / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="400,1000")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.backends.split(",")]
    results = {n: measure(n, args.repeat) for n in sizes}
    steps = list(next(iter(results.values())))
    print("| step | " + " | ".join(f"{n} rows, ms" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for step in steps:
        print(f"| {step} | " + " | ".join(f"{results[n][step]:.3f}" for n in sizes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
