"""The floor: what one fresh snapshot cannot cost less than, in plain Python.

One `SELECT * FROM pg_stat_activity` round trip, then `/proc/<pid>/stat` and
`/proc/<pid>/io` of every backend read with bare os.read: no parsing, no rates, no HTTP.
Run as a process of its own so its CPU can be measured like an agent's:

    python -m bench.floor CONNINFO

It prints its backend pid, then answers each "snap" line on stdin with the nanoseconds
that snapshot took, until "quit" or end of input.
"""

from __future__ import annotations

import os
import sys
import time

import psycopg


def read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def snapshot(conn: psycopg.Connection) -> int:
    """Take one snapshot; the number of backends read."""
    rows = conn.execute("SELECT * FROM pg_stat_activity").fetchall()
    for row in rows:
        pid = row[2]  # datid, datname, pid, ...
        try:
            read_file(f"/proc/{pid}/stat")
            read_file(f"/proc/{pid}/io")
        except OSError:
            pass  # a backend that exited since the query
    return len(rows)


def main(argv: list[str]) -> int:
    with psycopg.connect(argv[1], autocommit=True, application_name="bench-floor") as conn:
        print(conn.info.backend_pid, flush=True)
        for line in sys.stdin:
            if line.strip() != "snap":
                break
            started = time.perf_counter_ns()
            snapshot(conn)
            print(time.perf_counter_ns() - started, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
