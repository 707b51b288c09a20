"""A real PostgreSQL cluster for the run, started when a test first needs it, stopped by its pid."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden.cluster import Cluster, ClusterError, create_cluster
from tests.helpers import Agent, Sessions, start_agent

_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_started: list[str] = []  # the session's cluster, described once a test has asked for it


def pytest_report_header(config: pytest.Config) -> str:
    return "PostgreSQL: started when a test first needs one (tests/unit never does)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for description in _started:
        terminalreporter.write_line(description)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The run's PostgreSQL cluster, started on first use and stopped at the end."""
    started: Cluster | None = None
    try:
        started = create_cluster(prefix="pgwarden-test-", settings={"max_connections": "500"})
        with started.connect() as conn:  # warm-up: one clear failure, not hundreds
            conn.execute("SELECT 1")
    except (ClusterError, psycopg.Error) as exc:
        if started is not None:
            started.stop()
            started.remove()
        pytest.exit(f"cannot start the test PostgreSQL cluster: {exc}", returncode=3)
    _started.append(f"PostgreSQL {started.version()} from {started.bindir}, port {started.port}")
    yield started
    started.stop()
    started.remove()


@pytest.fixture(scope="session")
def server_major(cluster: Cluster) -> int:
    with cluster.connect() as conn:
        return conn.info.server_version // 10000


@pytest.fixture(autouse=True)
def _pg_version_marker(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.pg(">= 14")`: run only on a server of a matching major version."""
    for marker in request.node.iter_markers("pg"):
        major: int = request.getfixturevalue("server_major")
        comparison, _, version = str(marker.args[0]).partition(" ")
        if not _COMPARISONS[comparison](major, int(version)):
            pytest.skip(f"needs PostgreSQL {marker.args[0]}, the test server is {major}")


@pytest.fixture(scope="session")
def agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The shared agent; tests that change its configuration start their own.

    It records no history: a recorder sampling every second for the whole session would
    hold links and lock waits of its own on the shared cluster, which tests that count the
    cluster's backends or pgwarden's lock waiters would see. History tests start their own.
    """
    running = start_agent(
        cluster, tmp_path_factory.mktemp("agent"), env={"PGWARDEN_HISTORY_ENABLED": "false"}
    )
    yield running
    running.stop()


@pytest.fixture
def sessions(cluster: Cluster) -> Iterator[Sessions]:
    opened = Sessions(cluster)
    yield opened
    opened.close_all()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
