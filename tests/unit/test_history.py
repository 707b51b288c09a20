"""History without PostgreSQL: records, the block codec, aggregates, the SQLite store, reads."""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwarden.activity import View
from pgwarden.db.database import DatabaseUnavailable
from pgwarden.history import aggregate, encoding, records, views
from pgwarden.history.aggregate import Unit
from pgwarden.history.reading import BadTime, History, NoSample, default_step, parse_time
from pgwarden.history.recorder import Recorder
from pgwarden.history.report import report
from pgwarden.history.store import Gap, Retention, SQLiteStore
from pgwarden.models import Scope, Snapshot
from pgwarden.ticker import Ticker
from tests.unit.factories import backend
from tests.unit.history_factories import ROW_LOCK, hot_row, session, tick

T0 = 1_700_000_520.0  # a minute boundary: 1_700_000_520 = 28_333_342 * 60


# ------------------------------------------------------------------ records


def test_a_tick_keeps_busy_sessions_and_idle_blockers_only() -> None:
    snapshot = Snapshot(
        datetime.fromtimestamp(T0, UTC),
        (
            backend(1, state="idle"),  # holds an advisory lock someone waits for
            backend(2, state="idle"),
            backend(3, state="active"),
            backend(4, state="idle in transaction"),
            backend(5, state="active", blocked_by=[1]),
            backend(6, state=None, backend_type="checkpointer"),
        ),
        {},
    )
    kept = [s.pid for s in records.tick_of(snapshot).sessions]
    assert kept == [1, 3, 4, 5]


def test_a_kept_tick_renders_the_live_views() -> None:
    body = views.view_body(hot_row(T0, waiters=2), View.BLOCKING)
    assert [(r["pid"], r["root"], r["blocked_pids"]) for r in body["rows"]] == [(1, True, [10, 11])]
    assert body["sampled_at"] == "2023-11-14T22:22:00.000+00:00"
    waiting = views.view_body(hot_row(T0, waiters=2), View.WAITING)
    assert {r["pid"] for r in waiting["rows"]} == {10, 11}
    assert waiting["rows"][0]["mode"] == "ShareLock"
    assert waiting["rows"][0]["wait_duration"] == round(T0 - ROW_LOCK.wait_start, 2)  # type: ignore[operator]
    activity = views.view_body(hot_row(T0), View.ACTIVITY)
    # the live row's datetime, which orjson writes in ISO 8601 with its offset
    assert activity["rows"][0]["backend_start"].isoformat() == "2023-11-14T22:13:20.125000+00:00"


# ------------------------------------------------------------------ codec


def test_a_block_decodes_to_the_ticks_it_was_made_of() -> None:
    ticks = [
        hot_row(T0, waiters=3),
        tick(T0 + 1, session(1, state="idle in transaction"), session(7, cpu=None, iowait=None)),
        tick(T0 + 2),
        tick(
            T0 + 3,
            session(
                7,
                query=None,
                query_start=None,
                xact_start=None,
                client=None,
                read_rate=None,
                iowait=True,
                leader_pid=7,
            ),
        ),
    ]
    blob = encoding.encode_block(ticks)
    assert encoding.decode_block(blob) == ticks
    assert encoding.decode_block(blob, at=T0 + 1.5) == [ticks[1]]
    assert encoding.decode_block(blob, at=T0 + 10) == [ticks[3]]
    assert encoding.decode_block(blob, at=T0 - 0.001) == []


def test_a_reused_pid_is_another_session() -> None:
    first = session(5, backend_start=T0 - 100)
    later = session(5, backend_start=T0 - 1, user="other")
    ticks = [tick(T0, first), tick(T0 + 1, later)]
    assert encoding.decode_block(encoding.encode_block(ticks)) == ticks


@given(st.floats(min_value=0, max_value=1e13, allow_nan=False))
def test_rates_come_back_within_three_percent(rate: float) -> None:
    back = encoding.restore_rate(encoding.quantize_rate(rate))
    assert back is not None
    assert abs(back - rate) <= 0.03 * rate + 0.05


def test_fifty_steady_sessions_take_a_few_bytes_each_per_sample() -> None:
    sessions = [session(1000 + i, query=f"SELECT {i % 10}", cpu=float(i % 7)) for i in range(50)]
    ticks = [tick(T0 + i, *sessions) for i in range(60)]
    size = len(encoding.encode_block(ticks))
    assert size / (50 * 60) < 2, size


