"""The answers of the /history routes (and of `pgwarden history`), from a HistoryReader."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from pgwarden.history import aggregate
from pgwarden.history.aggregate import Unit
from pgwarden.history.records import Tick
from pgwarden.history.store import Gap, HistoryReader

# A sample is missed when the next one comes later than this many intervals after it.
GAP_TOLERANCE = 1.5
MAX_WINDOW = 31 * 86400
MAX_BUCKETS = 1000
MAX_STEP_BUCKETS = 100_000
_NUMBER = re.compile(r"^-?\d{1,12}(\.\d{1,9})?$")


class BadTime(ValueError):
    """Neither Unix seconds nor ISO 8601 with an offset."""


class NoSample(LookupError):
    """No sample stands for the time asked; the message says why (and which gap)."""


def parse_time(text: str) -> float:
    """Unix seconds, or ISO 8601 with an offset or Z, as Unix seconds."""
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadTime(text) from None
    if moment.tzinfo is None:
        raise BadTime(text)
    return moment.timestamp()


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def default_step(start: float, end: float, interval: float) -> float:
    """The smallest multiple of the interval that gives at most MAX_BUCKETS buckets."""
    multiple = max(1, math.ceil((end - start) / interval / MAX_BUCKETS))
    step = multiple * interval
    return float(int(step)) if step == int(step) else step


class History:
    """Reads of the store, with gaps accounted for: a gap is never read as an idle server."""

    def __init__(self, reader: HistoryReader, interval: float) -> None:
        self.reader = reader
        self.interval = interval

    def _open_gap(self, start: float, end: float, now: float) -> Gap | None:
        """The span since the last sample, when the one due after it was not taken."""
        last = self.reader.last_at()
        if last is None:
            return None
        due = last + self.interval
        stop = min(end, now)
        if last + GAP_TOLERANCE * self.interval < stop and due < stop:
            return Gap(due, stop, "not sampling since then")
        return None

    def gaps(self, start: float, end: float, now: float) -> list[Gap]:
        found = self.reader.gaps(start, end)
        open_gap = self._open_gap(start, end, now)
        if open_gap is not None and open_gap.end > start:
            found.append(open_gap)
        return found

    def tick_at(self, at: float, now: float) -> Tick:
        """The last sample at or before `at`; NoSample when there is none or `at` is in a gap."""
        for gap in self.reader.gaps(at, at + 1e-6):
            if gap.start <= at < gap.end:
                raise NoSample(
                    f"No sample at {iso(at)}: the agent was not sampling from {iso(gap.start)} "
                    f"to {iso(gap.end)} ({gap.reason})."
                )
        tick = self.reader.tick_at(at)
        if tick is None:
            first = self.reader.first_at()
            if first is None:
                raise NoSample(f"No sample at or before {iso(at)}: nothing is recorded yet.")
            raise NoSample(f"No sample at or before {iso(at)}: the history starts at {iso(first)}.")
        if at - tick.at > GAP_TOLERANCE * self.interval:
            last = self.reader.last_at()
            until = "now" if last is None or last <= tick.at else "the next sample"
            raise NoSample(
                f"No sample at {iso(at)}: the agent was not sampling from "
                f"{iso(tick.at + self.interval)} to {until}."
            )
        return tick

    def _units(self, start: float, end: float, step: float, dimension: str) -> list[Unit]:
        """Per-minute rollups where whole minutes fall in one bucket (steps of a minute or
        more), per-tick counts elsewhere: the answer is the same as from ticks alone."""
        if step < 60:
            return self.reader.tick_units(start, end, dimension)
        minutes = self.reader.minute_units(start, end, dimension)
        low = math.ceil(start / 60) * 60
        covered_until = max((u.at + 60 for u in minutes), default=low)
        ticks = self.reader.tick_units(start, min(low, end), dimension)
        if covered_until < end:  # the minute being recorded, and the edge after the last one
            ticks += self.reader.tick_units(max(covered_until, low), end, dimension)
        if step % 60:
            # A bucket boundary inside a minute: that minute is counted from its ticks.
            first = math.floor(start / step) + 1
            cut = {
                math.floor(b * step / 60) * 60
                for b in range(first, math.ceil(end / step))
                if (b * step) % 60
            }
            cut = {m for m in cut if low <= m < covered_until}
            if cut:
                minutes = [u for u in minutes if u.at not in cut]
                ticks += self.reader.minute_tick_units(sorted(cut), dimension)
        return minutes + ticks

    def load(
        self, start: float, end: float, step: float, dimension: str, now: float
    ) -> dict[str, Any]:
        series = aggregate.load_series(self._units(start, end, step, dimension), dimension, step)
        return {
            "from": start,
            "to": end,
            "step": step,
            "by": dimension,
            "series": [{"key": s.key, "points": s.points} for s in series],
            "gaps": [[g.start, g.end] for g in self.gaps(start, end, now)],
        }

    def top(
        self, start: float, end: float, dimension: str, limit: int, include_idle: bool
    ) -> list[dict[str, Any]]:
        # Minute rollups where whole minutes are covered: a step of 60 takes that path.
        units = self._units(start, end, 60.0, dimension)
        return [
            {"key": r.key, "aas": r.aas, "peak": r.peak, "samples": r.samples}
            for r in aggregate.top(units, dimension, limit, include_idle)
        ]
