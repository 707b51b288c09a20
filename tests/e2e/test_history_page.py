"""The History tab in a real headless Chromium: a lock wait the real agent recorded, replayed."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webelement import WebElement

from pgwarden.cluster import Cluster
from tests.e2e.browser import Page
from tests.helpers import ADMIN_PASSWORD, Agent, Sessions, start_agent, wait_until

# The Lock band's fill, #e03131 (at 80 % alpha, which getImageData keeps apart from the colour).
LOCK_FILL = (0xE0, 0x31, 0x31)
# Long enough for a click aimed at its middle to land inside it on a 1-hour chart: a pixel is
# about 2.6 s (Selenium's offsets are whole pixels from the plot's centre), and the sample
# shown is the one at or before the second clicked; 3.6 s early was seen.
HOLD_SECONDS = 10
# Chromium asks for it on the JSON page the fixture opens first (the page itself has one).
FIXTURE_ICON = "/favicon.ico - Failed to load resource"

# Pixels of the chart's canvas drawn in a colour close to the given one (the Lock band).
COLOURED_PIXELS = """
const [canvas, r, g, b] = arguments;
const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
const near = (value, wanted) => Math.abs(value - wanted) < 40;
for (let i = 0; i < data.length; i += 4) {
  if (data[i + 3] > 0 && near(data[i], r) && near(data[i + 1], g) && near(data[i + 2], b)) n += 1;
}
return n;
"""


@pytest.fixture(scope="module")
def agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """This module's agent records history, as by default (the shared one does not)."""
    running = start_agent(cluster, tmp_path_factory.mktemp("recording-agent"))
    yield running
    running.stop()


def chart_offset(page: Page, over: WebElement, at: float) -> int:
    """The x offset from the plot's centre (Selenium's origin) where the chart draws `at`."""
    holder = page.find("#history-chart")
    start = float(holder.get_attribute("data-from") or 0)
    end = float(holder.get_attribute("data-to") or 0)
    width = float(over.rect["width"])
    return round((at - start) / (end - start) * width - width / 2)


def history_state(page: Page) -> str:
    """What the History panel and the banner say, and what the chart spans, for a failure."""
    chart = page.find("#history-chart")
    spans = {name: chart.get_attribute(f"data-{name}") for name in ("from", "to", "gaps")}
    return (
        f"message {page.text('#history-message')!r}, banner {page.text('#history-banner-text')!r}"
        f" (visible: {page.visible('#history-banner')}), chart {spans}, rows {page.shown_pids()}"
    )


def open_history(page: Page, wanted_key: str) -> WebElement:
    page.tab("history")
    page.wait(
        lambda: (
            page.find("#panel-history").get_attribute("aria-busy") == "false"
            and wanted_key in (page.find("#history-chart").get_attribute("data-keys") or "")
        ),
        f"the chart with {wanted_key} load",
    )
    return page.wait(lambda: page.find("#history-chart .u-over"), "the chart's plot area")


