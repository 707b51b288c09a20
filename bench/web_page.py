"""How fast the activity page turns a snapshot into a painted table, as backends pile up.

A throwaway cluster, the agent, and the page in headless Chromium on the agent's stream (one
`snapshot` event per second). Two scenes: N open sessions (a tenth of them running pg_sleep)
on the Running tab; then a hot row (one session holds a row lock, W sessions update the same
row) on the Blocking tab. For each it prints the page's own figures (performance.measure):
`render` from the snapshot event to the table updated (parsing, the model, the forest,
sorting, filtering, the DOM); `painted` to the next frame after it. `DOM rows` is how many
<tr> the virtual scroller keeps; `via` how the snapshots came (stream, or poll).

    .venv/bin/python -m bench.web_page [--sessions 100 500 1000] [--waiters 200] [--samples 10]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from tests.e2e.browser import Page, chromium
from tests.helpers import ADMIN_PASSWORD, start_agent

from pgwarden.cluster import Cluster, create_cluster

LATEST = """
const entry = (name) => performance.getEntriesByName(name)[0];
const render = entry('pgwarden:render'), painted = entry('pgwarden:painted');
return [document.getElementById('updated').dateTime, render && render.duration,
        painted && painted.duration, painted && painted.detail.via,
        document.querySelectorAll('#grid-body tr[data-pid]').length];
"""


class Load:
    """Sessions opened for the bench, each statement that may block on a thread of its own."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.opened: list[psycopg.Connection] = []
        self.threads: list[threading.Thread] = []

    def connect(self, application: str) -> psycopg.Connection:
        conn = psycopg.connect(
            self.cluster.conninfo(), autocommit=True, application_name=application
        )
        self.opened.append(conn)
        return conn

    def in_background(self, conn: psycopg.Connection, query: str) -> None:
        def run() -> None:
            with contextlib.suppress(psycopg.Error):  # cancelled at the end of the run
                conn.execute(query)

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def idle_and_sleeping(self, count: int) -> None:
        while len(self.opened) < count:
            conn = self.connect(f"bench-{len(self.opened)}")
            if len(self.opened) % 10 == 1:
                self.in_background(conn, "SELECT pg_sleep(3600)")
            else:
                conn.execute(
                    "SELECT %s::int AS n, 'a query of some length to show'", [len(self.opened)]
                )

    def close(self) -> None:
        for conn in self.opened:
            conn.cancel()
        for thread in self.threads:  # a connection is closed only once no thread runs on it
            thread.join()
        for conn in self.opened:
            conn.close()


def lists_at_least(page: Page, count: int) -> bool:
    return (page.count("running") or 0) >= count


def blocks(page: Page, pid: int, waiters: int) -> bool:
    return page.cell(pid, "blocks") == str(waiters)


def samples(page: Page, wanted: int) -> list[tuple[float, float, str, int]]:
    """(render ms, painted ms, via, DOM rows) of `wanted` successive refreshes."""
    seen: set[str] = set()
    found: list[tuple[float, float, str, int]] = []
    deadline = time.monotonic() + 60 + wanted * 5
    while len(found) < wanted and time.monotonic() < deadline:
        latest = page.script(LATEST)
        assert isinstance(latest, list)
        stamp, render, painted, via, rows = latest
        if stamp and stamp not in seen and painted is not None:
            seen.add(stamp)
            found.append((float(render), float(painted), str(via), int(rows)))
        time.sleep(0.2)
    return found


def report(scene: str, found: list[tuple[float, float, str, int]]) -> None:
    render = [r for r, _, _, _ in found]
    painted = [p for _, p, _, _ in found]
    via = "/".join(sorted({v for _, _, v, _ in found}))
    print(
        f"{scene:<24} {max(d for *_, d in found):>8} {via:>7} "
        f"{statistics.median(render):>8.1f}{max(render):>8.1f} "
        f"{statistics.median(painted):>8.1f}{max(painted):>8.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    most = max([*args.sessions, args.waiters + 1])
    cluster = create_cluster(
        prefix="pgwarden-bench-web-", settings={"max_connections": str(most + 50)}
    )
    workdir = Path(tempfile.mkdtemp(prefix="pgwarden-bench-web-"))
    agent = start_agent(cluster, workdir / "agent")
    load = Load(cluster)
    try:
        with chromium(workdir / "chromium") as driver:
            page = Page(driver, f"{agent.url}/")
            page.open_fresh()
            page.logged_in("admin", ADMIN_PASSWORD)
            page.set_interval("1")
            print(f"{'scene':<24} {'DOM rows':>8} {'via':>7} {'render ms':>16} {'painted ms':>16}")
            print(f"{'':<24} {'':>8} {'':>7} {'median':>8}{'max':>8} {'median':>8}{'max':>8}")
            for count in sorted(args.sessions):
                load.idle_and_sleeping(count)
                page.wait(functools.partial(lists_at_least, page, count), f"{count} rows")
                page.pointer_away()
                report(f"{page.count('running')} backends, Running", samples(page, args.samples))
            load.close()  # the hot row on its own
            load = Load(cluster)
            hot_row(cluster, load, page, args.waiters, args.samples)
    finally:
        load.close()
        agent.stop()
        cluster.stop()
        cluster.remove()


def hot_row(cluster: Cluster, load: Load, page: Page, waiters: int, wanted: int) -> None:
    """One session holds a row lock, `waiters` sessions update the same row."""
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE bench_hot (id int PRIMARY KEY, n int)")
        conn.execute("INSERT INTO bench_hot VALUES (1, 0)")
    holder = load.connect("bench-hot-holder")
    holder.execute("BEGIN")
    holder.execute("UPDATE bench_hot SET n = n + 1 WHERE id = 1")
    for _ in range(waiters):
        load.in_background(load.connect("bench-hot"), "UPDATE bench_hot SET n = n + 1 WHERE id = 1")
    page.tab("blocking")
    page.wait(
        functools.partial(blocks, page, holder.info.backend_pid, waiters),
        f"{waiters} waiting",
        timeout=120,
    )
    page.pointer_away()
    report(f"{waiters} waiters, Blocking", samples(page, wanted))
    holder.execute("ROLLBACK")


if __name__ == "__main__":
    main()
