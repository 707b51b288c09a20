"""The audit log's file under faults: a full disk mid-entry leaves no torn line behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgwarden.audit import AuditLog, AuditUnavailable
from tests.functional.test_actions import tiny_filesystem


def entry(n: int, padding: int = 0) -> dict[str, object]:
    return {"event": "result", "pid": n, "query": "x" * padding}


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_short_write_then_a_full_disk_leaves_no_torn_line(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "tiny") as tiny:
        log = AuditLog(tiny / "audit.jsonl")
        log.append([entry(1)])  # the first of the filesystem's one 4 KiB page
        before = log.path.read_bytes()
        # Room for the rest of the page only: the write is cut short, then ENOSPC.
        with pytest.raises(AuditUnavailable, match="No space left on device"):
            log.append([entry(2, padding=5000)])
        assert log.path.read_bytes() == before  # cut back: no half entry
        log.append([entry(3)])
        assert [e["pid"] for e in log.tail(10)] == [1, 3]
        assert log.path.read_bytes().endswith(b"\n")


def test_an_entry_after_a_torn_line_starts_on_a_fresh_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append([entry(1)])
    with log.path.open("ab") as fh:
        fh.write(b'{"event":"result","pid":2,"que')  # a crash in the middle of an entry
    log.append([entry(3), entry(4)])
    assert [e["pid"] for e in log.tail(10)] == [1, 3, 4]
    lines = log.path.read_bytes().splitlines()
    assert lines[1] == b'{"event":"result","pid":2,"que'  # kept as it was, on its own line


def test_dev_full_refuses_without_harm() -> None:
    with pytest.raises(AuditUnavailable, match="No space left on device"):
        AuditLog(Path("/dev/full")).append([entry(1)])