def test_a_recorded_lock_wait_is_replayed_in_the_history_tab(
    page: Page, sessions: Sessions, cluster: Cluster, agent: Agent
) -> None:
    table = f"e2e_history_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} (id int)")
    holder = sessions.open(f"e2e-history-holder-{uuid.uuid4().hex[:6]}")
    waiter_app = f"e2e-history-waiter-{uuid.uuid4().hex[:6]}"
    waiter = sessions.open(waiter_app)
    holder.run("BEGIN")
    holder.run(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    waited = waiter.submit(f"SELECT count(*) FROM {table}")
    with agent.session_client() as client:  # the agent sees the wait before the clock runs
        wait_until(
            lambda: any(
                r["pid"] == waiter.pid for r in client.get("/activity/waiting").json()["rows"]
            ),
            what="the waiter in /activity/waiting",
        )
    # From here to the release the waiter surely waits: a loaded machine may start its query
    # seconds after submit(), so times are taken from when the agent saw it.
    seen = time.time()
    time.sleep(HOLD_SECONDS)
    middle = (seen + time.time()) / 2
    holder.run("COMMIT")
    waited.result(timeout=10)
    time.sleep(2)  # a few samples after the release

    page.logged_in("admin", ADMIN_PASSWORD)
    over = open_history(page, "Lock")
    canvas = page.find("#history-chart canvas")
    lock_pixels = page.script(COLOURED_PIXELS, canvas, *LOCK_FILL)
    assert isinstance(lock_pixels, int) and lock_pixels > 0, "no Lock band drawn"

    # A click where nothing was recorded says so, and stays live.
    earlier_errors: list[str] = []
    early = float(page.find("#history-chart").get_attribute("data-from") or 0) + 30
    with agent.session_client() as client:
        before_history = client.get("/history/snapshot", params={"at": early})
    if before_history.status_code == 404:  # this agent has recorded for less than an hour
        ActionChains(page.driver).move_to_element_with_offset(
            over, chart_offset(page, over, early), 0
        ).click().perform()
        # The agent's own sentence (the second clicked is within a pixel of `early`).
        why = before_history.json()["error"].split(": ", 1)[1]
        page.wait(lambda: page.text("#history-message").endswith(f": {why}"), why)
        assert page.text("#history-message").startswith("No sample at or before ")
        # The browser logs that 404 as an error; it is the one expected, the rest are kept.
        errors = page.console_errors()
        answered = [e for e in errors if "/history/snapshot?at=" in e]
        assert len(answered) == 1 and "404" in answered[0], answered
        earlier_errors = [e for e in errors if e not in answered]
        assert not page.visible("#history-banner")

    # A click at the middle of the wait: the sessions as they were then, under the banner.
    ActionChains(page.driver).move_to_element_with_offset(
        over, chart_offset(page, over, middle), 0
    ).click().perform()
    page.wait(lambda: page.visible("#history-banner"), "the History banner")
    banner = page.text("#history-banner-text")
    assert banner.startswith("History: as at "), banner
    page.tab("blocking")
    page.wait(
        lambda: set(page.shown_pids()) >= {holder.pid, waiter.pid},
        f"the tree as it was at {middle:.1f} (the wait: {seen:.1f} to {middle * 2 - seen:.1f})",
        explain=lambda: history_state(page),
    )
    assert page.cell(holder.pid, "state") == "idle in transaction"
    assert (page.cell(waiter.pid, "pid") or "").startswith("└")
    assert "root" in (page.wait_row(holder.pid, "the holder").get_attribute("class") or "")
    assert not page.all("#grid-body input.select, #grid-body button[data-action]")  # no acting
    page.screenshot("web-history-blocking")
    page.tab("waiting")
    page.wait(lambda: waiter.pid in page.shown_pids(), "the waiter as it was")
    assert page.cell(waiter.pid, "blockedBy") == str(holder.pid)
    assert page.visible("#history-banner")  # still history, whatever the tab

    # A drag over a window around it: the top lists of that window.
    over = open_history(page, "Lock")
    until = float(page.find("#history-chart").get_attribute("data-to") or 0) - 1
    start, end = chart_offset(page, over, middle - 30), chart_offset(page, over, until)
    ActionChains(page.driver).move_to_element_with_offset(
        over, start, 0
    ).click_and_hold().move_by_offset(end - start, 0).release().perform()

    def top(by: str) -> list[str]:
        return [td.text for td in page.all(f'#history-tops section[data-by="{by}"] td.top-key')]

    page.wait(
        lambda: (
            page.text("#history-tops-title").startswith("Top of ")
            and "last" not in page.text("#history-tops-title")
        ),
        "the window's tops",
    )
    page.wait(lambda: waiter_app in top("application"), "the waiter's application in the tops")
    assert any(key.startswith("Lock") for key in top("wait_event")), top("wait_event")
    assert f"SELECT count(*) FROM {table}" in top("query")
    assert waiter.conn.info.user in top("user"), top("user")
    page.screenshot("web-history")

    # Zoomed to that window, second by second: a click lands on the second it is given.
    before = page.find("#history-chart").get_attribute("data-from")
    page.find("#history-zoom").click()
    page.wait(lambda: page.find("#history-chart").get_attribute("data-from") != before, "zoomed")
    over = open_history(page, "Lock")
    assert page.find("#history-chart").get_attribute("data-step") == "1"
    ActionChains(page.driver).move_to_element_with_offset(
        over, chart_offset(page, over, middle), 0
    ).click().perform()
    # The sample at or before the second clicked: within the interval and a pixel of it.
    near = {time.strftime("%H:%M:%S", time.localtime(middle + d)) for d in (-2, -1, 0, 1)}
    page.wait(
        lambda: page.text("#history-banner-text").removeprefix("History: as at ") in near, str(near)
    )
    page.screenshot("web-history-zoomed")

    # A second typed in the "as at" field, to the second.
    typed = int(seen + 2)
    page.script(
        "document.getElementById('history-at').value = arguments[0];"
        "document.getElementById('history-show').click();",
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(typed)),
    )
    near = {time.strftime("%H:%M:%S", time.localtime(typed + d)) for d in (-1, 0)}
    page.wait(
        lambda: page.text("#history-banner-text").removeprefix("History: as at ") in near, str(near)
    )
    page.tab("waiting")
    page.wait(lambda: page.shown_pids() == [waiter.pid], "the waiter at the second typed")

    page.find("#history-live").click()
    page.wait(lambda: not page.visible("#history-banner"), "back to live")
    errors = earlier_errors + page.console_errors()
    assert [e for e in errors if FIXTURE_ICON not in e] == []


