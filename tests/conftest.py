"""A real PostgreSQL cluster for the whole run, started here and stopped by its pid."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden.cluster import Cluster, ClusterError, create_cluster
from tests.helpers import Agent, Sessions, start_agent

_cluster: Cluster | None = None
_major = 0
_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


def pytest_sessionstart(session: pytest.Session) -> None:
    global _cluster, _major
    try:
        _cluster = create_cluster(prefix="pgwarden-test-", settings={"max_connections": "500"})
        with _cluster.connect() as conn:  # warm-up: one clear failure, not hundreds
            conn.execute("SELECT 1")
            _major = conn.info.server_version // 10000
    except (ClusterError, psycopg.Error) as exc:
        if _cluster is not None:
            _cluster.stop()
            _cluster.remove()
        pytest.exit(f"cannot start the test PostgreSQL cluster: {exc}", returncode=3)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _cluster is not None:
        _cluster.stop()
        _cluster.remove()


def pytest_report_header(config: pytest.Config) -> str:
    if _cluster is None:
        return "PostgreSQL: not started"
    return f"PostgreSQL {_cluster.version()} from {_cluster.bindir}, port {_cluster.port}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.pg(">= 14")`: run only on a server of a matching major version."""
    for marker in item.iter_markers("pg"):
        comparison, _, version = str(marker.args[0]).partition(" ")
        if not _COMPARISONS[comparison](_major, int(version)):
            pytest.skip(f"needs PostgreSQL {marker.args[0]}, the test server is {_major}")


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    assert _cluster is not None
    return _cluster


@pytest.fixture(scope="session")
def agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The shared agent; tests that change its configuration start their own."""
    running = start_agent(cluster, tmp_path_factory.mktemp("agent"))
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
