"""Where ticks are kept: a small interface, and the embedded store on SQLite.

The embedded store keeps, in one SQLite file:
- `pending`: the ticks of the current minute, one row each, committed as they come, so a
  crash loses at most the tick being written;
- `raw_<hour>`: one table per hour of ticks, one row per minute: the block of its ticks
  (`encoding`) and their per-tick counts by key (`aggregate`), for load charts at any step;
- `rollup_<day>`: one table per day of per-minute counts, one row per hour and dimension
  (a ranking by query reads no other counts), kept longer;
- `gaps`: the spans when a sample was due and not taken, and why.
Old data goes by dropping whole tables, oldest first: no row deletes that leave the file
full of holes until a VACUUM. Pages of a dropped table are reused by the next ones.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pgwarden.history import aggregate, encoding
from pgwarden.history.aggregate import Unit
from pgwarden.history.records import Tick

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 86400
SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Gap:
    """From when a sample was due and not taken, to the next sample taken (Unix seconds)."""

    start: float
    end: float
    reason: str


class StoreFull(Exception):
    """The store cannot grow: its disk is full. Nothing of the failed write was kept."""


class StoreError(Exception):
    """The store cannot be opened or read; the message says why."""


class HistorySink(Protocol):
    """Takes each tick as it is sampled; the embedded store is one, a fleet's engine another."""

    def record(self, tick: Tick, gap: Gap | None) -> None: ...

    def close(self) -> None: ...


class HistoryReader(Protocol):
    """What the /history routes read."""

    def last_at(self) -> float | None: ...

    def first_at(self) -> float | None: ...

    def tick_at(self, at: float) -> Tick | None: ...

    def gaps(self, start: float, end: float) -> list[Gap]: ...

    def tick_units(self, start: float, end: float, dimension: str | None) -> list[Unit]: ...

    def minute_tick_units(self, minutes: Sequence[int], dimension: str | None) -> list[Unit]: ...

    def minute_units(self, start: float, end: float, dimension: str | None) -> list[Unit]: ...


@dataclass(frozen=True, slots=True)
class Retention:
    keep: float = 7 * DAY
    keep_rollups: float = 90 * DAY
    max_bytes: int = 1 << 30


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


def _hour(at: float) -> int:
    return math.floor(at / HOUR) * HOUR


def _day(at: float) -> int:
    return math.floor(at / DAY) * DAY