# ------------------------------------------------------------------ aggregates


def test_a_session_waiting_on_nothing_counts_as_cpu() -> None:
    counts = aggregate.tick_counts(hot_row(T0, waiters=2))
    assert counts["wait_event_type"] == {"Client": 1, "Lock": 2}
    assert counts["wait_event"] == {"Client:ClientRead": 1, "Lock:transactionid": 2}
    assert aggregate.tick_counts(tick(T0, session(1)))["wait_event_type"] == {"CPU": 1}


def _units(*counts: int) -> list[Unit]:
    return [
        Unit.of_tick(T0 + i, {"wait_event_type": {"Lock": n} if n else {}, "state": {}})
        for i, n in enumerate(counts)
    ]


def test_load_averages_each_bucket_over_its_samples_and_skips_unsampled_buckets() -> None:
    units = _units(10, 10, 0, 4)
    del units[2]  # no sample at T0 + 2: its bucket has no point
    (series,) = aggregate.load_series(units, "wait_event_type", 1)
    assert series.key == "Lock"
    assert series.points == [(T0, 10.0), (T0 + 1, 10.0), (T0 + 3, 4.0)]
    (coarse,) = aggregate.load_series(_units(10, 10, 0, 4), "wait_event_type", 2)
    assert coarse.points == [(T0, 10.0), (T0 + 2, 2.0)]


def test_rollups_keep_sums_and_peaks_and_fold_like_ticks() -> None:
    units = _units(*range(120))
    minutes = aggregate.rollup(units)
    assert [(m.at, m.ticks) for m in minutes] == [(T0, 60), (T0 + 60, 60)]
    assert minutes[0].peaks["wait_event_type"]["Lock"] == 59
    by_tick = aggregate.top(units, "wait_event_type", 10)
    by_minute = aggregate.top(minutes, "wait_event_type", 10)
    assert by_tick == by_minute
    assert by_minute[0].peak == 119 and by_minute[0].aas == round(sum(range(120)) / 120, 3)
    stored = aggregate.decode_minutes(aggregate.encode_minutes(minutes))
    assert aggregate.load_series(stored, "wait_event_type", 60) == aggregate.load_series(
        units, "wait_event_type", 60
    )


def test_idle_waits_are_left_out_of_wait_rankings_unless_asked() -> None:
    units = [Unit.of_tick(T0, aggregate.tick_counts(hot_row(T0, waiters=2)))]
    assert [r.key for r in aggregate.top(units, "wait_event_type", 10)] == ["Lock"]
    with_idle = aggregate.top(units, "wait_event_type", 10, include_idle=True)
    assert [r.key for r in with_idle] == ["Lock", "Client"]
    assert [r.key for r in aggregate.top(units, "state", 10)] == ["active", "idle in transaction"]


def test_per_tick_counts_come_back_from_their_blob() -> None:
    ticks = [hot_row(T0 + i, waiters=i) for i in range(4)]
    counts = [aggregate.tick_counts(t) for t in ticks]
    blob = aggregate.encode_tick_counts([t.at for t in ticks], counts)
    back = aggregate.decode_tick_counts(blob)
    assert [u.sums for u in back] == counts
    only = aggregate.decode_tick_counts(blob, "state")
    assert [set(u.sums) for u in only] == [{"state"}] * 4


# ------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:22:00Z", T0),
        ("2023-11-14T23:22:00+01:00", T0),
        ("1700000520", T0),
        ("1700000520.5", T0 + 0.5),
    ],
)
def test_times_are_iso_8601_with_an_offset_or_unix_seconds(text: str, expected: float) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2023-11-14T22:22:00", "yesterday", "", "1e5", "nan"])
def test_other_times_are_refused(text: str) -> None:
    with pytest.raises(BadTime):
        parse_time(text)


def test_the_default_step_is_the_smallest_multiple_of_the_interval_under_1000_buckets() -> None:
    assert default_step(0, 3600, 1) == 4
    assert default_step(0, 600, 1) == 1
    assert default_step(0, 86400, 1) == 87
    assert default_step(0, 86400, 5) == 90


# ------------------------------------------------------------------ store


def _store(path: Path, **retention: float) -> SQLiteStore:
    store = SQLiteStore(path / "history.sqlite3", 1.0, Retention(**retention))  # type: ignore[arg-type]
    store.open_for_writing()
    return store


