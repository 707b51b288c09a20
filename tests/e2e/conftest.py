"""One headless Chromium per module; each test starts from a fresh, logged-out page."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.browser import Page, chromium
from tests.helpers import Agent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture
def page(driver: WebDriver, agent: Agent, request: pytest.FixtureRequest) -> Iterator[Page]:
    opened = Page(driver, f"{agent.url}/")
    opened.open_fresh()
    yield opened
    if request.node.stash.get(CALL_FAILED, False):  # what the page showed when the test failed
        opened.screenshot(f"failed-{request.node.name}")