# Pixels of one column of the plot, at `fraction` of its width, drawn near the given colour, or
# drawn at all (not see-through: the gap's shade and the grid lines are) when it is null.
COLUMN_PIXELS = """
const [canvas, over, fraction, colour] = arguments;
const c = canvas.getBoundingClientRect();
const o = over.getBoundingClientRect();
const scale = canvas.width / c.width;
const x = Math.round((o.left - c.left + fraction * o.width) * scale);
const top = Math.round((o.top - c.top) * scale);
const height = Math.round(o.height * scale) + 2; // and the bottom edge, where a zero is drawn
const data = canvas.getContext("2d").getImageData(x, top, 1, height).data;
const near = (i, wanted) => [0, 1, 2].every((k) => Math.abs(data[i + k] - wanted[k]) < 40);
let n = 0;
for (let i = 0; i < data.length; i += 4) {
  if (data[i + 3] >= 100 && (colour === null || near(i, colour))) n += 1;
}
return n;
"""


def test_the_time_the_agent_was_down_is_drawn_as_a_gap_not_as_zero_load(
    driver: WebDriver, sessions: Sessions, cluster: Cluster, tmp_path: Path
) -> None:
    table = f"e2e_gap_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {table} (id int)")
    holder, waiter = sessions.open("e2e-gap-holder"), sessions.open("e2e-gap-waiter")
    holder.run("BEGIN")
    holder.run(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    waited = waiter.submit(f"SELECT count(*) FROM {table}")  # a Lock load of 1 throughout
    workdir = tmp_path / "agent"
    agent = start_agent(cluster, workdir)
    try:
        with agent.session_client() as client:
            wait_until(lambda: recorded_wait(client, waiter.pid), what="the wait recorded")
        time.sleep(3)
        agent.process.send_signal(signal.SIGKILL)  # no goodbye: the store learns of it on restart
        killed = time.time()
        agent.process.wait()
        time.sleep(6)
    finally:
        agent.stop()
    agent = start_agent(cluster, workdir)  # the same history file, beside the same config
    try:
        with agent.session_client() as client:
            restarted = time.time()
            wait_until(lambda: recorded_wait(client, waiter.pid, after=restarted), what="again")
        time.sleep(3)
        page = Page(driver, f"{agent.url}/")
        page.open_fresh()
        page.logged_in("admin", ADMIN_PASSWORD)
        over = open_history(page, "Lock")
        start = chart_offset(page, over, killed - 10)
        end = chart_offset(
            page, over, float(page.find("#history-chart").get_attribute("data-to") or 0) - 1
        )
        ActionChains(page.driver).move_to_element_with_offset(
            over, start, 0
        ).click_and_hold().move_by_offset(end - start, 0).release().perform()
        page.wait(
            lambda: page.visible("#history-zoom"),
            f"the window picked, {killed - 10:.1f} to the end, offsets {start} to {end}",
            explain=lambda: history_state(page),
        )
        before = page.find("#history-chart").get_attribute("data-from")
        page.find("#history-zoom").click()
        page.wait(
            lambda: page.find("#history-chart").get_attribute("data-from") != before, "zoomed"
        )
        over = open_history(page, "Lock")
        holder_element = page.find("#history-chart")
        (gap,) = json.loads(holder_element.get_attribute("data-gaps") or "[]")
        assert gap[0] <= killed + 1.5 and gap[1] >= killed + 6, (gap, killed)
        shown_from = float(holder_element.get_attribute("data-from") or 0)
        shown_to = float(holder_element.get_attribute("data-to") or 0)

        def drawn_at(t: float, colour: tuple[int, int, int] | None) -> int:
            fraction = (t - shown_from) / (shown_to - shown_from)
            canvas = page.find("#history-chart canvas")
            found = page.script(COLUMN_PIXELS, canvas, over, fraction, colour)
            assert isinstance(found, int)
            return found

        page.screenshot("web-history-gap")
        assert drawn_at(killed - 2, LOCK_FILL) > 0, "the load before the kill"
        assert drawn_at((gap[0] + gap[1]) / 2, None) == 0, "the down time drawn, as zero or more"
        assert drawn_at(gap[1] + 1.5, LOCK_FILL) > 0, "the load after the restart"

        # A click in the gap: the agent's sentence, and still live.
        ActionChains(page.driver).move_to_element_with_offset(
            over, chart_offset(page, over, (gap[0] + gap[1]) / 2), 0
        ).click().perform()
        page.wait(
            lambda: "not sampling from" in page.text("#history-message"), "the gap's sentence"
        )
        assert "agent not running" in page.text("#history-message")
        assert page.visible("#history-banner")  # the window picked before is still shown
    finally:
        holder.run("COMMIT")
        waited.result(timeout=10)
        agent.stop()


def recorded_wait(client: httpx.Client, pid: int, after: float = 0.0) -> bool:
    """Whether the agent's latest sample, taken after `after`, has `pid` waiting."""
    answer = client.get("/history/waiting", params={"at": f"{time.time():.3f}"})
    if answer.status_code != 200:
        return False
    body = answer.json()
    taken = datetime.fromisoformat(body["sampled_at"]).timestamp()
    return taken > after and any(row["pid"] == pid for row in body["rows"])
