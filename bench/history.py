"""Incident-replay history: footprint on disk, recording cost, and reads on a full week.

    python -m bench.history                 # all three parts, one table
    python -m bench.history --parts footprint,reads --cost-seconds 60

- footprint: an hour of 50 active sessions running 10 distinct queries, written through the
  recorder's own path (one transaction per tick), in bytes per session-sample, beside the same
  samples as one SQLite row each (the naive layout);
- cost: two agents on one cluster with 400 client backends, 50 of them active, no client
  polling: history on, history off; CPU of each over the same seconds;
- reads: a week of that workload (a day generated, then laid out seven times), read through a
  real agent over HTTP: snapshot at T, load 1 h @ 1 s and 24 h @ 60 s, top over 7 days.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg

from bench import processes
from bench.agents import Pgwarden
from pgwarden.cluster import Cluster, create_cluster
from pgwarden.history.records import SampledLock, SessionSample, Tick
from pgwarden.history.store import DAY, HOUR, SQLiteStore

SESSIONS = 50
QUERIES = [
    "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20",
    "UPDATE stock SET quantity = quantity - $1 WHERE product_id = $2",
    "INSERT INTO order_lines (order_id, product_id, quantity, price) VALUES ($1, $2, $3, $4)",
    "SELECT p.id, p.name, s.quantity FROM products p JOIN stock s ON s.product_id = p.id "
    "WHERE p.category = $1",
    "UPDATE carts SET updated_at = now() WHERE id = $1",
    "SELECT count(*) FROM sessions WHERE expires_at > now()",
    "DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2",
    "SELECT sum(amount) FROM payments WHERE created_at >= $1 AND created_at < $2",
    "INSERT INTO events (kind, payload) VALUES ($1, $2)",
    "SELECT * FROM customers WHERE email = $1",
]
# What a busy OLTP session waits on, second by second: (state, wait type, wait event), weight.
WAITS = [
    (("active", None, None), 60),
    (("active", "IO", "DataFileRead"), 14),
    (("active", "LWLock", "BufferMapping"), 5),
    (("active", "IO", "WALSync"), 4),
    (("active", "Lock", "transactionid"), 5),
    (("idle in transaction", "Client", "ClientRead"), 10),
    (("active", "IPC", "ParallelFinish"), 2),
]
USERS = ["shop", "shop", "shop", "reporting", "batch"]
APPLICATIONS = ["checkout", "catalog", "api", "reports", "cron"]


class Workload:
    """SESSIONS client connections, each always busy: a query of a few seconds, then the next;
    a connection is replaced (new pid, new backend_start) every half hour or so."""

    def __init__(self, start: float, seed: int = 15) -> None:
        self.random = random.Random(seed)
        self.next_pid = 20_000
        self.slots = [self._connect(start) for _ in range(SESSIONS)]
        self.choices = [w for w, _ in WAITS]
        self.weights = [n for _, n in WAITS]

    def _connect(self, at: float) -> dict[str, object]:
        self.next_pid += 1
        r = self.random
        who = r.randrange(len(USERS))
        return {
            "pid": self.next_pid,
            "start": round(at - r.random() * 600, 3),
            "until": at + r.expovariate(1 / 1800),
            "user": USERS[who],
            "application": APPLICATIONS[who],
            "client": f"10.0.{who}.{r.randrange(2, 250)}",
            "memory": round(0.05 + r.random() * 0.3, 2),
            "query": 0,
            "query_start": at,
            "query_end": at,
            "xact_start": at,
        }

    def tick(self, at: float) -> Tick:
        r = self.random
        sessions = []
        for index, slot in enumerate(self.slots):
            if at >= slot["until"]:  # type: ignore[operator]
                slot = self.slots[index] = self._connect(at)
            if at >= slot["query_end"]:  # type: ignore[operator]
                slot["query"] = r.randrange(len(QUERIES))
                slot["query_start"] = round(at - r.random(), 3)
                slot["query_end"] = at + r.expovariate(1 / 3)
                if r.random() < 0.5:
                    slot["xact_start"] = slot["query_start"]
            state, wait_type, wait_event = r.choices(self.choices, self.weights)[0]
            blocked_by = None
            locks: tuple[SampledLock, ...] = ()
            if wait_type == "Lock":
                holder = self.slots[(index + 1) % SESSIONS]
                blocked_by = (int(holder["pid"]),)  # type: ignore[call-overload]
            busy = state == "active" and wait_type is None
            sessions.append(
                SessionSample(
                    pid=int(slot["pid"]),  # type: ignore[call-overload]
                    backend_start=float(slot["start"]),  # type: ignore[arg-type]
                    user=str(slot["user"]),
                    database="shop",
                    application=str(slot["application"]),
                    client=str(slot["client"]),
                    backend_type="client backend",
                    state=state,
                    wait_event_type=wait_type,
                    wait_event=wait_event,
                    query=QUERIES[int(slot["query"])],  # type: ignore[call-overload]
                    query_start=float(slot["query_start"]),  # type: ignore[arg-type]
                    xact_start=float(slot["xact_start"]),  # type: ignore[arg-type]
                    leader_pid=None,
                    blocked_by=blocked_by,
                    cpu=round(r.uniform(40, 100) if busy else r.uniform(0, 15), 1),
                    memory=float(slot["memory"]),  # type: ignore[arg-type]
                    read_rate=r.lognormvariate(12, 2) if wait_type == "IO" else 0.0,
                    write_rate=r.lognormvariate(10, 2) if r.random() < 0.2 else 0.0,
                    iowait=wait_type == "IO" and r.random() < 0.5,
                    locks=locks,
                )
            )
        return Tick(at, tuple(sessions))


# ---------------------------------------------------------------- footprint


@dataclass
class Footprint:
    samples: int
    file_bytes: int
    sessions_bytes: int
    counts_bytes: int
    rollup_bytes: int
    naive_bytes: int
    record_ms: float


def _blob_bytes(conn: sqlite3.Connection, prefix: str, column: str) -> int:
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", (prefix + "%",)
    ).fetchall()
    return sum(
        conn.execute(f"SELECT coalesce(sum(length({column})), 0) FROM {name}").fetchone()[0]
        for (name,) in names
    )


def naive_bytes(ticks: list[Tick], path: Path) -> int:
    """The same samples as one SQLite row each, texts in dictionaries, nothing compressed."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT UNIQUE);
        CREATE TABLE samples (at REAL, pid INT, backend_start REAL, user INT, database INT,
            application INT, client INT, state INT, wait_event_type INT, wait_event INT,
            query INT, query_start REAL, xact_start REAL, blocked_by TEXT, cpu REAL,
            memory REAL, read_rate REAL, write_rate REAL, iowait INT);
        CREATE INDEX samples_at ON samples (at);
        """
    )
    ids: dict[str | None, int | None] = {None: None}

    def text(value: str | None) -> int | None:
        if value not in ids:
            ids[value] = conn.execute("INSERT INTO texts (text) VALUES (?)", (value,)).lastrowid
        return ids[value]

    for t in ticks:
        conn.executemany(
            "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    t.at,
                    s.pid,
                    s.backend_start,
                    text(s.user),
                    text(s.database),
                    text(s.application),
                    text(s.client),
                    text(s.state),
                    text(s.wait_event_type),
                    text(s.wait_event),
                    text(s.query),
                    s.query_start,
                    s.xact_start,
                    orjson.dumps(s.blocked_by).decode() if s.blocked_by else None,
                    s.cpu,
                    s.memory,
                    s.read_rate,
                    s.write_rate,
                    int(bool(s.iowait)),
                )
                for s in t.sessions
            ],
        )
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    return path.stat().st_size


def footprint(root: Path) -> Footprint:
    start = float(int(time.time() // HOUR * HOUR) - 2 * HOUR)
    workload = Workload(start)
    ticks = [workload.tick(start + i) for i in range(HOUR)]
    store = SQLiteStore(root / "footprint.sqlite3", 1.0)
    store.open_for_writing()
    started = time.process_time()
    for t in ticks:
        store.record(t, None)
    record_ms = (time.process_time() - started) / len(ticks) * 1000
    store.close()  # writes the last minute as a block and checkpoints the WAL into the file
    conn = sqlite3.connect(root / "footprint.sqlite3")
    conn.execute("VACUUM")  # the pending rows' pages, freed at each minute, are not data
    found = Footprint(
        samples=sum(len(t.sessions) for t in ticks),
        file_bytes=(root / "footprint.sqlite3").stat().st_size,
        sessions_bytes=_blob_bytes(conn, "raw_", "sessions"),
        counts_bytes=_blob_bytes(conn, "raw_", "counts"),
        rollup_bytes=_blob_bytes(conn, "rollup_", "minutes"),
        naive_bytes=naive_bytes(ticks, root / "naive.sqlite3"),
        record_ms=record_ms,
    )
    conn.close()
    return found


# ---------------------------------------------------------------- a week, fast


def _shift_sessions(blob: bytes, seconds: int) -> bytes:
    data = orjson.loads(zlib.decompress(blob))
    data["base"] += seconds * 1000  # every time in a block is relative to its base
    return zlib.compress(orjson.dumps(data), 6)


def _shift_counts(blob: bytes, seconds: int) -> bytes:
    data = orjson.loads(zlib.decompress(blob))
    data["t"] = [t + seconds * 1000 for t in data["t"]]
    return zlib.compress(orjson.dumps(data), 6)


def _shift_minutes(blob: bytes, seconds: int) -> bytes:
    data = orjson.loads(zlib.decompress(blob))
    for minute in data:
        minute[0] += seconds
    return zlib.compress(orjson.dumps(data), 6)


def write_week(path: Path, end: float) -> float:
    """A week of the workload ending at `end` (an hour boundary): one day generated and
    written as blocks, then laid out six more times with its times shifted. Seconds taken."""
    started = time.perf_counter()
    first_day = end - 7 * DAY
    store = SQLiteStore(path, 1.0)
    store.open_for_writing()
    workload = Workload(first_day)
    for minute in range(DAY // 60):
        at = first_day + minute * 60
        store.write_block([workload.tick(at + s) for s in range(60)])
    store.close()
    conn = sqlite3.connect(path)
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    raw = [int(name[4:]) for (name,) in tables if name.startswith("raw_")]
    rollups = {
        int(name[7:]): conn.execute(f"SELECT hour, dimension, minutes FROM {name}").fetchall()
        for (name,) in tables
        if name.startswith("rollup_")
    }
    with conn:
        for day in range(1, 7):
            shift = day * DAY
            for hour in raw:
                conn.execute(
                    f"CREATE TABLE raw_{hour + shift} (minute INTEGER PRIMARY KEY, first REAL "
                    "NOT NULL, last REAL NOT NULL, sessions BLOB NOT NULL, counts BLOB NOT NULL)"
                )
                rows = conn.execute(f"SELECT * FROM raw_{hour}").fetchall()
                conn.executemany(
                    f"INSERT INTO raw_{hour + shift} VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            m + shift,
                            f + shift,
                            la + shift,
                            _shift_sessions(s, shift),
                            _shift_counts(c, shift),
                        )
                        for m, f, la, s, c in rows
                    ],
                )
            for table, hours in rollups.items():
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS rollup_{table + shift} (hour INTEGER NOT NULL, "
                    "dimension TEXT NOT NULL, minutes BLOB NOT NULL, PRIMARY KEY (hour, dimension))"
                )
                conn.executemany(
                    f"INSERT INTO rollup_{table + shift} VALUES (?, ?, ?)",
                    [(h + shift, d, _shift_minutes(b, shift)) for h, d, b in hours],
                )
    conn.close()
    return time.perf_counter() - started


# ---------------------------------------------------------------- reads over HTTP


def _get(agent: Pgwarden, path: str) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers={"X-Session": agent.token})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    return elapsed, len(body)


def _median_ms(agent: Pgwarden, paths: list[str]) -> tuple[float, float, int]:
    _get(agent, paths[0])  # warm the reader's connection and the page cache
    timings = [_get(agent, p) for p in paths]
    seconds = [t for t, _ in timings]
    return statistics.median(seconds) * 1000, max(seconds) * 1000, timings[0][1]


def reads(cluster: Cluster, root: Path) -> tuple[list[tuple[str, float, float, int, str]], str]:
    end = float(int(time.time() // HOUR * HOUR))
    week = root / "week.sqlite3"
    took = write_week(week, end)
    size = week.stat().st_size
    note = (
        f"week: {7 * DAY * SESSIONS:,} session-samples written in {took:.0f} s, "
        f"{size / 2**20:.0f} MiB ({size / (7 * DAY * SESSIONS):.2f} B per session-sample)"
    )
    agent = Pgwarden.start(
        cluster, root / "reader", f'[history]\nenabled = false\npath = "{week}"\n'
    )
    rng = random.Random(7)
    try:
        at = [end - 7 * DAY + 60 + rng.random() * (7 * DAY - 120) for _ in range(20)]
        hours = [end - rng.randrange(1, 6 * 24) * HOUR for _ in range(10)]
        results = []
        for what, goal, paths in (
            ("snapshot at T", "< 50 ms", [f"/history/snapshot?at={t:.3f}" for t in at]),
            ("load 1 h @ 1 s", "< 200 ms",
             [f"/history/load?from={h - HOUR:.0f}&to={h:.0f}&step=1" for h in hours]),
            ("load 24 h @ 60 s", "< 300 ms",
             [f"/history/load?from={h - DAY:.0f}&to={h:.0f}&step=60" for h in hours]),
            ("top by wait, 7 days", "< 1 s",
             [f"/history/top?from={end - 7 * DAY:.0f}&to={end:.0f}"] * 5),
            ("top by query, 7 days", "< 1 s",
             [f"/history/top?from={end - 7 * DAY:.0f}&to={end:.0f}&by=query"] * 5),
        ):  # fmt: skip
            median, worst, body = _median_ms(agent, paths)
            results.append((what, median, worst, body, goal))
    finally:
        agent.stop()
    return results, note


# ---------------------------------------------------------------- cost


@contextlib.contextmanager
def crowd(cluster: Cluster, idle: int, active: int) -> Iterator[None]:
    """idle + active client backends; the active ones sleep in a query (state active)."""
    conns: list[psycopg.Connection] = []
    try:
        for _ in range(idle):
            conn = psycopg.connect(cluster.conninfo(), autocommit=True, application_name="idle")
            conn.execute("SELECT 1")
            conns.append(conn)
        for _ in range(active):
            conn = psycopg.connect(cluster.conninfo(), autocommit=True, application_name="busy")
            conn.pgconn.send_query(b"SELECT pg_sleep(100000)")
            conns.append(conn)
        yield
    finally:
        with cluster.connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name IN ('idle', 'busy')"
            )
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def cost(cluster: Cluster, root: Path, seconds: int) -> list[tuple[str, float]]:
    """CPU % of one core of two agents over the same seconds, history on and off."""
    on = Pgwarden.start(cluster, root / "on")
    off = Pgwarden.start(cluster, root / "off", "[history]\nenabled = false\n")
    try:
        time.sleep(5)  # start-up done, a few ticks recorded
        agents = {"history on": on, "history off": off}
        before = {name: processes.tree_cpu(a.pid) for name, a in agents.items()}
        time.sleep(seconds)
        used = {name: processes.tree_cpu_since(before[name], a.pid) for name, a in agents.items()}
    finally:
        on.stop()
        off.stop()
    return [(name, ns / 1e9 / seconds * 100) for name, ns in used.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="footprint,cost,reads")
    parser.add_argument("--cost-seconds", type=int, default=60)
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    load_before = os.getloadavg()[0]
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load_before:.2f}")
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-history-") as folder:
        root = Path(folder)
        if "footprint" in parts:
            f = footprint(root)
            print("footprint: an hour of 50 active sessions, 10 queries, 1 s interval")
            print("| layout | bytes | per session-sample | goal |")
            print("|---|---|---|---|")
            per = f.file_bytes / f.samples
            print(f"| pgwarden file | {f.file_bytes:,} | {per:.2f} B | <= 20 B |")
            for name, size in (("sessions blocks", f.sessions_bytes),
                               ("per-tick counts", f.counts_bytes),
                               ("minute rollups", f.rollup_bytes)):  # fmt: skip
                print(f"|   of which {name} | {size:,} | {size / f.samples:.2f} B | |")
            print(f"| one SQLite row per session-sample | {f.naive_bytes:,} | "
                  f"{f.naive_bytes / f.samples:.2f} B | (DESIGN: about 60) |")  # fmt: skip
            print("| pg_ash (quoted, keeps no pid, no blocker) | | 7.6 B | |")
            print(f"\nrecorder CPU per tick (50 sessions, write path): {f.record_ms:.2f} ms")
        if "cost" in parts or "reads" in parts:
            cluster = create_cluster(
                prefix="pgwarden-bench-history-", settings={"max_connections": "500"}
            )
            try:
                if "reads" in parts:
                    results, note = reads(cluster, root)
                    print(f"\nreads over HTTP on a full week ({note})")
                    print("| read | median | worst | body | goal |")
                    print("|---|---|---|---|---|")
                    for what, median, worst, body, goal in results:
                        print(
                            f"| {what} | {median:.1f} ms | {worst:.1f} ms | {body:,} B | {goal} |"
                        )
                if "cost" in parts:
                    with crowd(cluster, idle=350, active=50):
                        found = cost(cluster, root, args.cost_seconds)
                    print(f"\nrecording cost: 400 client backends, 50 active, no client polling, "
                          f"{args.cost_seconds} s")  # fmt: skip
                    print("| agent | CPU, % of one core |")
                    print("|---|---|")
                    for name, pct in found:
                        print(f"| {name} | {pct:.2f} % |")
                    print(
                        f"| added by recording | {found[0][1] - found[1][1]:.2f} % (goal <= 1 %) |"
                    )
            finally:
                cluster.stop()
                cluster.remove()
    print(f"\nload average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
