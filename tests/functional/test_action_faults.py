"""A kill or cancel that PostgreSQL fails in the middle of: every pid keeps its result line.

The fault is real: the agent reaches PostgreSQL through a TCP relay that breaks the
connection when the agent sends the statement for one chosen pid.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Sessions, running_agent, wait_until

# In PID_RANGE, so the agent asks PostgreSQL about it; no backend has it.
FATAL_PID = 2_147_480_001


class CuttingRelay:
    """Relays TCP to PostgreSQL; breaks any connection whose client sends `FATAL_PID`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._patterns = (
            str(FATAL_PID).encode(),  # the parameter in text format
            struct.pack("!i", FATAL_PID),  # or in binary, as int4
            struct.pack("!q", FATAL_PID),  # or as int8
        )
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                with self._lock:
                    self._sockets += [client, upstream]
                threading.Thread(target=self._pump, args=(upstream, client, False)).start()
                threading.Thread(target=self._pump, args=(client, upstream, True)).start()

    def _pump(self, source: socket.socket, sink: socket.socket, watch: bool) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                seen = seen[-16:] + data
                if watch and any(p in seen for p in self._patterns):
                    self.cuts += 1
                    break
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def relay(cluster: Cluster) -> Iterator[CuttingRelay]:
    relay = CuttingRelay(cluster.port)
    try:
        yield relay
    finally:
        relay.close()


def state(cluster: Cluster, pid: int) -> str | None:
    with cluster.connect() as conn:
        row = conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row[0] if row else None


def audit(client: Any, limit: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get("/activity/audit", params={"limit": limit}).json()[
        "entries"
    ]
    return entries


def test_a_failure_at_pid_k_of_n_still_records_every_result(
    cluster: Cluster, sessions: Sessions, relay: CuttingRelay, tmp_path: Path
) -> None:
    first, last = sessions.open("first"), sessions.open("last")
    for victim in (first, last):
        victim.submit("SELECT pg_sleep(60)")
    running = (first.pid, last.pid)
    wait_until(lambda: all(state(cluster, pid) == "active" for pid in running), what="sleepers")
    extra = f'[postgresql]\nhost = "127.0.0.1"\nport = {relay.port}\n'
    with running_agent(cluster, tmp_path, extra) as agent, agent.session_client() as client:
        response = client.post("/activity/kill", json={"pids": [first.pid, FATAL_PID, last.pid]})
        assert relay.cuts >= 1
        # Some were signalled: the answer says, per pid, what was done and what was not.
        assert response.status_code == 200, response.text
        killed, failed, skipped = response.json()["backends"]
        assert killed == {"pid": first.pid, "killed": True, "reason": None}
        assert failed["killed"] is False
        assert failed["reason"].startswith(
            "not known to be done: PostgreSQL failed while signalling it: "
        )
        assert skipped["killed"] is False
        assert skipped["reason"].startswith(f"not done: PostgreSQL failed at pid {FATAL_PID} ")
        wait_until(lambda: state(cluster, first.pid) is None, what="the first to go")
        assert state(cluster, last.pid) == "active"
        request, *results = audit(client, 4)
        assert request["event"] == "request"
        assert request["pids"] == [first.pid, FATAL_PID, last.pid]
        assert [(e["pid"], e["result"], e["reason"]) for e in results] == [
            (first.pid, True, None),
            (FATAL_PID, False, failed["reason"]),
            (last.pid, False, skipped["reason"]),
        ]
        assert {e["request_id"] for e in results} == {request["request_id"]}

        # Nothing signalled: 503, and still a result line for each pid.
        response = client.post("/activity/cancel", json={"pids": [FATAL_PID, last.pid]})
        assert response.status_code == 503, response.text
        message = response.json()["error"]
        assert message.startswith("PostgreSQL is unavailable: ")
        assert "no backend is known to have been signalled" in message
        request, *results = audit(client, 3)
        assert request["request_id"] in message
        assert [(e["pid"], e["result"]) for e in results] == [(FATAL_PID, False), (last.pid, False)]
        assert state(cluster, last.pid) == "active"
        # The agent recovers: the next request works through the same relay.
        answer = client.post("/activity/cancel", json={"pids": [last.pid]}).json()
        assert answer == {"backends": [{"pid": last.pid, "cancelled": True, "reason": None}]}