def test_the_store_gives_back_the_tick_at_or_before_a_time(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ticks = [hot_row(T0 + i, waiters=i % 4) for i in range(150)]  # two blocks and a pending part
    for t in ticks:
        store.record(t, None)
    assert store.tick_at(T0 + 30.5) == ticks[30]
    assert store.tick_at(T0 + 61) == ticks[61]
    assert store.tick_at(T0 + 149) == ticks[149]  # still pending
    assert store.tick_at(T0 - 1) is None
    assert (store.first_at(), store.last_at()) == (T0, T0 + 149)
    store.close()
    reopened = SQLiteStore(tmp_path / "history.sqlite3", 1.0)
    assert reopened.tick_at(T0 + 149) == ticks[149]  # the pending minute was written on close


def test_ticks_pending_at_a_crash_are_there_after_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(70):
        store.record(hot_row(T0 + i), None)
    # No close: the process dies here. Another opens the file.
    again = _store(tmp_path)
    assert again.last_recorded == T0 + 69
    again.record(hot_row(T0 + 125), Gap(T0 + 70, T0 + 125, "agent not running"))
    assert again.tick_at(T0 + 69) == hot_row(T0 + 69)
    assert again.gaps(T0, T0 + 200) == [Gap(T0 + 70, T0 + 125, "agent not running")]


def test_tick_and_minute_units_give_the_same_load(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(0, 1300):
        store.record(hot_row(T0 + i, waiters=i % 5), None)
    history = History(store, 1.0)
    # Whole minutes (rollups), minutes cut by bucket boundaries (rollups and ticks), seconds.
    for step in (60, 90, 605, 7):
        start, end = T0 + 13, T0 + 1290
        found = history.load(start, end, step, "wait_event_type", now=T0 + 1300)
        by_tick = aggregate.load_series(store.tick_units(start, end, None), "wait_event_type", step)
        assert found["series"] == [{"key": s.key, "points": s.points} for s in by_tick], step
        assert found["gaps"] == []
    assert history.top(T0 + 30, T0 + 290, "wait_event_type", 10, False) == [
        {"key": "Lock", "aas": 2.0, "peak": 4, "samples": 520}
    ]


def test_old_hours_and_days_are_dropped_whole(tmp_path: Path) -> None:
    store = _store(tmp_path, keep=3600, keep_rollups=86400)
    start = 1_700_006_400.0  # an hour boundary
    for hour in range(30):
        for second in (0, 60):
            store.record(hot_row(start + hour * 3600 + second), None)
    conn = sqlite3.connect(tmp_path / "history.sqlite3")
    raw = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'raw%'")]
    days = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'roll%'")]
    # Hour 28 still holds samples younger than an hour; hour 29 has the minute written last.
    assert raw == [f"raw_{int(start) + h * 3600}" for h in (28, 29)]
    assert len(days) == 2


def test_the_size_cap_drops_the_oldest_hours_first(tmp_path: Path) -> None:
    cap = 256 * 1024
    store = _store(tmp_path, max_bytes=cap)
    start = 1_700_006_400.0
    hours = 12
    noise = random.Random(15)
    for hour in range(hours):
        for second in range(0, 120, 2):
            at = start + hour * 3600 + second
            # Figures that do not compress: every sample's are new.
            busy = [
                session(i, cpu=noise.randrange(1000) / 10, query_start=at - noise.random() * 100)
                for i in range(50)
            ]
            store.record(tick(at, *busy), None)
    conn = sqlite3.connect(tmp_path / "history.sqlite3")
    pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                         for p in ("page_count", "freelist_count", "page_size"))  # fmt: skip
    assert (pages - free) * size <= cap + 32 * 1024  # the cap, give or take the minute written
    assert store.tick_at(start + 3600 * (hours - 1) + 100) is not None
    assert store.tick_at(start + 10) is None  # the first hours went
    # Their rollups stay: they are kept longer, and small.
    assert store.minute_units(start, start + 60, "state")[0].ticks == 30


def test_a_time_in_a_gap_or_before_the_history_has_no_sample(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.record(hot_row(T0), None)
    store.record(hot_row(T0 + 1), None)
    store.record(hot_row(T0 + 20), Gap(T0 + 2, T0 + 20, "PostgreSQL unavailable: gone"))
    history = History(store, 1.0)
    assert history.tick_at(T0 + 1.5, now=T0 + 21).at == T0 + 1
    with pytest.raises(NoSample, match=r"from 2023-11-14T22:22:02.000\+00:00 to .*22:22:20.000"):
        history.tick_at(T0 + 5, now=T0 + 21)
    with pytest.raises(NoSample, match="the history starts at"):
        history.tick_at(T0 - 5, now=T0 + 21)
    with pytest.raises(NoSample, match="to now"):
        history.tick_at(T0 + 60, now=T0 + 100)  # the agent stopped sampling after T0 + 20
    load = history.load(T0, T0 + 100, 1, "wait_event_type", now=T0 + 100)
    assert load["gaps"] == [[T0 + 2, T0 + 20], [T0 + 21, T0 + 100]]
    assert replace(hot_row(T0), at=T0) == hot_row(T0)


# ------------------------------------------------------------------ recorder and forest


def test_prepared_transactions_stay_apart_by_gid() -> None:
    first = session(0, backend_type="prepared transaction", state="prepared", gid="a")
    second = replace(first, gid="b")
    ticks = [tick(T0, first, second), tick(T0 + 1, first, second)]
    back = encoding.decode_block(encoding.encode_block(ticks))
    assert back == ticks
    assert [b.id for b in records.snapshot_of(back[0]).backends] == ["0:a", "0:b"]


def test_a_kept_snapshot_carries_the_blocking_forest() -> None:
    body = orjson.loads(views.snapshot_body(hot_row(T0, waiters=3)))
    (root,) = body["tree"]
    assert (root["id"], root["waiting_behind"]) == (1, 3)
    assert sorted(child["id"] for child in root["children"]) == [10, 11, 12]
    assert body["blocking"]["rows"][0]["pid"] == 1
    assert body["sampled_at"] == body["taken_at"] == "2023-11-14T22:22:00.000+00:00"


class FlakySource:
    """Snapshots of one active session; fails while `down` is set."""

    def __init__(self) -> None:
        self.down = False

    async def snapshot(self, scope: Scope = Scope.EVERY_BACKEND) -> Snapshot:
        if self.down:
            raise DatabaseUnavailable("connection refused")
        return Snapshot(datetime.now(UTC), (backend(7, state="active"),), {}, scope=scope)


def test_the_recorder_keeps_one_tick_per_interval_and_records_why_it_missed_some(
    tmp_path: Path,
) -> None:
    async def scenario() -> SQLiteStore:
        source = FlakySource()
        ticker = Ticker(source, 0.05)
        store = SQLiteStore(tmp_path / "history.sqlite3", 0.2)
        recorder = Recorder(ticker, store)
        await recorder.start()
        await asyncio.sleep(1.0)
        source.down = True
        await asyncio.sleep(1.0)
        source.down = False
        await asyncio.sleep(1.0)
        await recorder.close()
        await ticker.close()
        assert recorder.stats.missed >= 5
        return store

    store = asyncio.run(scenario())
    (gap,) = store.gaps(0, T0 * 2)
    assert "connection refused" in gap.reason
    assert 0.8 <= gap.end - gap.start <= 2.5  # the second PostgreSQL was down, give or take
    kept = [u.at for u in store.tick_units(0, T0 * 2, "state")]
    spacing = [b - a for a, b in itertools.pairwise(kept) if b - a < 0.5]
    assert len(kept) >= 8
    # Kept at least an interval less half a tick apart (0.175 s): every fourth tick of the
    # 0.05 s loop, not every third (0.15 s) nor every one.
    assert min(spacing) >= 0.17
    assert all(u.sums["state"] == {"active": 1} for u in store.tick_units(0, T0 * 2, "state"))


def test_the_command_line_report_shows_each_waiter_once_under_its_holder() -> None:
    lines = report(hot_row(T0, waiters=3), T0 + 0.5)
    assert lines[0] == (
        "Sample of 2023-11-14T22:22:00.000+00:00 (asked for 2023-11-14T22:22:00.500+00:00): "
        "4 sessions"
    )
    tree = lines[lines.index(next(line for line in lines if line.startswith("Blocking"))) + 1 :]
    assert tree[0].startswith("1 idle in transaction Client:ClientRead")
    assert tree[0].endswith("[3 waiting behind]")
    assert sorted(line.split("└─ ")[1].split()[0] for line in tree[1:]) == ["10", "11", "12"]
    quiet = report(tick(T0, session(5)), T0)
    assert quiet[-1] == "Blocking tree: no session waited for a lock."
