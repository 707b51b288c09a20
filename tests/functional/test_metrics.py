"""GET /metrics from a real agent on a real cluster, read with prometheus-client's parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pgwarden.cluster import Cluster, free_port
from tests.helpers import Agent, Sessions, running_agent, wait_until

TOKEN = "metrics-token-for-the-tests-0123456789"
METRICS_ON = f'[metrics]\nenabled = true\ntoken = "{TOKEN}"\n'
DATABASE = "metrics_db"
SECRET = "metrics-secret-marker"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), -1.0)


def scrape(agent: Agent, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with agent.client() as client:
        return client.get("/metrics", headers=headers)


def samples_of(agent: Agent) -> Samples:
    response = scrape(agent)
    assert response.status_code == 200, response.text
    return parse(response.text)


@pytest.fixture(scope="module")
def metrics_agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    with cluster.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    with running_agent(cluster, tmp_path_factory.mktemp("metrics"), METRICS_ON) as agent:
        yield agent


def test_metrics_describe_the_cluster(metrics_agent: Agent, sessions: Sessions) -> None:
    setup = sessions.open("metrics-setup", dbname=DATABASE)
    setup.run("CREATE TABLE IF NOT EXISTS guarded (id int)")
    sleeper = sessions.open("metrics-sleeper", dbname=DATABASE)
    sleeper.submit(f"SELECT pg_sleep(60) /* {SECRET} */")
    # Idle in a repeatable-read transaction: it keeps its snapshot, so backend_xmin stays set.
    idler = sessions.open("metrics-idler", dbname=DATABASE)
    idler.run("BEGIN ISOLATION LEVEL REPEATABLE READ")
    idler.run("SELECT 1")
    holder = sessions.open("metrics-holder", dbname=DATABASE)
    holder.run("BEGIN")
    holder.run("LOCK TABLE guarded IN ACCESS EXCLUSIVE MODE")
    waiter = sessions.open("metrics-waiter", dbname=DATABASE)
    waiter.submit("SELECT count(*) FROM guarded")
    for _ in range(5):
        setup.run("SELECT txid_current()")  # xids go by: the idler's xmin ages

    def described() -> Samples | None:
        samples = samples_of(metrics_agent)
        ready = (
            value(samples, "pgwarden_backends", database=DATABASE, state="active") >= 2
            and value(samples, "pgwarden_backends_waiting") >= 1
            and value(samples, "pgwarden_longest_query_seconds") >= 1.0
            and value(samples, "pgwarden_longest_idle_in_transaction_seconds") >= 1.0
        )
        return samples if ready else None

    samples = wait_until(described, timeout=30, interval=0.3, what="metrics of the staged load")
    on_db = {
        labels: v
        for (name, labels), v in samples.items()
        if name == "pgwarden_backends" and ("database", DATABASE) in labels
    }
    # sleeper and waiter run; idler and holder sit in transactions; setup is idle.
    assert on_db[(("database", DATABASE), ("state", "active"))] == 2
    assert on_db[(("database", DATABASE), ("state", "idle in transaction"))] == 2
    assert on_db[(("database", DATABASE), ("state", "idle"))] == 1
    assert sum(on_db.values()) == 5
    assert value(samples, "pgwarden_backends_blocking") >= 1
    assert value(samples, "pgwarden_postgresql_up") == 1
    assert value(samples, "pgwarden_oldest_backend_xmin_age") >= 5
    # The idler's transaction began before its last query: never shorter than its idle time.
    assert value(samples, "pgwarden_longest_transaction_seconds") >= value(
        samples, "pgwarden_longest_idle_in_transaction_seconds"
    )
    text = scrape(metrics_agent).text
    for private in (SECRET, "pg_sleep", "metrics-sleeper", "guarded"):
        assert private not in text


def test_the_agents_own_sampling_is_counted(metrics_agent: Agent) -> None:
    first = samples_of(metrics_agent)
    second = samples_of(metrics_agent)
    taken = "pgwarden_sampler_snapshots_total"
    assert value(second, taken) >= value(first, taken) + 1
    assert value(second, "pgwarden_sampler_last_duration_seconds") > 0
    assert value(second, "pgwarden_sampler_errors_total") == 0


def test_the_token_is_required_and_checked(metrics_agent: Agent) -> None:
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        response = scrape(metrics_agent, token)
        assert response.status_code == 401, token
        assert response.json() == {"error": "Invalid metrics token."}
        assert response.headers["www-authenticate"] == "Bearer"
    with metrics_agent.client() as client:
        basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        session = client.get("/metrics", headers={"X-Session": metrics_agent.login()})
    assert basic.status_code == 401
    assert session.status_code == 401
    good = scrape(metrics_agent)
    assert good.status_code == 200
    assert good.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert good.headers["server"].startswith("pgwarden/")


def test_metrics_are_off_by_default(agent: Agent) -> None:
    response = scrape(agent)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
    with agent.client() as client:
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_postgresql_down_is_a_metric_not_an_error(cluster: Cluster, tmp_path: Path) -> None:
    nowhere = {"PGWARDEN_POSTGRESQL_PORT": str(free_port())}
    with running_agent(cluster, tmp_path, "[metrics]\nenabled = true\n", env=nowhere) as agent:
        first = scrape(agent, token=None)  # enabled without a token: open
        assert first.status_code == 200, first.text
        second = parse(scrape(agent, token=None).text)
    samples = parse(first.text)
    assert value(samples, "pgwarden_postgresql_up") == 0
    assert value(samples, "pgwarden_sampler_errors_total") >= 1
    assert value(second, "pgwarden_sampler_errors_total") > value(
        samples, "pgwarden_sampler_errors_total"
    )
    assert value(samples, "pgwarden_sampler_snapshots_total") == 0
    assert not any(name == "pgwarden_backends" for name, _ in samples)
