"""The real temBoard UI 7.11 on pgwarden, driven in headless Chromium as its users drive it.

One throwaway cluster is both the UI's repository and the cluster pgwarden watches. pgwarden
is registered through the UI's own routes (the ones its "add instance" form calls, /discover
included), the browser logs in to the UI and, through it, to the agent, then uses the
Activity page: running rows appear and keep refreshing while connections come and go,
Waiting and Blocking show a staged lock, and Terminate ends a backend, in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from pgwarden import tls
from pgwarden.cluster import Cluster, create_cluster
from tests.e2e.browser import ARTIFACTS, chromium
from tests.e2e.temboard_ui import ADMIN, ADMIN_PASSWORD, NoPython311, TemboardUI, running_ui, venv
from tests.helpers import ADMIN_PASSWORD as AGENT_PASSWORD
from tests.helpers import BackgroundSession, start_agent, wait_until


@dataclass
class Setup:
    cluster: Cluster
    ui: TemboardUI
    driver: WebDriver
    agent_port: int
    audit: Path

    def server(self, path: str) -> str:
        return f"{self.ui.url}/server/127.0.0.1/{self.agent_port}{path}"

    def session(self, application: str, dbname: str = "postgres") -> BackgroundSession:
        return BackgroundSession(self.cluster, application, dbname)

    def end(self, *sessions: BackgroundSession) -> None:
        """Terminate their backends first: a statement still running would hold close()."""
        with self.cluster.connect() as conn:
            for session in sessions:
                conn.execute("SELECT pg_terminate_backend(%s)", [session.pid])
        for session in sessions:
            session.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    try:
        ui_venv = venv()
    except NoPython311 as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("temboard-ui")
    cluster = create_cluster(prefix="pgwarden-temboard-ui-")
    try:
        cert, key = tls.write_self_signed(work / "agent-tls")
        env = {"PGWARDEN_SERVER_TLS_CERT": str(cert), "PGWARDEN_SERVER_TLS_KEY": str(key)}
        agent = start_agent(cluster, work / "agent", env=env, https_ca=cert)
        try:
            with (
                running_ui(ui_venv, cluster, work / "ui", agent_ca=cert) as ui,
                chromium(work / "chromium", trust_any_certificate=True) as driver,
            ):
                port = int(agent.url.rsplit(":", 1)[1])
                yield Setup(cluster, ui, driver, port, agent.workdir / "audit.jsonl")
        finally:
            agent.stop()
    finally:
        cluster.stop()
        cluster.remove()


# ---------------------------------------------------------------- the page, as a user sees it


def submit_login(driver: WebDriver, url: str, username: str, password: str) -> None:
    form: list[WebElement] = []
    for _ in range(3):  # as open_page: the UI answers its error page when a proxied call times out
        driver.get(url)
        form = driver.find_elements(By.ID, "inputUsername")
        if form:
            break
    if not form:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"no login form at {driver.current_url}: {body[:2000]}")
    form[0].send_keys(username)
    driver.find_element(By.ID, "inputPassword").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def open_page(driver: WebDriver, url: str) -> None:
    """Open an Activity page; its inline script defines `xsession` once it is really there."""
    for _ in range(3):  # the UI answers its error page when a proxied call times out
        driver.get(url)
        if driver.execute_script("return typeof xsession !== 'undefined';"):
            return
    body = driver.find_element(By.TAG_NAME, "body").text
    raise AssertionError(f"no Activity page at {driver.current_url}: {body[:2000]}")


def table_pids(driver: WebDriver) -> set[int] | None:
    """The pids the Activity table shows now (None while it is being redrawn)."""
    try:
        cells = driver.find_elements(By.CSS_SELECTOR, "#tableActivity tbody tr td:nth-child(2)")
        return {int(cell.text) for cell in cells if cell.text.strip().isdigit()}
    except StaleElementReferenceException:
        return None


def shown(driver: WebDriver, pid: int, listed: bool) -> Callable[[], bool]:
    """A probe: the table, as redrawn by the page's own refresh, lists pid (or no longer)."""

    def probe() -> bool:
        pids = table_pids(driver)
        return pids is not None and (pid in pids) == listed

    return probe


def row_text(driver: WebDriver, pid: int) -> str | None:
    for row in driver.find_elements(By.CSS_SELECTOR, "#tableActivity tbody tr"):
        try:
            cells = row.find_elements(By.TAG_NAME, "td")
            if len(cells) > 1 and cells[1].text.strip() == str(pid):
                return str(row.text)
        except StaleElementReferenceException:
            return None
    return None


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    logged: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry for entry in logged if entry["level"] == "SEVERE"]


def screenshot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"temboard-{name}.png"))


# ---------------------------------------------------------------- the test, step by step


