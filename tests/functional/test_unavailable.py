"""PostgreSQL stopped: 503 JSON within connect_timeout; back: served again, no restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgwarden.cluster import Cluster, create_cluster
from tests.helpers import Agent, running_agent, wait_until


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    cluster = create_cluster(prefix="pgwarden-down-")
    yield cluster
    cluster.stop()
    cluster.remove()


@pytest.fixture
def own_agent(own_cluster: Cluster, tmp_path: Path) -> Iterator[Agent]:
    with running_agent(own_cluster, tmp_path) as agent:
        yield agent


def test_stopped_postgresql_gives_503_and_the_agent_recovers(
    own_cluster: Cluster, own_agent: Agent
) -> None:
    with own_agent.session_client() as client:
        assert client.get("/activity").status_code == 200
        own_cluster.stop()
        for path in ("/activity", "/activity/waiting", "/activity/blocking"):
            started = time.monotonic()
            response = client.get(path)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.json()["error"].startswith("PostgreSQL is unavailable: ")
            assert elapsed < 3 + 1  # connect_timeout is 3 in the test configuration
        kill = client.post("/activity/kill", json={"pids": [12345]})
        assert kill.status_code == 503
        assert client.get("/status").status_code == 200
        own_cluster.start()
        wait_until(
            lambda: client.get("/activity").status_code == 200,
            timeout=10,
            what="the agent to recover",
        )
        assert client.get("/activity/blocking").status_code == 200
    assert own_agent.process.poll() is None


def test_agent_starts_while_postgresql_is_down(own_cluster: Cluster, tmp_path: Path) -> None:
    own_cluster.stop()
    with running_agent(own_cluster, tmp_path) as agent, agent.session_client() as client:
        assert client.get("/activity").status_code == 503
        own_cluster.start()
        wait_until(
            lambda: client.get("/activity").status_code == 200, timeout=10, what="the first answer"
        )
