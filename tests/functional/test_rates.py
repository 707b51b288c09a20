"""Rates from real backends: one writing a steady 10 MiB/s, one burning a full core.

/proc/<pid>/io write_bytes counts pages a process dirties in the page cache of a real
filesystem (not tmpfs), so `COPY ... TO 'file'` of 1 MiB ten times a second, paced by the
server's clock, is a steady 10 MiB/s for the backend that runs it: each COPY truncates the
file, so its pages are dirtied afresh.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from pgwarden import proc
from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, row_of, wait_until

# Paced by target times, so a late wake-up is caught up and the average stays 10 MiB/s.
WRITE_10_MIB_PER_S = """
DO $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    FOR i IN 1..600 LOOP
        EXECUTE format('COPY (SELECT repeat(''x'', 1048575)) TO %L',
                       current_setting('pgwarden_test.rate_file'));
        PERFORM pg_sleep(greatest(0, extract(epoch FROM
            started + i * interval '100 ms' - clock_timestamp())));
    END LOOP;
END $$
"""
BURN_A_CORE = """
DO $$
BEGIN
    WHILE clock_timestamp() < statement_timestamp() + interval '60 s' LOOP
    END LOOP;
END $$
"""
MIB = 1024 * 1024
SAMPLES = 5


def mebibytes(human: str) -> float:
    """ "10.00M" as 10.0; the agent's units are powers of 1024."""
    powers = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
    return float(human[:-1]) * float(1024 ** powers[human[-1]]) / MIB


def sample(
    client: httpx.Client, pid: int, figure: Callable[[dict[str, Any]], float | None]
) -> list[float]:
    """SAMPLES polls one second apart, once the backend shows a rate at all."""
    wait_until(
        lambda: (row := row_of(client, pid)) is not None and figure(row) is not None,
        what=f"a rate for pid {pid}",
    )
    values = []
    for _ in range(SAMPLES):
        time.sleep(1.0)
        row = row_of(client, pid)
        assert row is not None, f"pid {pid} left the activity list"
        value = figure(row)
        assert value is not None, row
        values.append(value)
    return values


def test_a_backend_writing_10_mib_per_second_shows_about_10m(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    writer = sessions.open("rate-writer")
    idle = sessions.open("rate-idle")
    idle.run("SELECT 1")
    writer.run("SELECT set_config('pgwarden_test.rate_file', %s, false)", [str(cluster.root / "w")])
    running = writer.submit(WRITE_10_MIB_PER_S)
    with agent.session_client() as client:
        written = sample(client, writer.pid, lambda r: r["write_s"] and mebibytes(r["write_s"]))
        idle_row = row_of(client, idle.pid)
    assert not running.done(), running.exception()
    assert 7.0 <= statistics.median(written) <= 13.0, written
    assert idle_row is not None
    assert idle_row["write_s"] == "0.00B"


def test_a_backend_burning_a_core_shows_about_100_percent(agent: Agent, sessions: Sessions) -> None:
    burner = sessions.open("rate-burner")
    idle = sessions.open("rate-idle")
    idle.run("SELECT 1")
    running = burner.submit(BURN_A_CORE)
    with agent.session_client() as client:
        wait_until(lambda: row_of(client, burner.pid), what="the burning backend")
        before = proc.read_process(burner.pid)
        shown = sample(client, burner.pid, lambda r: r["cpu"])
        after = proc.read_process(burner.pid)
        idle_row = row_of(client, idle.pid)
    assert not running.done(), running.exception()
    assert before is not None and after is not None
    # What the backend really had over the same seconds: a full core (100) on a quiet
    # machine, less when other suites load its two cores (nice does not help across
    # sessions); the agent must show that, not a nominal 100.
    had = (after.cpu_ticks - before.cpu_ticks) * 100 / proc.CLOCK_TICKS
    had /= after.taken_at - before.taken_at
    assert had >= 20.0, f"the burner got only {had:.0f}% of a core: the machine is too busy"
    assert abs(statistics.mean(shown) - had) <= 12.0, (shown, had)
    assert max(shown) <= 105.0, shown
    assert idle_row is not None
    assert idle_row["cpu"] is not None and idle_row["cpu"] < 5.0, idle_row
