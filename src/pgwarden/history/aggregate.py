"""Sessions counted by key, per tick and per minute, and folded into load series and rankings;
pure.

Load is counted as the average active sessions of Performance Insights: in a bucket, the
session-samples with a key over the samples taken. Units are what the store keeps: one per
tick (exact at any step) or one per minute (rollups, kept longer); both fold the same way.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from pgwarden.history.records import SessionSample, Tick

DIMENSIONS = (
    "wait_event_type",
    "wait_event",
    "query",
    "user",
    "database",
    "application",
    "client",
    "state",
)
# Wait classes of sessions waiting for their client or for work: not load worth ranking.
IDLE_WAIT_TYPES = frozenset({"Client", "Activity", "Timeout"})
CPU = "CPU"

Key = str | None
Counts = dict[str, dict[Key, int]]


def key_of(session: SessionSample, dimension: str) -> Key:
    """What a session counts under; a session waiting on nothing counts as CPU."""
    if dimension == "wait_event_type":
        return session.wait_event_type or CPU
    if dimension == "wait_event":
        if session.wait_event_type is None:
            return CPU
        return f"{session.wait_event_type}:{session.wait_event}"
    if dimension == "query":
        return session.query
    if dimension == "user":
        return session.user
    if dimension == "database":
        return session.database
    if dimension == "application":
        return session.application
    if dimension == "client":
        return session.client
    if dimension == "state":
        return session.state
    raise ValueError(f"unknown dimension {dimension!r}")


def is_idle_wait(key: Key) -> bool:
    return key is not None and key.partition(":")[0] in IDLE_WAIT_TYPES


def tick_counts(tick: Tick) -> Counts:
    return {
        dimension: dict(Counter(key_of(s, dimension) for s in tick.sessions))
        for dimension in DIMENSIONS
    }


@dataclass(slots=True)
class Unit:
    """Session-samples counted over `ticks` samples starting at `at`: one tick or one minute."""

    at: float
    ticks: int
    sums: Counts
    peaks: Counts = field(default_factory=dict)

    @classmethod
    def of_tick(cls, at: float, counts: Counts) -> Unit:
        return cls(at, 1, counts, counts)


def minute_of(at: float) -> int:
    return math.floor(at / 60) * 60


def rollup(units: Iterable[Unit]) -> list[Unit]:
    """Per-tick units merged minute by minute, with the most sessions any one tick had."""
    minutes: dict[int, Unit] = {}
    for unit in units:
        minute = minute_of(unit.at)
        merged = minutes.get(minute)
        if merged is None:
            merged = minutes[minute] = Unit(minute, 0, {}, {})
        merged.ticks += unit.ticks
        for dimension, counts in unit.sums.items():
            sums = merged.sums.setdefault(dimension, {})
            peaks = merged.peaks.setdefault(dimension, {})
            for key, count in counts.items():
                sums[key] = sums.get(key, 0) + count
                peak = unit.peaks.get(dimension, {}).get(key, count)
                if peak > peaks.get(key, 0):
                    peaks[key] = peak
    return [minutes[m] for m in sorted(minutes)]


# ------------------------------------------------------------------ stored forms


def encode_tick_counts(times: Sequence[float], counts: Sequence[Counts]) -> bytes:
    """Per-tick counts of a block: per dimension, its keys once and a count series per key."""
    dimensions = {}
    for dimension in DIMENSIONS:
        keys = list(dict.fromkeys(k for c in counts for k in c.get(dimension, {})))
        dimensions[dimension] = [
            keys,
            [[c.get(dimension, {}).get(k, 0) for c in counts] for k in keys],
        ]
    payload = {"t": [round(t * 1000) for t in times], "d": dimensions}
    return zlib.compress(orjson.dumps(payload), 6)


def decode_tick_counts(blob: bytes, dimension: str | None = None) -> list[Unit]:
    """Per-tick units of a block, with every dimension or only the one asked for."""
    data = orjson.loads(zlib.decompress(blob))
    times = data["t"]
    counts: list[Counts] = [{} for _ in times]
    wanted = DIMENSIONS if dimension is None else (dimension,)
    for name in wanted:
        keys, series = data["d"][name]
        for tick_counts_ in counts:
            tick_counts_[name] = {}
        for key, values in zip(keys, series, strict=True):
            for index, value in enumerate(values):
                if value:
                    counts[index][name][key] = value
    return [Unit.of_tick(t / 1000, c) for t, c in zip(times, counts, strict=True)]


def only(units: Sequence[Unit], dimension: str) -> list[Unit]:
    """The units with one dimension's counts: each dimension is stored (and read) apart."""
    return [
        Unit(u.at, u.ticks, {dimension: u.sums.get(dimension, {})},
             {dimension: u.peaks.get(dimension, {})})
        for u in units
    ]  # fmt: skip