def _chunks(conn: sqlite3.Connection, prefix: str) -> list[int]:
    """Start times of a kind of chunk table, oldest first (names are `<prefix>_<start>`)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? || '\\_%' ESCAPE '\\'",
        (prefix,),
    ).fetchall()
    return sorted(int(name.rpartition("_")[2]) for (name,) in rows)


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
            )
        else:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from None
    return conn


class SQLiteStore:
    """The embedded store: a sink for one writer thread and a reader for any thread."""

    def __init__(self, path: Path, interval: float, retention: Retention | None = None) -> None:
        self.path = path
        self.interval = interval
        self.retention = retention or Retention()
        self._write: sqlite3.Connection | None = None
        self._read: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._pending: list[Tick] = []
        self._hour_minutes: tuple[int, list[Unit]] | None = None
        self._last_at: float | None = None

    # ------------------------------------------------------------ writing

    def open_for_writing(self) -> None:
        """Create the file if need be and take back the ticks a previous run left pending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(self.path)
        try:
            # WAL: readers never wait for the writer. synchronous=FULL syncs the log at each
            # commit, so even a power loss costs at most the tick being written; a single
            # fsync of a few KiB a second is cheap next to a sample.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA journal_size_limit = 8388608")
            conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS pending (at REAL PRIMARY KEY, block BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS gaps (
                    start REAL NOT NULL, "end" REAL NOT NULL, reason TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS gaps_end ON gaps ("end");
                INSERT OR IGNORE INTO meta VALUES ('schema', '1');
                """
            )
            pending = conn.execute("SELECT block FROM pending ORDER BY at").fetchall()
        except sqlite3.Error as exc:
            conn.close()
            if _is_full(exc):
                raise StoreFull(str(exc)) from None
            raise StoreError(f"{self.path}: {exc}") from None
        self._write = conn
        self._pending = [t for (blob,) in pending for t in encoding.decode_block(blob)]
        self._last_at = self._pending[-1].at if self._pending else self._last_block_at(conn)

    def _last_block_at(self, conn: sqlite3.Connection) -> float | None:
        for hour in reversed(_chunks(conn, "raw")):
            row = conn.execute(f"SELECT max(last) FROM raw_{hour}").fetchone()
            if row and row[0] is not None:
                return float(row[0])
        return None

    @property
    def last_recorded(self) -> float | None:
        """The time of the latest tick this store holds (the writer's view)."""
        return self._last_at

    def record(self, tick: Tick, gap: Gap | None) -> None:
        """Keep one tick (and the gap before it) in one transaction; StoreFull keeps nothing."""
        conn = self._write
        if conn is None:
            raise StoreError("the store is not open for writing")
        flushing = bool(self._pending) and aggregate.minute_of(
            self._pending[0].at
        ) != aggregate.minute_of(tick.at)
        hour_minutes = self._hour_minutes
        try:
            conn.execute("BEGIN IMMEDIATE")
            if gap is not None:
                conn.execute("INSERT INTO gaps VALUES (?, ?, ?)", (gap.start, gap.end, gap.reason))
            if flushing:
                hour_minutes = self._flush(conn, self._pending)
                conn.execute("DELETE FROM pending")  # at most a minute of rows: pages reused
            conn.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?)",
                (tick.at, encoding.encode_block([tick], encoding.PENDING_LEVEL)),
            )
            if flushing:
                self._expire(conn, tick.at)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if _is_full(exc):
                raise StoreFull(str(exc)) from None
            raise StoreError(f"{self.path}: {exc}") from None
        if flushing:
            self._pending = []
            self._hour_minutes = hour_minutes
        self._pending.append(tick)
        self._last_at = tick.at

    def write_block(self, ticks: Sequence[Tick]) -> None:
        """Keep a whole minute of ticks at once, as one block (bulk loads: the bench's week)."""
        conn = self._write
        if conn is None:
            raise StoreError("the store is not open for writing")
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._hour_minutes = self._flush(conn, ticks)
            self._expire(conn, ticks[-1].at)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._last_at = ticks[-1].at

    def _flush(self, conn: sqlite3.Connection, ticks: Sequence[Tick]) -> tuple[int, list[Unit]]:
        """The pending minute as one block row, and its rollup merged into its hour's row."""
        minute = aggregate.minute_of(ticks[0].at)
        hour, day = _hour(minute), _day(minute)
        counts = [aggregate.tick_counts(t) for t in ticks]
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS raw_{hour} (minute INTEGER PRIMARY KEY, "
            "first REAL NOT NULL, last REAL NOT NULL, sessions BLOB NOT NULL, counts BLOB NOT NULL)"
        )
        conn.execute(
            f"INSERT OR REPLACE INTO raw_{hour} VALUES (?, ?, ?, ?, ?)",
            (
                minute,
                ticks[0].at,
                ticks[-1].at,
                encoding.encode_block(ticks),
                aggregate.encode_tick_counts([t.at for t in ticks], counts),
            ),
        )
        units = aggregate.rollup(Unit.of_tick(t.at, c) for t, c in zip(ticks, counts, strict=True))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS rollup_{day} (hour INTEGER NOT NULL, "
            "dimension TEXT NOT NULL, minutes BLOB NOT NULL, PRIMARY KEY (hour, dimension))"
        )
        if self._hour_minutes is not None and self._hour_minutes[0] == hour:
            minutes = list(self._hour_minutes[1])
        else:
            minutes = self._rollup_hour(conn, day, hour)
        minutes = [m for m in minutes if m.at != minute] + units
        conn.executemany(
            f"INSERT OR REPLACE INTO rollup_{day} VALUES (?, ?, ?)",
            [
                (hour, dimension, aggregate.encode_minutes(aggregate.only(minutes, dimension)))
                for dimension in aggregate.DIMENSIONS
            ],
        )
        return hour, minutes

    @staticmethod
    def _rollup_hour(conn: sqlite3.Connection, day: int, hour: int) -> list[Unit]:
        rows = conn.execute(f"SELECT minutes FROM rollup_{day} WHERE hour = ?", (hour,))
        return aggregate.merge_dimensions(aggregate.decode_minutes(blob) for (blob,) in rows)

    def _expire(self, conn: sqlite3.Connection, now: float) -> None:
        """Drop raw hours past `keep`, rollup days past `keep_rollups`, then the oldest raw hours
        (and, if need be, rollup days) until the file is back under `max_bytes`."""
        keep = self.retention
        raw = _chunks(conn, "raw")
        days = _chunks(conn, "rollup")
        current_hour, current_day = _hour(now), _day(now)
        for hour in [h for h in raw if h + HOUR <= now - keep.keep]:
            conn.execute(f"DROP TABLE raw_{hour}")
            raw.remove(hour)
        for day in [d for d in days if d + DAY <= now - keep.keep_rollups]:
            conn.execute(f"DROP TABLE rollup_{day}")
            days.remove(day)
            conn.execute('DELETE FROM gaps WHERE "end" < ?', (day + DAY,))
        while self._used_bytes(conn) > keep.max_bytes:
            if len(raw) > 1 and raw[0] < current_hour:
                conn.execute(f"DROP TABLE raw_{raw.pop(0)}")
            elif len(days) > 1 and days[0] < current_day:
                conn.execute(f"DROP TABLE rollup_{days.pop(0)}")
            elif days and not self._drop_oldest_rollup_hour(conn, days[-1], current_hour):
                break

    @staticmethod
    def _drop_oldest_rollup_hour(conn: sqlite3.Connection, day: int, current_hour: int) -> bool:
        """Last resort under the cap (today's rollups alone are too big: thousands of distinct
        query texts): the oldest hour of today's rollups goes, one row per dimension."""
        deleted = conn.execute(
            f"DELETE FROM rollup_{day} WHERE hour = (SELECT min(hour) FROM rollup_{day}) "
            "AND hour < ?",
            (current_hour,),
        )
        return deleted.rowcount > 0

    @staticmethod
    def _used_bytes(conn: sqlite3.Connection) -> int:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def close(self) -> None:
        """Write the pending minute as a block (best effort) and close."""
        conn, self._write = self._write, None
        if conn is not None:
            try:
                if self._pending:
                    conn.execute("BEGIN IMMEDIATE")
                    self._flush(conn, self._pending)
                    conn.execute("DELETE FROM pending")
                    conn.execute("COMMIT")
                    self._pending = []
            except sqlite3.Error as exc:
                log.warning("history: pending samples left for the next start: %s", exc)
            finally:
                conn.close()
        with self._read_lock:
            if self._read is not None:
                self._read.close()
                self._read = None

    # ------------------------------------------------------------ reading

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock:
            if self._read is None:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: no history recorded here")
                self._read = _connect(self.path, readonly=True)
            try:
                self._read.execute("BEGIN")  # one consistent view for the whole read
                yield self._read
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from None
            finally:
                if self._read.in_transaction:
                    self._read.execute("COMMIT")

    def last_at(self) -> float | None:
        with self._reading() as conn:
            row = conn.execute("SELECT max(at) FROM pending").fetchone()
            if row[0] is not None:
                return float(row[0])
            return self._last_block_at(conn)

    def first_at(self) -> float | None:
        with self._reading() as conn:
            for hour in _chunks(conn, "raw"):
                row = conn.execute(f"SELECT min(first) FROM raw_{hour}").fetchone()
                if row[0] is not None:
                    return float(row[0])
            row = conn.execute("SELECT min(at) FROM pending").fetchone()
            return float(row[0]) if row[0] is not None else None

    def tick_at(self, at: float) -> Tick | None:
        """The last tick at or before `at`, if the store still holds it."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT block FROM pending WHERE at <= ? ORDER BY at DESC LIMIT 1", (at,)
            ).fetchone()
            if row is not None:
                return encoding.decode_block(row[0])[-1]
            for hour in reversed(_chunks(conn, "raw")):
                if hour > at:
                    continue
                row = conn.execute(
                    f"SELECT sessions FROM raw_{hour} WHERE first <= ? ORDER BY minute DESC "
                    "LIMIT 1",
                    (at,),
                ).fetchone()
                if row is not None:
                    return encoding.decode_block(row[0], at)[-1]
            return None

    def gaps(self, start: float, end: float) -> list[Gap]:
        with self._reading() as conn:
            rows = conn.execute(
                'SELECT start, "end", reason FROM gaps WHERE "end" > ? AND start < ? '
                "ORDER BY start",
                (start, end),
            ).fetchall()
        return [Gap(float(a), float(b), str(reason)) for a, b, reason in rows]

    def tick_units(self, start: float, end: float, dimension: str | None) -> list[Unit]:
        """Per-tick counts of the ticks in [start, end)."""
        units: list[Unit] = []
        with self._reading() as conn:
            for hour in _chunks(conn, "raw"):
                if hour + HOUR <= start or hour >= end:
                    continue
                rows = conn.execute(
                    f"SELECT counts FROM raw_{hour} WHERE minute < ? AND last >= ? ORDER BY minute",
                    (end, start),
                ).fetchall()
                for (blob,) in rows:
                    units.extend(aggregate.decode_tick_counts(blob, dimension))
            pending = conn.execute(
                "SELECT block FROM pending WHERE at >= ? AND at < ? ORDER BY at", (start, end)
            ).fetchall()
        for (blob,) in pending:
            for tick in encoding.decode_block(blob):
                units.append(Unit.of_tick(tick.at, aggregate.tick_counts(tick)))
        return [u for u in units if start <= u.at < end]

    def minute_tick_units(self, minutes: Sequence[int], dimension: str | None) -> list[Unit]:
        """Per-tick counts of the given minutes (those a bucket boundary cuts), kept or pending."""
        by_hour: dict[int, list[int]] = {}
        for minute in minutes:
            by_hour.setdefault(_hour(minute), []).append(minute)
        units: list[Unit] = []
        with self._reading() as conn:
            present = set(_chunks(conn, "raw"))
            for hour, wanted in sorted(by_hour.items()):
                if hour not in present:
                    continue
                marks = ",".join("?" * len(wanted))
                rows = conn.execute(
                    f"SELECT counts FROM raw_{hour} WHERE minute IN ({marks}) ORDER BY minute",
                    wanted,
                ).fetchall()
                for (blob,) in rows:
                    units.extend(aggregate.decode_tick_counts(blob, dimension))
            pending = conn.execute("SELECT block FROM pending ORDER BY at").fetchall()
        wanted_minutes = set(minutes)
        for (blob,) in pending:
            for tick in encoding.decode_block(blob):
                if aggregate.minute_of(tick.at) in wanted_minutes:
                    units.append(Unit.of_tick(tick.at, aggregate.tick_counts(tick)))
        return units

    def minute_units(self, start: float, end: float, dimension: str | None) -> list[Unit]:
        """Per-minute rollups of the minutes wholly inside [start, end)."""
        units: list[Unit] = []
        with self._reading() as conn:
            for day in _chunks(conn, "rollup"):
                if day + DAY <= start or day >= end:
                    continue
                rows = conn.execute(
                    f"SELECT dimension, minutes FROM rollup_{day} WHERE hour < ? "
                    "AND hour + 3600 > ? AND (dimension = ? OR ? IS NULL) ORDER BY hour",
                    (end, start, dimension, dimension),
                ).fetchall()
                parts: dict[str, list[Unit]] = {}
                for name, blob in rows:
                    parts.setdefault(name, []).extend(aggregate.decode_minutes(blob))
                units.extend(aggregate.merge_dimensions(parts.values()))
        return [u for u in units if start <= u.at and u.at + 60 <= end]