def test_registering_pgwarden_through_the_ui(setup: Setup) -> None:
    with setup.ui.client() as client:
        assert client.post("/json/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        # An instance group the default user group may see (Settings > Instance groups).
        group = client.post(
            "/json/settings/group/instance",
            json={
                "new_group_name": "pgwarden",
                "description": "Instances watched by pgwarden",
                "user_groups": ["default"],
            },
        )
        assert group.status_code == 200, group.text
        # What the settings page's "add instance" form does: discover, then save.
        found = client.get(
            f"/json/discover/instance/127.0.0.1/{setup.agent_port}",
            headers={"X-TemBoard-Agent-Key": ""},
        )
        assert found.status_code == 200, found.text
        facts = found.json()
        assert facts["plugins"] == ["activity"]
        assert facts["pg_port"] == setup.cluster.port
        saved = client.post(
            "/json/settings/instance",
            json={
                "new_agent_address": "127.0.0.1",
                "new_agent_port": str(setup.agent_port),
                "agent_key": "",
                "groups": ["pgwarden"],
                "plugins": facts["plugins"],
                "notify": False,
                "comment": "pgwarden",
                **{
                    key: facts[key]
                    for key in (
                        "hostname",
                        "cpu",
                        "memory_size",
                        "pg_data",
                        "pg_port",
                        "pg_version",
                        "pg_version_summary",
                    )
                },
            },
        )
        assert saved.status_code == 200, saved.text
        listed = client.get(f"/json/settings/instance/127.0.0.1/{setup.agent_port}").json()
    assert listed["pg_version"] == facts["pg_version"]
    assert listed["enabled_plugins"] == ["activity"]


def test_logging_in_to_the_ui_and_to_the_agent(setup: Setup) -> None:
    driver = setup.driver
    submit_login(driver, f"{setup.ui.url}/login", ADMIN, ADMIN_PASSWORD)
    wait_until(lambda: "/login" not in driver.current_url, what="the UI login")
    submit_login(driver, setup.server("/login"), "admin", AGENT_PASSWORD)
    wait_until(lambda: "/login" not in driver.current_url, what="the agent login")
    open_page(driver, setup.server("/activity/running"))
    xsession = driver.execute_script("return xsession;")
    assert isinstance(xsession, str) and len(xsession) == 64, xsession


def test_running_rows_keep_refreshing_while_connections_come_and_go(setup: Setup) -> None:
    driver = setup.driver
    open_page(driver, setup.server("/activity/running"))
    driver.get_log("browser")  # type: ignore[no-untyped-call]  # from here on only
    previous: BackgroundSession | None = None
    seen: list[int] = []
    try:
        for round_ in range(4):
            # A new backend every round: read for the first time by the agent on that poll.
            newcomer = setup.session(f"churn-{round_}")
            newcomer.submit("SELECT pg_sleep(60)")
            wait_until(
                shown(driver, newcomer.pid, True),
                timeout=20,
                what=f"backend {newcomer.pid} in the Running table",
            )
            seen.append(newcomer.pid)
            if previous is not None:
                setup.end(previous)
                wait_until(
                    shown(driver, previous.pid, False),
                    timeout=20,
                    what=f"closed backend {previous.pid} to leave the table",
                )
            previous = newcomer
        text = row_text(driver, seen[-1])
        screenshot(driver, "running")
    finally:
        if previous is not None:
            setup.end(previous)
    assert text is not None and "pg_sleep(60)" in text, text
    assert console_errors(driver) == []


def test_waiting_and_blocking_show_a_staged_lock(setup: Setup) -> None:
    driver = setup.driver
    with setup.cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ui_locked")
        conn.execute("CREATE TABLE ui_locked (id integer)")
        conn.execute("INSERT INTO ui_locked SELECT generate_series(1, 5)")
    holder = setup.session("ui-holder")
    updater = setup.session("ui-updater")
    try:
        holder.run("BEGIN")
        holder.run("LOCK TABLE ui_locked IN EXCLUSIVE MODE")
        queued = updater.submit("UPDATE ui_locked SET id = id + 1")
        open_page(driver, setup.server("/activity/waiting"))
        driver.get_log("browser")  # type: ignore[no-untyped-call]
        waiting = wait_until(lambda: row_text(driver, updater.pid), what="the waiting UPDATE")
        screenshot(driver, "waiting")
        open_page(driver, setup.server("/activity/blocking"))
        blocking = wait_until(lambda: row_text(driver, holder.pid), what="the blocking LOCK")
        badge = driver.find_element(By.ID, "waiting-count").text
        screenshot(driver, "blocking")
        holder.run("ROLLBACK")
        queued.result(timeout=30)
    finally:
        setup.end(holder, updater)
    assert "RowExclusiveLock" in waiting and "public.ui_locked" in waiting, waiting
    assert "ExclusiveLock" in blocking and "idle in" in blocking, blocking
    assert badge == "1"
    assert console_errors(driver) == []


def test_terminate_from_the_page_ends_the_backend_and_is_audited(setup: Setup) -> None:
    driver = setup.driver
    victim = setup.session("ui-victim")
    running = victim.submit("SELECT pg_sleep(60)")
    try:
        open_page(driver, setup.server("/activity/running"))
        driver.get_log("browser")  # type: ignore[no-untyped-call]
        wait_until(lambda: row_text(driver, victim.pid), what="the victim's row")
        table = driver.find_element(By.ID, "tableActivity")
        ActionChains(driver).move_to_element(table).perform()  # the page pauses its refresh
        box = driver.find_element(By.CSS_SELECTOR, f'input[data-pid="{victim.pid}"]')
        wait_until(lambda: box.is_enabled(), what="the row's checkbox to be enabled")
        box.click()
        driver.find_element(By.ID, "killButton").click()
        confirm = wait_until(
            lambda: next(iter(driver.find_elements(By.ID, "submitKill")), None),
            what="the confirmation",
        )
        wait_until(confirm.is_displayed, what="the confirmation to show")
        confirm.click()
        with pytest.raises(Exception, match="terminating connection"):
            running.result(timeout=30)
    finally:
        setup.end(victim)
    with setup.cluster.connect() as conn:
        left = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [victim.pid])
        assert left.fetchone() == (0,)
    entries = [json.loads(line) for line in setup.audit.read_text().splitlines()]
    results = [e for e in entries if e.get("event") == "result" and e.get("pid") == victim.pid]
    assert [(e["action"], e["result"]) for e in results] == [("terminate", True)], entries
    assert console_errors(driver) == []
