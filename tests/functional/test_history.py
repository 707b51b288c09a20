"""Incidents staged on a real cluster, recorded by a real agent, replayed afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, rows, running_agent, start_agent, wait_until

WAITERS = 10
HOT_ROW_SECONDS = 8
METRICS_ON = "[metrics]\nenabled = true\n"


def history(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return client.get(f"/history/{path}", params=params)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def sampled_after(client: httpx.Client, moment: float) -> bool:
    """Whether the store holds a sample taken after `moment` (Unix seconds)."""
    response = history(client, "activity", at=f"{time.time():.3f}")
    if response.status_code != 200:
        return False
    body = response.json()
    return datetime.fromisoformat(body["sampled_at"]).timestamp() > moment


def lock_points(load: dict[str, Any]) -> dict[float, float]:
    series = {s["key"]: s["points"] for s in load["series"]}
    return {t: n for t, n in series.get("Lock", [])}


@pytest.fixture(scope="module")
def replayed(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A hot row: one holder idle in transaction, WAITERS sessions queued on it for
    HOT_ROW_SECONDS, then released; what the live API said, and the agent that recorded it."""
    workdir = tmp_path_factory.mktemp("history-hot-row")
    staged = Sessions(cluster)
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS hot_row")
        conn.execute("CREATE TABLE hot_row (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO hot_row VALUES (1, 0)")
    agent = start_agent(cluster, workdir, METRICS_ON)
    try:
        with agent.session_client() as client:
            wait_until(lambda: sampled_after(client, time.time() - 1), what="a first sample")
            holder = staged.open("hot-row-holder")
            holder.run("BEGIN")
            holder.run("UPDATE hot_row SET v = v + 1 WHERE id = 1")
            waiters = [staged.open(f"hot-row-waiter-{i}") for i in range(WAITERS)]
            done = [w.submit("UPDATE hot_row SET v = v + 1 WHERE id = 1") for w in waiters]
            pids = {w.pid for w in waiters}

            def all_waiting() -> bool:
                return pids <= {r["pid"] for r in rows(client, "/activity/waiting")}

            wait_until(all_waiting, what="every waiter queued on the row")
            began = time.time()
            metrics = client.get("/metrics").text
            time.sleep(HOT_ROW_SECONDS)
            released = time.time()
            holder.run("COMMIT")
            for future in done:
                future.result(timeout=10)
            time.sleep(4)
            yield {
                "agent": agent,
                "holder": holder.pid,
                "waiters": pids,
                "began": began,
                "released": released,
                "metrics": metrics,
                "workdir": workdir,
            }
    finally:
        agent.stop()
        staged.close_all()


def test_at_the_middle_of_a_hot_row_the_holder_is_the_one_root(replayed: dict[str, Any]) -> None:
    middle = (replayed["began"] + replayed["released"]) / 2
    with replayed["agent"].session_client() as client:
        snapshot = ok(history(client, "snapshot", at=f"{middle:.3f}"))
        blocking = ok(history(client, "blocking", at=f"{middle:.3f}"))
        waiting = ok(history(client, "waiting", at=f"{middle:.3f}"))
        activity = ok(history(client, "activity", at=f"{middle:.3f}"))
    sampled = datetime.fromisoformat(snapshot["sampled_at"]).timestamp()
    assert middle - 1.5 <= sampled <= middle
    roots = [r["pid"] for r in snapshot["blocking"]["rows"] if r["root"]]
    assert roots == [replayed["holder"]]
    assert {r["pid"] for r in snapshot["waiting"]["rows"]} == replayed["waiters"]
    assert blocking["rows"] == snapshot["blocking"]["rows"]
    (root,) = snapshot["tree"]  # the forest of that one sample: the holder, every waiter once
    assert (root["id"], root["waiting_behind"]) == (replayed["holder"], WAITERS)
    nodes, pending = [], list(root["children"])
    while pending:
        node = pending.pop()
        nodes.append(node["id"])
        pending.extend(node["children"])
    assert sorted(nodes) == sorted(replayed["waiters"])
    assert {r["pid"] for r in waiting["rows"]} == replayed["waiters"]
    holder_row = next(r for r in blocking["rows"] if r["pid"] == replayed["holder"])
    assert holder_row["state"] == "idle in transaction"
    assert holder_row["query"] == "UPDATE hot_row SET v = v + 1 WHERE id = 1"
    # The same keys as the live row, plus backend_start, and the session's own values.
    with replayed["agent"].session_client() as client:
        live_keys = set(client.get("/activity").json()["rows"][0])
    by_pid = {r["pid"]: r for r in activity["rows"]}
    assert live_keys | {"backend_start"} == set(by_pid[replayed["holder"]])
    assert by_pid[replayed["holder"]]["backend_start"] is not None
    assert all(by_pid[pid]["wait"] == "Y" for pid in replayed["waiters"])