def merge_dimensions(parts: Iterable[Sequence[Unit]]) -> list[Unit]:
    """Units of the same minutes, one dimension each, as units with every dimension."""
    merged: dict[float, Unit] = {}
    for units in parts:
        for u in units:
            whole = merged.setdefault(u.at, Unit(u.at, u.ticks, {}, {}))
            whole.sums.update(u.sums)
            whole.peaks.update(u.peaks)
    return [merged[at] for at in sorted(merged)]


def encode_minutes(units: Sequence[Unit]) -> bytes:
    """Minute rollups (an hour of them, say) as one blob: texts repeat within it and fold."""
    payload = [
        [
            unit.at,
            unit.ticks,
            {
                dimension: [[key, total, unit.peaks[dimension][key]] for key, total in sums.items()]
                for dimension, sums in unit.sums.items()
            },
        ]
        for unit in units
    ]
    return zlib.compress(orjson.dumps(payload), 6)


def decode_minutes(blob: bytes, dimension: str | None = None) -> list[Unit]:
    units = []
    for at, ticks, dimensions in orjson.loads(zlib.decompress(blob)):
        sums: Counts = {}
        peaks: Counts = {}
        for name, rows in dimensions.items():
            if dimension is not None and name != dimension:
                continue
            sums[name] = {key: total for key, total, _ in rows}
            peaks[name] = {key: peak for key, _, peak in rows}
        units.append(Unit(at, ticks, sums, peaks))
    return units


# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class Series:
    key: Key
    points: list[tuple[float, float]]


def load_series(units: Iterable[Unit], dimension: str, step: float) -> list[Series]:
    """Average sessions per key in each bucket of `step` seconds (aligned on multiples of it);
    a bucket with no sample has no point, a sampled bucket has one for every key."""
    ticks: dict[float, int] = {}
    sums: dict[float, dict[Key, int]] = {}
    totals: dict[Key, int] = {}
    for unit in units:
        start = math.floor(unit.at / step) * step
        ticks[start] = ticks.get(start, 0) + unit.ticks
        bucket = sums.setdefault(start, {})
        for key, count in unit.sums.get(dimension, {}).items():
            bucket[key] = bucket.get(key, 0) + count
            totals[key] = totals.get(key, 0) + count
    starts = sorted(ticks)
    return [
        Series(key, [(start, round(sums[start].get(key, 0) / ticks[start], 3)) for start in starts])
        for key in sorted(totals, key=lambda k: -totals[k])
    ]


@dataclass(frozen=True, slots=True)
class Ranked:
    key: Key
    aas: float
    peak: int
    samples: int


def top(
    units: Iterable[Unit], dimension: str, limit: int, include_idle: bool = False
) -> list[Ranked]:
    """Keys by average sessions over the window's sampled ticks; idle waits left out of wait
    rankings unless asked for."""
    ticks = 0
    sums: dict[Key, int] = {}
    peaks: dict[Key, int] = {}
    for unit in units:
        ticks += unit.ticks
        unit_peaks = unit.peaks.get(dimension, {})
        for key, count in unit.sums.get(dimension, {}).items():
            sums[key] = sums.get(key, 0) + count
            peak = unit_peaks.get(key, count)
            if peak > peaks.get(key, 0):
                peaks[key] = peak
    waits = dimension in ("wait_event_type", "wait_event")
    rows = [
        Ranked(key, round(total / ticks, 3), peaks[key], total)
        for key, total in sums.items()
        if include_idle or not waits or not is_idle_wait(key)
    ]
    rows.sort(key=lambda r: (-r.samples, str(r.key)))
    return rows[:limit]
