"""Rows of the three views, filters, sort and limit, from staged snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson

from pgwarden.activity import RowQuery, View, render
from pgwarden.models import Backend, Snapshot
from pgwarden.proc import ProcFigures
from tests.unit.factories import backend, lock

T = "relation,5,16384"


def snapshot(*backends: Backend, figures: dict[int, ProcFigures] | None = None) -> Snapshot:
    return Snapshot(datetime.now(UTC), backends, figures or {})


def view(snap: Snapshot, which: View, **query: object) -> dict[str, object]:
    decoded: dict[str, object] = orjson.loads(render(snap, which, RowQuery(**query)))  # type: ignore[arg-type]
    return decoded


def test_activity_rows_follow_the_seed_formats() -> None:
    snap = snapshot(
        backend(1, duration=1.9),
        figures={1: ProcFigures(12.5, 0.13, 12.5 * 1024, 0.0, False)},
    )
    row = view(snap, View.ACTIVITY)["rows"][0]  # type: ignore[index]
    assert row["duration"] == "1.900"
    assert (row["cpu"], row["memory"], row["read_s"], row["write_s"]) == (
        12.5,
        0.13,
        "12.50K",
        "0.00B",
    )
    assert (row["iow"], row["wait"]) == ("N", "N")


def test_unreadable_processes_show_not_available_never_null() -> None:
    snap = snapshot(backend(2), backend(3, blocked_by=(2,)))
    rows = []
    for which in View:
        shown: list[dict[str, object]] = view(snap, which)["rows"]  # type: ignore[assignment]
        assert shown, which
        rows += shown
    for row in rows:
        assert (row["cpu"], row["memory"], row["read_s"], row["write_s"], row["iow"]) == (
            ("N/A",) * 5
        )
        assert (row["cpu_pct"], row["memory_pct"], row["read_bytes_s"], row["write_bytes_s"]) == (
            (None,) * 4
        )


def test_numeric_twins_carry_the_figures() -> None:
    snap = snapshot(backend(1), figures={1: ProcFigures(12.5, 0.13, 1536.004, None, True)})
    row = view(snap, View.ACTIVITY)["rows"][0]  # type: ignore[index]
    assert (row["cpu_pct"], row["memory_pct"], row["read_bytes_s"], row["write_bytes_s"]) == (
        12.5,
        0.13,
        1536.004,
        None,
    )
    assert (row["read_s"], row["write_s"], row["iow"]) == ("1.50K", "N/A", "Y")


def test_sorting_by_a_figure_sorts_numbers_and_puts_not_available_last() -> None:
    snap = snapshot(
        backend(1),
        backend(2),
        backend(3),
        figures={
            1: ProcFigures(2.0, 0.1, 2048.0, 0.0, False),
            3: ProcFigures(30.0, 0.1, 512.0, 0.0, False),
        },
    )
    for key in ("cpu", "cpu_pct"):
        assert [r["pid"] for r in view(snap, View.ACTIVITY, sort=f"-{key}")["rows"]] == [3, 1, 2]  # type: ignore[attr-defined]
    for key in ("read_s", "read_bytes_s"):
        assert [r["pid"] for r in view(snap, View.ACTIVITY, sort=key)["rows"]] == [3, 1, 2]  # type: ignore[attr-defined]


def test_only_client_backends_are_activity_rows() -> None:
    snap = snapshot(backend(1), backend(2, backend_type="autovacuum worker"))
    assert [r["pid"] for r in view(snap, View.ACTIVITY)["rows"]] == [1]  # type: ignore[attr-defined]


def test_default_sort_is_longest_first_and_limit_keeps_total() -> None:
    snap = snapshot(backend(1, duration=2), backend(2, duration=30), backend(3, duration=10))
    answer = view(snap, View.ACTIVITY, limit=2)
    assert [r["pid"] for r in answer["rows"]] == [2, 3]  # type: ignore[attr-defined]
    assert answer["total"] == 3


def test_sort_by_any_key_nulls_last() -> None:
    snap = snapshot(backend(1, user="bob"), backend(2, user=None), backend(3, user="al"))
    ascending = view(snap, View.ACTIVITY, sort="user")["rows"]
    descending = view(snap, View.ACTIVITY, sort="-user")["rows"]
    assert [r["pid"] for r in ascending] == [3, 1, 2]  # type: ignore[attr-defined]
    assert [r["pid"] for r in descending] == [1, 3, 2]  # type: ignore[attr-defined]


def test_filters_combine() -> None:
    snap = snapshot(
        backend(1, state="idle", database="a"),
        backend(2, state="active", database="a", duration=5),
        backend(3, state="active", database="b", application_name="etl"),
    )
    only = view(snap, View.ACTIVITY, states=("active",), databases=("a",))
    assert [r["pid"] for r in only["rows"]] == [2]  # type: ignore[attr-defined]
    assert view(snap, View.ACTIVITY, min_duration=2.0)["total"] == 1
    assert view(snap, View.ACTIVITY, applications=("etl",))["total"] == 1
    assert view(snap, View.ACTIVITY, users=("zed",))["rows"] == []


def test_waiting_and_blocking_rows() -> None:
    holder = backend(
        1, state="idle in transaction", duration=4126.984, locks=(lock(T, "ExclusiveLock", True),)
    )
    waiter = backend(
        2, blocked_by=[1], duration=4.351, locks=(lock(T, "RowExclusiveLock", False, wait=4.3456),)
    )
    snap = snapshot(holder, waiter)
    waiting = view(snap, View.WAITING)["rows"][0]  # type: ignore[index]
    assert (waiting["pid"], waiting["relation"], waiting["type"], waiting["mode"]) == (
        2,
        "public.t",
        "relation",
        "RowExclusiveLock",
    )
    assert waiting["duration"] == 4.35
    assert waiting["wait_duration"] == 4.35
    assert waiting["blocked_by"] == [1]
    blocking = view(snap, View.BLOCKING)["rows"][0]  # type: ignore[index]
    assert (blocking["pid"], blocking["mode"], blocking["duration"]) == (
        1,
        "ExclusiveLock",
        4126.98,
    )
    assert (blocking["blocked_pids"], blocking["root"]) == ([2], True)


def test_relation_in_another_database_is_explained() -> None:
    held = lock(T, "ExclusiveLock", True, name=None, local=False)
    wanted = replace(lock(T, "ShareLock", False, name=None, local=False), relation_note="why")
    holder = backend(1, locks=(held,))
    waiter = backend(2, blocked_by=[1], locks=(wanted,))
    snap = snapshot(holder, waiter)
    waiting = view(snap, View.WAITING)["rows"][0]  # type: ignore[index]
    assert waiting["relation"] == "relation 16384 in database app (why)"
    blocking = view(snap, View.BLOCKING)["rows"][0]  # type: ignore[index]
    assert blocking["relation"] == "relation 16384 in database app (not resolved)"


def test_rendered_bodies_are_shared_per_query() -> None:
    snap = snapshot(backend(1))
    first = render(snap, View.ACTIVITY, RowQuery())
    assert render(snap, View.ACTIVITY, RowQuery()) is first
    assert render(snap, View.ACTIVITY, RowQuery(limit=1)) is not first


def test_filters_tell_prepared_transactions_apart() -> None:
    # Two prepared transactions are both pid 0: each row is filtered by its own backend.
    target = "transactionid,77"
    first = backend(
        0,
        database="billing",
        backend_type="prepared transaction",
        state="prepared",
        locks=(lock(target, "ExclusiveLock", True, locktype="transactionid", relation=None),),
    )
    other = "transactionid,88"
    second = backend(
        0,
        database="shop",
        backend_type="prepared transaction",
        state="prepared",
        locks=(lock(other, "ExclusiveLock", True, locktype="transactionid", relation=None),),
    )
    w1 = backend(
        1,
        database="billing",
        blocked_by=[0],
        locks=(lock(target, "ShareLock", False, locktype="transactionid"),),
    )
    w2 = backend(
        2,
        database="shop",
        blocked_by=[0],
        locks=(lock(other, "ShareLock", False, locktype="transactionid"),),
    )
    snap = snapshot(first, second, w1, w2)
    everything = view(snap, View.BLOCKING)["rows"]
    assert sorted(r["database"] for r in everything) == ["billing", "shop"]  # type: ignore[attr-defined]
    shop = view(snap, View.BLOCKING, databases=("shop",))["rows"]
    assert [(r["pid"], r["database"], r["blocked_pids"]) for r in shop] == [(0, "shop", [2])]  # type: ignore[attr-defined]
