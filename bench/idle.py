"""What an agent costs while nobody asks it anything: CPU and wake-ups of an idle process.

    .venv/bin/python -m bench.idle [--seconds 60] [--no-peer]

pgwarden, the peer (temboard-agent 9.0.1) and the floor (bench/floor.py, which only waits on
its stdin) are started against one cluster, polled once each so every one has connected,
then left alone for --seconds. For each: CPU of its process tree (schedstat, all threads),
and its voluntary context switches (each one a wake-up after a sleep), per second. Prints
a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import processes
from bench.agents import Floor, Party, Peer, Pgwarden
from bench.run import machine
from pgwarden.cluster import create_cluster


def wake_ups(pid: int) -> int:
    """Voluntary context switches of every live thread of pid and its children."""
    total = 0
    for member in processes.tree(pid):
        for path in glob.glob(f"/proc/{member}/task/*/status"):
            with contextlib.suppress(OSError), open(path) as status:
                for line in status:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
    return total


def measure(parties: list[Party], seconds: float) -> dict[str, tuple[float, float]]:
    """(CPU ms per second, wake-ups per second) of each party over the same `seconds`."""
    cpu_before = {p.name: processes.tree_cpu(p.pid) for p in parties}
    wakes_before = {p.name: wake_ups(p.pid) for p in parties}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {
        p.name: (
            processes.tree_cpu_since(cpu_before[p.name], p.pid) / 1e6 / elapsed,
            (wake_ups(p.pid) - wakes_before[p.name]) / elapsed,
        )
        for p in parties
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-peer", action="store_true", help="measure pgwarden and the floor")
    parser.add_argument("--root", type=Path, default=Path("/tmp/pgwarden-bench"))
    args = parser.parse_args(argv)

    args.root.mkdir(parents=True, exist_ok=True)
    os.chmod(args.root, 0o755)  # noqa: S103 - the peer's OS user reads its venv here
    started_at = datetime.now(UTC)
    cluster = create_cluster(prefix="pgwarden-bench-idle-")
    parties: list[Party] = []
    try:
        parties.append(Floor.start(cluster))
        parties.append(Pgwarden.start(cluster, cluster.root / "pgwarden"))
        if not args.no_peer:
            parties.append(Peer.start(cluster, cluster.root / "peer", args.root))
        for party in parties:
            party.poll()
        time.sleep(6)  # past uvicorn's 5 s keep-alive: the poll's connection is closed
        print(f"idle for {args.seconds:.0f} s", file=sys.stderr)
        found = measure(parties, args.seconds)
    finally:
        for party in reversed(parties):
            party.stop()
        cluster.stop()
        cluster.remove()

    print(f"{started_at:%Y-%m-%d %H:%M} UTC on {machine()}; idle for {args.seconds:.0f} s")
    print()
    print("| party | CPU ms per s | % of one core | wake-ups per s |")
    print("|---|---:|---:|---:|")
    for name, (cpu_ms, wakes) in found.items():
        print(f"| {name} | {cpu_ms:.3f} | {cpu_ms / 10:.3f} | {wakes:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