def test_the_lock_load_is_ten_during_the_hot_row_and_zero_after(replayed: dict[str, Any]) -> None:
    began, released = replayed["began"], replayed["released"]
    with replayed["agent"].session_client() as client:
        load = ok(history(client, "load", **{"from": began - 5, "to": released + 4, "step": 1}))
    points = lock_points(load)
    during = [n for t, n in points.items() if began + 1 <= t <= released - 2]
    after = [n for t, n in points.items() if t >= released + 2]
    assert len(during) >= HOT_ROW_SECONDS - 4
    assert set(during) == {WAITERS}
    assert after and set(after) == {0}
    assert load["gaps"] == []
    assert (load["step"], load["by"]) == (1, "wait_event_type")
    with replayed["agent"].session_client() as client:
        top = ok(history(client, "top", **{"from": began, "to": released, "by": "wait_event_type"}))
    assert top["rows"][0]["key"] == "Lock"
    assert top["rows"][0]["peak"] == WAITERS
    assert "Client" not in {r["key"] for r in top["rows"]}


def test_the_recorder_shares_the_live_viewers_snapshots(replayed: dict[str, Any]) -> None:
    """One snapshot per tick for the recorder and a stream viewer together, not one each."""
    agent = replayed["agent"]

    def snapshots() -> float:
        with agent.client() as client:
            text = client.get("/metrics").text
        return float(text.split("\npgwarden_sampler_snapshots_total ")[1].split()[0])

    token = agent.login("viewer")
    with (
        agent.client() as client,
        client.stream("GET", "/activity/stream", headers={"X-Session": token}) as stream,
    ):
        lines = stream.iter_lines()
        before, started = snapshots(), time.time()
        events = 0
        while events < 6:
            events += next(lines).startswith("event: snapshot")
        taken = snapshots() - before
        seconds = time.time() - started
    # The viewer's ticks are the recorder's: about one a second, plus the second scrape's own.
    assert taken <= seconds + 2, (taken, seconds)
    with agent.session_client() as client:
        load = ok(history(client, "load", **{"from": started, "to": time.time(), "step": 1}))
        assert sampled_after(client, time.time() - 1.5)
    assert load["gaps"] == []  # and the recorder kept every tick meanwhile


def test_metrics_count_active_sessions_by_wait_event_type(replayed: dict[str, Any]) -> None:
    assert f'pgwarden_active_sessions{{wait_event_type="Lock"}} {WAITERS}.0' in replayed["metrics"]
    assert "pgwarden_history_recording 1.0" in replayed["metrics"]


