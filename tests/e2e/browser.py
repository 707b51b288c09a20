"""A real headless Chromium driven by Selenium, and the page's parts as the tests see them."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from tests.helpers import wait_until

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Headless, as root, and quiet: no network of its own beyond the page it is sent to.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,900",
]


@contextlib.contextmanager
def chromium(workdir: Path, trust_any_certificate: bool = False) -> Iterator[WebDriver]:
    """Chromium and chromedriver for a block; both stopped by their pids after it.

    `trust_any_certificate`: for a page served with a throwaway self-signed certificate.
    The console's messages can be read with `driver.get_log("browser")`.
    """
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is missing: run scripts/system-deps (as root)")
    workdir.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={workdir / 'profile'}"]:
        options.add_argument(flag)
    options.accept_insecure_certs = trust_any_certificate
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for Page.console_errors
    # A driver path given here keeps Selenium Manager (which downloads drivers) out of it.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    assert service.process is not None
    started = [psutil.Process(service.process.pid)]
    with contextlib.suppress(psutil.Error):
        started += started[0].children(recursive=True)
    try:
        driver.set_script_timeout(10)
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        _, alive = psutil.wait_procs(started, timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=10)


class Page:
    """The activity page in one browser tab."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        self.url = url

    # ---------------------------------------------------------------- plumbing

    def wait(
        self,
        probe: Callable[[], T | None],
        what: str,
        timeout: float = 20,
        explain: Callable[[], str] | None = None,
    ) -> T:
        """Poll a probe that reads the page; an element replaced meanwhile counts as not yet.
        On a timeout, `explain` says what the page showed instead."""

        def guarded() -> T | None:
            try:
                return probe()
            except (StaleElementReferenceException, NoSuchElementException):
                return None

        try:
            return wait_until(guarded, timeout=timeout, interval=0.1, what=what)
        except AssertionError as error:
            if explain is None:
                raise
            raise AssertionError(f"{error}; the page showed {explain()}") from None

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        found: str = self.find(css).get_attribute("textContent") or ""
        return found.strip()

    def visible(self, css: str) -> bool:
        return any(element.is_displayed() for element in self.all(css))

    def script(self, source: str, *args: object) -> object:
        return self.driver.execute_script(source, *args)

    def console_errors(self) -> list[str]:
        """The console's errors since the last call (a CSP violation is one), read once."""
        entries: list[dict[str, object]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return [str(entry["message"]) for entry in entries if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    # ---------------------------------------------------------------- the page

    def open_fresh(self) -> None:
        """The page with nothing remembered: no session, no preferences."""
        self.driver.get(f"{self.url}status")  # same origin, and no page script to write back
        self.script("sessionStorage.clear(); localStorage.clear();")
        self.driver.get(self.url)
        self.wait(lambda: self.visible("#login-form"), "the login form")

    def login(self, username: str, password: str) -> None:
        self.find("#login-username").clear()
        self.find("#login-username").send_keys(username)
        self.find("#login-password").send_keys(password)
        self.find("#login-submit").click()

    def logged_in(self, username: str, password: str) -> None:
        self.login(username, password)
        self.wait(lambda: self.visible("#app") and self.text("#updated") != "never", "first data")

    def session(self) -> str | None:
        token = self.script("return sessionStorage.getItem('pgwarden.session');")
        return token if isinstance(token, str) else None

    def tab(self, name: str) -> None:
        self.find(f"#tab-{name}").click()
        self.wait(lambda: self.find(f"#tab-{name}").get_attribute("aria-selected") == "true", name)

    def count(self, tab: str) -> int | None:
        value = self.text(f"#count-{tab}")
        return int(value) if value.isdigit() else None

    def row(self, pid: int) -> WebElement | None:
        found = self.all(f'#grid-body tr[data-pid="{pid}"]')
        return found[0] if found else None

    def rows(self, pid: int) -> list[WebElement]:
        return self.all(f'#grid-body tr[data-pid="{pid}"]')

    def cell(self, pid: int, column: str) -> str | None:
        row = self.row(pid)
        if row is None:
            return None
        td = row.find_element(By.CSS_SELECTOR, f'td[data-col="{column}"]')
        return (td.get_attribute("textContent") or "").strip()

    def wait_row(
        self, pid: int, what: str, until: Callable[[WebElement], bool] = lambda row: True
    ) -> WebElement:
        def probe() -> WebElement | None:
            row = self.row(pid)
            return row if row is not None and until(row) else None

        return self.wait(probe, what)

    def shown_pids(self) -> list[int]:
        pids = self.script(SHOWN_PIDS)
        assert isinstance(pids, list)
        return [int(pid) for pid in pids]

    def select(self, pid: int) -> None:
        self.wait_row(pid, f"row {pid}").find_element(By.CSS_SELECTOR, "input.select").click()

    def pointer_away(self) -> None:
        """Move the pointer off the table, as a user reaching for the toolbar does."""
        ActionChains(self.driver).move_to_element(self.find(".brand")).perform()

    def set_interval(self, seconds: str) -> None:
        Select(self.find("#interval")).select_by_value(seconds)

    def results(self) -> dict[int, str]:
        return {
            int(li.get_attribute("data-pid") or 0): (li.get_attribute("textContent") or "")
            for li in self.all("#results-list li")
        }


SHOWN_PIDS = (
    "return [...document.querySelectorAll('#grid-body tr[data-pid]')].map(r => r.dataset.pid);"
)
