"""The History tab's requests on a full week: what the page asks for each range, over HTTP.

    python -m bench.history_page

A week of 50 active sessions (bench.history's generator) read by a real agent. For each range
of the tab, the chart's /history/load at the agent's default step beside the step the page asks
(web/js/history/model.js, run under node so the paths are the page's own), the four top lists
the page asks with it, and the floor: GET /status on the same agent. Medians of 5 runs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from bench.agents import Pgwarden
from bench.history import _get, write_week
from pgwarden.cluster import create_cluster
from pgwarden.history.store import HOUR

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "pgwarden" / "web" / "js" / "history" / "model.js"
RUNS = 5

# The page's paths for every range ending at `end` (argv[1], Unix seconds), as JSON.
PAGE_PATHS = """
const model = await import(process.argv[2]);
const end = Number(process.argv[1]);
const out = model.RANGES.map((range) => {
  const span = model.rangeWindow(range.id, end * 1000);
  return {
    range: range.label,
    step: model.stepFor(span),
    load: model.loadPath(span),
    agent_default: model.loadPath(span).replace(/&step=\\d+/, ""),
    tops: model.TOPS.map((top) => model.topPath(span, top.by)),
  };
});
console.log(JSON.stringify(out));
"""


class PagePaths(TypedDict):
    range: str
    step: int | None
    load: str
    agent_default: str
    tops: list[str]


def page_paths(end: float) -> list[PagePaths]:
    run = subprocess.run(
        ["node", "--input-type=module", "-e", PAGE_PATHS, str(int(end)), MODEL.as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    paths: list[PagePaths] = json.loads(run.stdout)
    return paths


def median_ms(agent: Pgwarden, path: str) -> tuple[float, int]:
    _get(agent, path)  # warm the reader and the page cache
    timings = [_get(agent, path) for _ in range(RUNS)]
    return statistics.median(t for t, _ in timings) * 1000, timings[0][1]


def tops_ms(agent: Pgwarden, paths: list[str]) -> float:
    """The four top lists, one after the other (the page sends them at once)."""
    for path in paths:
        _get(agent, path)
    runs = [sum(_get(agent, path)[0] for path in paths) for _ in range(RUNS)]
    return statistics.median(runs) * 1000


def main() -> int:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-history-page-") as folder:
        root = Path(folder)
        end = float(int(time.time() // HOUR * HOUR))
        week = root / "week.sqlite3"
        took = write_week(week, end)
        print(
            f"week written in {took:.0f} s, {week.stat().st_size / 2**20:.0f} MiB", file=sys.stderr
        )
        cluster = create_cluster(prefix="pgwarden-bench-history-page-")
        try:
            agent = Pgwarden.start(
                cluster, root / "reader", f'[history]\nenabled = false\npath = "{week}"\n'
            )
            try:
                floor, _ = median_ms(agent, "/status")
                print("History tab on a week of 50 active sessions: median of 5, over HTTP")
                print(
                    "| range | load, agent's step | load, page's step | 4 top lists | "
                    "floor (/status) |"
                )
                print("|---|---|---|---|---|")
                for item in page_paths(end):
                    default_ms, default_bytes = median_ms(agent, item["agent_default"])
                    page_ms, page_bytes = median_ms(agent, item["load"])
                    step = "agent's" if item["step"] is None else f"{item['step']} s"
                    print(
                        f"| {item['range']} | {default_ms:.1f} ms ({default_bytes:,} B) | "
                        f"{page_ms:.1f} ms ({page_bytes:,} B, step {step}) | "
                        f"{tops_ms(agent, item['tops']):.1f} ms | {floor:.2f} ms |"
                    )
            finally:
                agent.stop()
        finally:
            cluster.stop()
            cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
