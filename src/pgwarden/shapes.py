"""The rows of /activity, /activity/waiting and /activity/blocking: one definition each.

Each shape is a TypedDict. activity.py builds its rows as dict literals of these types, so
mypy fails on a key missing or undeclared; the OpenAPI document's schemas are made from the
same types by pydantic, with `additionalProperties: false`, and live answers are validated
against them in tests. At run time the rows are plain dicts, serialised by orjson.
"""

from __future__ import annotations

from datetime import datetime
from typing import (
    Annotated,
    Literal,  # pydantic needs this one on 3.11
)

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

STRICT = ConfigDict(extra="forbid")

NotAvailable = Literal["N/A"]
YesNo = Literal["Y", "N"]
_UNREADABLE = ' "N/A" when /proc/<pid> cannot be read (as temboard-agent 7.x)'
_SINCE = " since the previous reading, or over the process's lifetime on its first one"


def doc(text: str, *examples: object) -> object:
    """The description (and examples) of one key, for the OpenAPI document."""
    return Field(description=text, examples=list(examples) if examples else None)


@with_config(STRICT)
class ProcessFigures(TypedDict):
    """The seed's process keys (never null) and their numeric twins (null when unreadable)."""

    cpu: Annotated[float | NotAvailable, doc("% of one CPU" + _SINCE + ";" + _UNREADABLE)]
    memory: Annotated[
        float | NotAvailable, doc("resident memory, % of the host's RAM;" + _UNREADABLE)
    ]
    read_s: Annotated[str, doc("bytes read per second" + _SINCE + ";" + _UNREADABLE, "12.50K")]
    write_s: Annotated[str, doc("bytes written per second" + _SINCE + ";" + _UNREADABLE, "0.00B")]
    iow: Annotated[YesNo | NotAvailable, doc("in uninterruptible I/O wait;" + _UNREADABLE)]
    cpu_pct: Annotated[float | None, doc("cpu as a number; null when unreadable")]
    memory_pct: Annotated[float | None, doc("memory as a number; null when unreadable")]
    read_bytes_s: Annotated[float | None, doc("read_s in bytes/s; null when unreadable")]
    write_bytes_s: Annotated[float | None, doc("write_s in bytes/s; null when unreadable")]


@with_config(STRICT)
class ActivityRow(ProcessFigures):
    """A row of /activity: one client backend."""

    pid: int
    database: str | None
    user: str | None
    client: str | None
    wait: Annotated[YesNo, doc("waiting for a heavyweight lock")]
    duration: Annotated[str, doc("seconds since query_start", "1.900")]
    state: str | None
    query: str | None
    application_name: str | None
    backend_type: str | None
    wait_event_type: str | None
    wait_event: str | None
    xact_start: datetime | None
    query_start: datetime | None
    blocked_by: list[int]
    backend_start: Annotated[
        datetime | None,
        doc(
            "when the backend started; send it back with kill or cancel, so a pid reused "
            "since is refused",
            "2026-11-27T17:38:12.482913+00:00",
        ),
    ]


@with_config(STRICT)
class LockedBackend(ProcessFigures):
    """What the rows of /activity/waiting and /activity/blocking begin with (the seed's keys
    first): a backend, and the lock it waits for or holds up others with."""

    pid: Annotated[int, doc("0 for a prepared transaction")]
    database: str | None
    user: str | None
    relation: Annotated[
        str,
        doc(
            'schema-qualified table, " " when not a relation lock; when it has no name, '
            "which relation of which database, and why"
        ),
    ]
    type: Annotated[str | None, doc("the lock's type", "transactionid")]
    mode: Annotated[str | None, doc("the lock's mode", "ShareLock")]
    state: str | None
    duration: float
    query: str | None
    application_name: str | None
    backend_type: str | None
    leader_pid: Annotated[int | None, doc("a parallel worker's leader, the pid to act on")]
    id: Annotated[
        int | str,
        doc(
            'the pid, or "0:<gid>" for a prepared transaction: its node id in the tree',
            4242,
            "0:batch-17",
        ),
    ]


BlockedBy = Annotated[list[int], doc("from pg_blocking_pids(); 0 is a prepared xact")]


@with_config(STRICT)
class LockRow(LockedBackend):
    """A row of /activity/waiting: a backend waiting for a lock, and the lock."""

    blocked_by: BlockedBy
    wait_duration: float | None


@with_config(STRICT)
class BlockingRow(LockedBackend):
    """A row of /activity/blocking: a backend or prepared transaction others wait for."""

    blocked_pids: list[int]
    blocked_count: int
    root: bool
    blocked_by: BlockedBy
    wait_duration: float | None
