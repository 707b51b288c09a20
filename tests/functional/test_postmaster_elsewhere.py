"""Process figures only from this cluster's postmaster: PostgreSQL in another PID namespace.

Staged as in a container: the cluster runs in a PID namespace of its own (`unshare --pid`),
so the pids it reports name other processes here, or none. The agent must not read them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden.cluster import SERVER_OS_USER, Cluster, find_bindir, free_port
from tests.helpers import Agent, rows, running_agent, wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a PID namespace needs root and util-linux's unshare",
)

UNAVAILABLE = "process figures are unavailable"


@pytest.fixture
def namespaced_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="pgwarden-pidns-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres OS user must reach its cluster
    cluster = Cluster(bindir=find_bindir(), root=root, port=free_port())
    cluster.init()
    # setpriv execs (no fork): the postmaster is pid 1 of the namespace, and unshare's child.
    server = subprocess.Popen(
        [
            "unshare", "--pid", "--fork", "--kill-child=SIGINT", "--",
            "setpriv", f"--reuid={SERVER_OS_USER}", f"--regid={SERVER_OS_USER}",
            "--init-groups", str(cluster.bindir / "postgres"), "-D", str(cluster.datadir),
        ],
        stdout=cluster.logfile.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def answers() -> bool:
        assert server.poll() is None, cluster.logfile.read_text()
        try:
            with cluster.connect():
                return True
        except psycopg.OperationalError:
            return False

    try:
        wait_until(answers, timeout=30, what="the namespaced cluster to accept connections")
        yield cluster
    finally:
        # Its postmaster.pid holds a pid of the namespace: signal our child of unshare instead.
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        for child in children:
            os.kill(int(child), signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()  # its child gets SIGINT on unshare's death, SIGKILL if pid 1 dies
            server.wait()
        cluster.remove()


def test_figures_are_not_available_when_the_postmaster_is_not_local(
    namespaced_cluster: Cluster, tmp_path: Path
) -> None:
    with namespaced_cluster.connect() as conn:
        namespace_pid = conn.info.backend_pid
        # The namespace's pids are small: most name some process of ours, not this backend.
        conn.execute("SELECT 1")
        with running_agent(namespaced_cluster, tmp_path / "agent") as agent:
            with agent.session_client() as client:
                for _ in range(3):
                    listed = rows(client)
                    assert namespace_pid in {row["pid"] for row in listed}
                    for row in listed:
                        figures = [row[k] for k in ("cpu", "memory", "read_s", "write_s", "iow")]
                        assert figures == ["N/A"] * 5, row
                        assert (row["cpu_pct"], row["memory_pct"]) == (None, None), row
            status = _status(agent)
            log = agent.log()
    assert status["available"] is False, status
    assert "PostgreSQL runs on another host or in another PID namespace" in str(status["reason"])
    assert log.count(UNAVAILABLE) == 1, log


def test_status_says_figures_are_read_beside_the_cluster(agent: Agent) -> None:
    assert _status(agent) == {"available": True, "reason": None}
    assert UNAVAILABLE not in agent.log()


def _status(agent: Agent) -> dict[str, object]:
    with agent.client() as client:
        body = client.get("/status").json()
    figures: dict[str, object] = body["process_figures"]
    return figures