def test_the_command_line_prints_the_tree_with_no_agent_running(
    replayed: dict[str, Any],
) -> None:
    replayed["agent"].stop()
    middle = (replayed["began"] + replayed["released"]) / 2
    config = replayed["workdir"] / "pgwarden.toml"
    run = subprocess.run(
        [sys.executable, "-m", "pgwarden", "history", "--at", f"{middle:.3f}", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    tree = run.stdout.split("Blocking tree")[1].splitlines()[1:]
    assert tree[0].startswith(f"{replayed['holder']} idle in transaction")
    listed = {int(line.split("└─ ")[1].split()[0]) for line in tree if "└─ " in line}
    assert listed == replayed["waiters"]
    bad = subprocess.run(
        [sys.executable, "-m", "pgwarden", "history", "--at", "tuesday", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "tuesday" in bad.stderr


def test_samples_survive_a_sigkill_and_the_down_time_is_a_gap(
    cluster: Cluster, tmp_path: Path
) -> None:
    agent = start_agent(cluster, tmp_path)
    try:
        with agent.session_client() as client:
            wait_until(lambda: sampled_after(client, time.time() - 0.5), what="samples")
            time.sleep(2)
            before = time.time() - 1
            kept = ok(history(client, "activity", at=f"{before:.3f}"))
        agent.process.send_signal(signal.SIGKILL)
        killed = time.time()
        agent.process.wait()
        # The post-mortem case: the agent died; its WAL is left as it was.
        run = subprocess.run(
            [sys.executable, "-m", "pgwarden", "history", "--at", f"{before:.3f}",
             "-c", str(tmp_path / "pgwarden.toml")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("Sample of ")
        time.sleep(max(0.0, killed + 4 - time.time()))
    finally:
        agent.stop()
    agent = start_agent(cluster, tmp_path)
    try:
        with agent.session_client() as client:
            restarted = time.time()
            wait_until(lambda: sampled_after(client, restarted), what="a sample after the restart")
            assert ok(history(client, "activity", at=f"{before:.3f}")) == kept
            load = ok(history(client, "load", **{"from": before - 5, "to": time.time()}))
            (gap,) = load["gaps"]
            assert gap[0] <= killed + 1.5 and gap[1] >= killed + 4
            missing = history(client, "snapshot", at=f"{killed + 2:.3f}")
            assert missing.status_code == 404
            assert "not sampling from" in missing.json()["error"]
            assert "agent not running" in missing.json()["error"]
    finally:
        agent.stop()


@contextlib.contextmanager
def tiny_filesystem(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def _fill(path: Path) -> None:
    """Write zeros to path until the filesystem is full."""
    with path.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_pauses_recording_and_it_resumes(cluster: Cluster, tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "small", "4m") as small:
        extra = f'[history]\npath = "{small / "history.sqlite3"}"\n' + METRICS_ON
        with (
            running_agent(cluster, tmp_path / "agent", extra) as agent,
            agent.session_client() as client,
        ):
            wait_until(lambda: sampled_after(client, time.time() - 0.5), what="samples")
            _fill(small / "filler")
            filled = time.time()

            def paused() -> dict[str, Any] | None:
                body: dict[str, Any] = client.get("/status").json()["history"]
                return body if body["paused"] else None

            status = wait_until(paused, timeout=90, interval=0.5, what="recording paused")
            assert status["recording"] is False and "full" in status["paused"]
            metrics = client.get("/metrics").text
            assert "pgwarden_history_paused 1.0" in metrics
            assert client.get("/activity").status_code == 200  # the live API serves on
            time.sleep(2)
            (small / "filler").unlink()
            freed = time.time()
            wait_until(
                lambda: client.get("/status").json()["history"]["recording"],
                timeout=30,
                what="recording resumed",
            )
            wait_until(lambda: sampled_after(client, freed), what="a sample after")
            assert "pgwarden_history_paused 0.0" in client.get("/metrics").text
            load = ok(history(client, "load", **{"from": filled - 30, "to": time.time()}))
            assert any(start >= filled - 2 and end >= freed for start, end in load["gaps"])
            missing = history(client, "snapshot", at=f"{(filled + freed) / 2 + 1:.3f}")
            assert missing.status_code == 404
            assert "disk full" in missing.json()["error"]


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("activity", {"at": "yesterday"}, "at"),
        ("snapshot", {"at": "2026-12-01T03:12:07"}, "at"),
        ("load", {"step": "0"}, "step"),
        ("load", {"step": "-1"}, "step"),
        ("load", {"by": "colour"}, "by"),
        ("load", {"from": "later"}, "from"),
        ("load", {"to": "1700000000", "from": "1700000100"}, "from"),
        ("top", {"limit": "0"}, "limit"),
        ("top", {"limit": "ten"}, "limit"),
        ("top", {"by": "pid"}, "by"),
        ("top", {"include_idle": "maybe"}, "include_idle"),
    ],
)
def test_bad_parameters_get_406(agent: Agent, path: str, params: dict[str, str], name: str) -> None:
    with agent.session_client() as client:
        response = history(client, path, **params)
    assert response.status_code == 406
    assert response.json() == {"error": f"Parameter '{name}' is malformed."}


def test_a_window_over_31_days_gets_406(agent: Agent) -> None:
    with agent.session_client() as client:
        for path in ("load", "top"):
            response = history(client, path, **{"from": "0", "to": str(32 * 86400)})
            assert response.status_code == 406
            assert "31 days" in response.json()["error"]


def test_a_time_before_any_sample_gets_404(cluster: Cluster, tmp_path: Path) -> None:
    # The shared agent records no history (tests/conftest.py): this one does, by default.
    with running_agent(cluster, tmp_path) as agent, agent.session_client() as client:
        wait_until(lambda: sampled_after(client, 0), what="a first sample")
        response = history(client, "snapshot", at="2001-01-01T00:00:00Z")
        assert response.status_code == 404
        assert "the history starts at" in response.json()["error"]
        assert client.get("/history/activity").status_code == 200
        no_session = httpx.get(f"{agent.url}/history/load")
        assert no_session.status_code == 406
