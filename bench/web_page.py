"""How fast the activity page turns the API's answers into a table, as backends pile up.

A throwaway cluster with N open sessions (a tenth of them running pg_sleep), the agent, and
the page in headless Chromium refreshing every second. For each N it prints the page's own
figures (performance.measure): `render` is building the rows, sorting, filtering and painting
after the three answers arrived; `refresh` adds the three requests. `DOM rows` is how many
<tr> the virtual scroller keeps in the page.

    .venv/bin/python -m bench.web_page [--sessions 100 500 1000] [--samples 10]
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

from pgwarden.cluster import create_cluster

LATEST = """
const entry = (name) => performance.getEntriesByName(name)[0];
const render = entry('pgwarden:render'), refresh = entry('pgwarden:refresh');
return [document.getElementById('updated').dateTime, render && render.duration,
        refresh && refresh.duration, document.querySelectorAll('#grid-body tr[data-pid]').length];
"""


def open_sessions(
    conninfo: str, count: int, opened: list[psycopg.Connection], sleepers: list[threading.Thread]
) -> None:
    while len(opened) < count:
        conn = psycopg.connect(conninfo, autocommit=True, application_name=f"bench-{len(opened)}")
        if len(opened) % 10 == 0:
            sleeper = threading.Thread(target=_sleep, args=(conn,))
            sleeper.start()
            sleepers.append(sleeper)
        else:
            conn.execute("SELECT %s::int AS n, 'a query of some length to show'", [len(opened)])
        opened.append(conn)


def _sleep(conn: psycopg.Connection) -> None:
    with contextlib.suppress(psycopg.Error):  # cancelled at the end of the run
        conn.execute("SELECT pg_sleep(3600)")


def lists_at_least(page: Page, count: int) -> bool:
    return (page.count("running") or 0) >= count


def samples(page: Page, wanted: int) -> list[tuple[float, float, int]]:
    """(render ms, refresh ms, DOM rows) of `wanted` successive refreshes."""
    seen: set[str] = set()
    found: list[tuple[float, float, int]] = []
    deadline = time.monotonic() + 60 + wanted * 5
    while len(found) < wanted and time.monotonic() < deadline:
        latest = page.script(LATEST)
        assert isinstance(latest, list)
        stamp, render, refresh, rows = latest
        if stamp and stamp not in seen and render is not None:
            seen.add(stamp)
            found.append((float(render), float(refresh), int(rows)))
        time.sleep(0.2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    most = max(args.sessions)
    cluster = create_cluster(
        prefix="pgwarden-bench-web-", settings={"max_connections": str(most + 50)}
    )
    opened: list[psycopg.Connection] = []
    sleepers: list[threading.Thread] = []
    workdir = Path(tempfile.mkdtemp(prefix="pgwarden-bench-web-"))
    agent = start_agent(cluster, workdir / "agent")
    try:
        with chromium(workdir / "chromium") as driver:
            page = Page(driver, f"{agent.url}/")
            page.open_fresh()
            page.logged_in("admin", ADMIN_PASSWORD)
            page.set_interval("1")
            print(f"{'backends':>9} {'DOM rows':>9} {'render ms':>16} {'refresh ms':>16}")
            print(f"{'':>9} {'':>9} {'median':>8}{'max':>8} {'median':>8}{'max':>8}")
            for count in sorted(args.sessions):
                open_sessions(cluster.conninfo(), count, opened, sleepers)
                page.wait(functools.partial(lists_at_least, page, count), f"{count} rows")
                page.pointer_away()
                found = samples(page, args.samples)
                render = [r for r, _, _ in found]
                refresh = [f for _, f, _ in found]
                print(
                    f"{page.count('running'):>9} {max(d for _, _, d in found):>9} "
                    f"{statistics.median(render):>8.1f}{max(render):>8.1f} "
                    f"{statistics.median(refresh):>8.1f}{max(refresh):>8.1f}",
                    flush=True,
                )
    finally:
        for conn in opened:
            conn.cancel()
        for sleeper in sleepers:  # a connection is closed only once no thread runs on it
            sleeper.join()
        for conn in opened:
            conn.close()
        agent.stop()
        cluster.stop()
        cluster.remove()


if __name__ == "__main__":
    main()
