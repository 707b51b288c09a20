"""POST /activity/kill: real terminations, the guards, the seed's 406 messages."""

from __future__ import annotations

import json
import os

import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, poll_row, row_of, wait_until


def own_pids(cluster: Cluster) -> list[int]:
    with cluster.connect() as conn:
        return [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden'"
            )
        ]


@pytest.mark.parametrize("path", ["/activity/kill", "/activity/activity/kill"])
def test_kill_terminates_a_running_pg_sleep(agent: Agent, sessions: Sessions, path: str) -> None:
    victim = sessions.open("victim")
    result = victim.submit("SELECT pg_sleep(60)")
    with agent.session_client() as client:
        poll_row(client, victim.pid, until=lambda r: r["state"] == "active", what="the sleeper")
        response = client.post(path, json={"pids": [victim.pid]})
        assert response.status_code == 200
        assert response.json() == {
            "backends": [{"pid": victim.pid, "killed": True, "reason": None}]
        }
        wait_until(lambda: row_of(client, victim.pid) is None, what="the victim to go")
    with pytest.raises(Exception, match="terminat"):
        result.result(timeout=10)


def test_only_client_backends_of_this_cluster_are_killed(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    bystander = sessions.open("bystander")
    bystander.run("SELECT 1")
    gone = sessions.open("gone")
    gone_pid = gone.pid
    gone.close()
    with cluster.connect() as conn:
        checkpointer = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        ).fetchone()
    assert checkpointer is not None
    with agent.session_client() as client:
        client.get("/activity")
        wait_until(lambda: row_of(client, gone_pid) is None, what="the closed session to end")
        agents = own_pids(cluster)
        refused = [
            cluster.postmaster_pid,
            1,
            os.getpid(),
            gone_pid,
            checkpointer[0],
            *agents,
            0,
            -5,
            2**31,
            10**17,
            -(10**17),
        ]
        response = client.post("/activity/kill", json={"pids": refused})
        assert response.status_code == 200
        backends = response.json()["backends"]
        assert [b["pid"] for b in backends] == refused
        assert all(b["killed"] is False and b["reason"] for b in backends), backends
        assert row_of(client, bystander.pid) is not None
    assert sorted(own_pids(cluster)) == sorted(agents)  # the agent kept its connections
    assert bystander.run("SELECT 1") == [(1,)]


def test_results_come_in_request_order_duplicates_included(
    agent: Agent, sessions: Sessions
) -> None:
    first, second = sessions.open("first"), sessions.open("second")
    first.submit("SELECT pg_sleep(60)")
    second.submit("SELECT pg_sleep(60)")
    with agent.session_client() as client:
        pids = [second.pid, 1, first.pid, second.pid]
        response = client.post("/activity/kill", json={"pids": pids})
    backends = response.json()["backends"]
    assert [b["pid"] for b in backends] == pids
    assert [b["killed"] for b in backends] == [True, False, True, True]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Parameter 'pids' not sent."),
        ({"pid": [1]}, "Parameter 'pids' not sent."),
        ([1, 2], "Parameter 'pids' not sent."),
        ({"pids": []}, "Parameter 'pids' is malformed."),
        ({"pids": 12}, "Parameter 'pids' is malformed."),
        ({"pids": None}, "Parameter 'pids' is malformed."),
        ({"pids": ["12"]}, "Parameter 'pids' is malformed."),
        ({"pids": [True]}, "Parameter 'pids' is malformed."),
        ({"pids": [1.5]}, "Parameter 'pids' is malformed."),
        ({"pids": [[1]]}, "Parameter 'pids' is malformed."),
        ({"pids": list(range(1, 1002))}, "Parameter 'pids' is malformed."),
    ],
)
def test_bad_pids_get_the_seed_406(agent: Agent, body: object, message: str) -> None:
    with agent.session_client() as client:
        response = client.post("/activity/kill", json=body)
    assert response.status_code == 406
    assert response.json() == {"error": message}


@pytest.mark.parametrize("raw", [b"{pids: [1]}", b"", b"\xff\xfe", b'{"pids": [1]'])
def test_a_body_that_is_not_json_gets_400(agent: Agent, raw: bytes) -> None:
    with agent.session_client() as client:
        response = client.post("/activity/kill", content=raw)
    assert response.status_code == 400
    assert response.json() == {"error": "Request body is not valid JSON."}


def test_deep_nesting_and_huge_numbers_are_handled(agent: Agent) -> None:
    with agent.session_client() as client:
        deep = client.post("/activity/kill", content=b"[" * 50_000 + b"]" * 50_000)
        assert deep.status_code in (400, 406, 413)
        for digits in (19, 5000):
            huge = client.post("/activity/kill", content=b'{"pids": [' + b"9" * digits + b"]}")
            assert huge.status_code == 406
            assert huge.json() == {"error": "Parameter 'pids' is malformed."}
        longest = client.post("/activity/kill", content=json.dumps({"pids": [10**18 - 1]}))
        assert longest.json()["backends"] == [
            {"pid": 10**18 - 1, "killed": False, "reason": "not a backend of this cluster"}
        ]
        assert client.get("/activity").status_code == 200


def test_a_viewer_may_not_kill(agent: Agent, sessions: Sessions) -> None:
    victim = sessions.open("viewer-target")
    victim.run("SELECT 1")
    with agent.session_client("viewer") as client:
        response = client.post("/activity/kill", json={"pids": [victim.pid]})
        assert response.status_code == 403
        assert response.json() == {"error": "Permission denied."}
        assert row_of(client, victim.pid) is not None
    assert victim.run("SELECT 1") == [(1,)]
