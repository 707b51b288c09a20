"""One run on one machine: pgwarden, the peer and the floor on the same cluster and load.

    .venv/bin/python -m bench.run [--backends 1,100,400,1000] [--polls 20] [--wrk-seconds 10]

For each number of idle client backends, every party is polled every 2 s, as the temBoard
page polls, each at its own offset within the 2 s so they never overlap: latency (median,
p95), CPU per poll of the party's processes (all threads and children, from schedstat) and
of its PostgreSQL backends. Then wrk drives 8 concurrent connections at each agent for
--wrk-seconds, and the agent's resident memory is read. Prints Markdown tables.

As root (as CI runs), the cluster and the peer run as the `postgres` OS user; pgwarden and
the floor run as root, as the tests run the agent. Needs `wrk` (installed when missing, as
root) and `openssl`; installs temboard-agent 9.0.1 into --root/peer-venv on first use.
Every process started here is stopped by its pid, on success or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import processes
from bench.agents import Floor, Party, Peer, Pgwarden
from pgwarden.cluster import Cluster, create_cluster

POLL_PERIOD = 2.0
WRK_CONNECTIONS = 8


@dataclass
class Measure:
    party: str
    backends: int
    rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    process_cpu_ms: float = 0.0
    backend_cpu_ms: float = 0.0
    requests_per_s: float | None = None
    wrk_errors: str = ""
    rss_mb: float | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]  # nearest rank

    @property
    def cpu_ms(self) -> float:
        return self.process_cpu_ms + self.backend_cpu_ms


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install wrk (or run as root)")
    print("installing wrk (Debian package)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("wrk") or "wrk"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}), {memory:.0f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def backend_pids(admin: psycopg.Connection, application_name: str) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
    ).fetchall()
    return [pid for (pid,) in rows]


def open_idle(cluster: Cluster, idle: list[psycopg.Connection], count: int) -> None:
    """Grow the crowd of idle client backends (each ran one query) to count."""
    while len(idle) < count:
        conn = psycopg.connect(cluster.conninfo(), autocommit=True, application_name="bench-idle")
        conn.execute("SELECT 1")
        idle.append(conn)


def poll_all(parties: list[Party], backends: int, polls: int, warmup: int) -> list[Measure]:
    """Poll each party every POLL_PERIOD, each at its own offset; CPU over the measured polls."""
    measures = [Measure(p.name, backends) for p in parties]
    offset = POLL_PERIOD / len(parties)
    process_cpu: list[dict[int, processes.CpuReading]] = [{} for _ in parties]
    backend_cpu: list[int] = [0] * len(parties)
    watched: list[list[int]] = [[] for _ in parties]
    start = time.monotonic()
    for tick in range(warmup + polls):
        if tick == warmup:
            for i, party in enumerate(parties):
                watched[i] = party_backends(party)
                process_cpu[i] = processes.tree_cpu(party.pid)
                backend_cpu[i] = sum(processes.cpu_ns(pid) for pid in watched[i])
        for i, party in enumerate(parties):
            delay = start + tick * POLL_PERIOD + i * offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            poll = party.poll()
            if tick >= warmup:
                measures[i].latencies_ms.append(poll.seconds * 1000)
                measures[i].rows = poll.rows
    time.sleep(max(0.0, start + (warmup + polls) * POLL_PERIOD - time.monotonic()))
    for i, party in enumerate(parties):
        measures[i].process_cpu_ms = processes.tree_cpu_since(process_cpu[i], party.pid) / 1e6
        measures[i].process_cpu_ms /= polls
        now = sum(processes.cpu_ns(pid) for pid in watched[i])
        measures[i].backend_cpu_ms = (now - backend_cpu[i]) / 1e6 / polls
    return measures


_admin: psycopg.Connection | None = None


def party_backends(party: Party) -> list[int]:
    if isinstance(party, Floor):
        return [party.backend_pid]
    assert _admin is not None
    return backend_pids(_admin, party.application_name)


def run_wrk(wrk: str, party: Party, seconds: int) -> tuple[float, str]:
    """Requests/s from WRK_CONNECTIONS connections, and any errors wrk counted."""
    argv = [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "20s"]
    for name, value in party.wrk_headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*argv, party.wrk_url], capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = [
        line.strip() for line in out.splitlines() if "errors" in line.lower() or "Non-2xx" in line
    ]
    return (float(rate.group(1)) if rate else 0.0), "; ".join(errors)


def table(measures: list[Measure]) -> str:
    lines = [
        "| backends | party | rows | median ms | p95 ms | CPU ms/poll: process | + its PG backends"
        " | = total | req/s, 8 conns | RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measures:
        rps = "-" if m.requests_per_s is None else f"{m.requests_per_s:.0f}"
        if m.wrk_errors:
            rps += f" ({m.wrk_errors})"
        rss = "-" if m.rss_mb is None else f"{m.rss_mb:.0f}"
        lines.append(
            f"| {m.backends} | {m.party} | {m.rows or '-'} | {m.median_ms:.2f} | {m.p95_ms:.2f}"
            f" | {m.process_cpu_ms:.2f} | {m.backend_cpu_ms:.2f} | {m.cpu_ms:.2f} | {rps} | {rss} |"
        )
    return "\n".join(lines)


def ratios(measures: list[Measure]) -> str:
    by = {(m.party, m.backends): m for m in measures}
    lines = [
        "| backends | latency pgwarden / floor | CPU pgwarden / floor | latency peer / pgwarden"
        " | CPU peer / floor | pgwarden CPU µs per backend |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({m.backends for m in measures}):
        ours, floor, peer = (
            by.get(("pgwarden", n)),
            by.get(("floor", n)),
            by.get(("temboard-agent", n)),
        )
        if ours is None or floor is None:
            continue
        peer_latency = f"{peer.median_ms / ours.median_ms:.1f}" if peer else "-"
        peer_cpu = f"{peer.cpu_ms / floor.cpu_ms:.2f}" if peer else "-"
        lines.append(
            f"| {n} | {ours.median_ms / floor.median_ms:.2f} | {ours.cpu_ms / floor.cpu_ms:.2f}"
            f" | {peer_latency} | {peer_cpu} | {ours.cpu_ms * 1000 / max(n, 1):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="1,100,400,1000")
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--no-peer", action="store_true", help="measure pgwarden and the floor")
    parser.add_argument("--root", type=Path, default=Path("/tmp/pgwarden-bench"))
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.backends.split(",")]

    global _admin
    wrk = ensure_wrk()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    args.root.mkdir(parents=True, exist_ok=True)
    os.chmod(args.root, 0o755)  # noqa: S103 - the peer's OS user reads its venv here
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    cluster = create_cluster(
        prefix="pgwarden-bench-",
        settings={"max_connections": str(max(sizes) + 100), "shared_buffers": "128MB"},
    )
    parties: list[Party] = []
    idle: list[psycopg.Connection] = []
    measures: list[Measure] = []
    try:
        _admin = cluster.connect(application_name="bench-admin")
        parties.append(Floor.start(cluster))
        parties.append(Pgwarden.start(cluster, cluster.root / "pgwarden"))
        if not args.no_peer:
            parties.append(Peer.start(cluster, cluster.root / "peer", args.root))
        for n in sizes:
            open_idle(cluster, idle, n)
            print(f"{n} idle backends: polling every {POLL_PERIOD} s", file=sys.stderr)
            found = poll_all(parties, n, args.polls, args.warmup)
            for party, m in zip(parties, found, strict=True):
                if party.wrk_url:
                    m.requests_per_s, m.wrk_errors = run_wrk(wrk, party, args.wrk_seconds)
                    m.rss_mb = sum(map(processes.rss_bytes, processes.tree(party.pid))) / 2**20
                print(f"  {m.party}: median {m.median_ms:.2f} ms", file=sys.stderr)
            measures.extend(found)
    finally:
        for conn in idle:
            conn.close()
        if _admin is not None:
            _admin.close()
        for party in reversed(parties):
            party.stop()
        cluster.stop()
        cluster.remove()

    header = (
        f"{started_at:%Y-%m-%d %H:%M} UTC on {machine()}; PostgreSQL "
        f"{cluster.bindir.parent.name}; {args.polls} polls every {POLL_PERIOD:.0f} s per cell, "
        f"wrk {args.wrk_seconds} s; load average {load_before[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(header)
    print()
    print(table(measures))
    print()
    print(ratios(measures))
    if args.json:
        args.json.write_bytes(
            orjson.dumps(
                {"header": header, "measures": [_as_json(m) for m in measures]},
                option=orjson.OPT_INDENT_2,
            )
        )
    return 0


def _as_json(m: Measure) -> dict[str, Any]:
    return {**asdict(m), "median_ms": m.median_ms, "p95_ms": m.p95_ms, "cpu_ms": m.cpu_ms}


if __name__ == "__main__":
    sys.exit(main())
