"""Feeds the history from the shared tick loop's snapshots (the ones live viewers get), one
per [history] interval, writing in a thread.

A tick that cannot be kept (PostgreSQL down, disk full) is not invented: the next one kept
carries the gap before it, with the reason. A full disk pauses recording; every tick retries,
so recording resumes by itself once there is space again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from pgwarden.history import records
from pgwarden.history.reading import GAP_TOLERANCE
from pgwarden.history.records import Tick
from pgwarden.history.store import Gap, HistorySink, SQLiteStore, StoreError, StoreFull
from pgwarden.models import RecorderStats, Scope
from pgwarden.ticker import Ticker

log = logging.getLogger(__name__)

AGENT_STOPPED = "agent not running"
LATE = "no sample taken in time"


class Recorder:
    def __init__(
        self, ticker: Ticker, store: SQLiteStore, extra_sinks: tuple[HistorySink, ...] = ()
    ) -> None:
        self._ticker = ticker
        self._store = store
        self._sinks: tuple[HistorySink, ...] = (store, *extra_sinks)
        self._interval = store.interval
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._why_missed = AGENT_STOPPED
        self.stats = RecorderStats()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._open)
        self._task = asyncio.create_task(self._run())

    def _open(self) -> None:
        try:
            self._store.open_for_writing()
        except StoreFull as exc:
            self._pause(f"disk full: {exc}")
        except (StoreError, OSError) as exc:
            self._pause(f"store unusable: {exc}")
        else:
            self._opened = True
            self.stats.recording = True

    def _pause(self, reason: str) -> None:
        if self.stats.paused is None:
            log.error("history recording paused: %s", reason)
        self.stats.recording = False
        self.stats.paused = reason

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        kept_at: float | None = None
        # Only the sessions at work: records.tick_of keeps no others.
        async with self._ticker.subscribe(Scope.AT_WORK) as ticks:
            async for tick in ticks:
                if tick.snapshot is None:  # the sampler logged why; here it is a missed tick
                    self.stats.missed += 1
                    self._why_missed = tick.error or "no snapshot"
                    continue
                at = tick.snapshot.taken_at.timestamp()
                # A [history] interval longer than the loop's keeps one tick in so many: the
                # first at least an interval after the last kept, give or take half a tick.
                if (
                    kept_at is not None
                    and at - kept_at < self._interval - self._ticker.interval / 2
                ):
                    continue
                kept_at = at
                sample = records.tick_of(tick.snapshot)
                await loop.run_in_executor(self._writer, self._write, sample)

    def _write(self, tick: Tick) -> None:
        """In the writer thread: keep one tick in every sink, with the gap before it."""
        if not self._opened:
            self._open()
            if not self._opened:
                self.stats.missed += 1
                return
        last = self._store.last_recorded
        gap = None
        if last is not None and tick.at - last > GAP_TOLERANCE * self._interval:
            gap = Gap(last + self._interval, tick.at, self._why_missed)
        started = time.perf_counter()
        try:
            self._store.record(tick, gap)
        except StoreFull as exc:
            self.stats.missed += 1
            self._why_missed = "recording paused: disk full"
            self._pause(f"disk full: {exc}")
            return
        except StoreError as exc:
            self.stats.missed += 1
            self._why_missed = "recording paused: the store failed"
            self._pause(str(exc))
            return
        for sink in self._sinks[1:]:
            try:
                sink.record(tick, gap)
            except Exception:
                log.exception("history sink %r failed; the embedded store has the tick", sink)
        if self.stats.paused is not None:
            log.info("history recording resumed")
        self.stats.paused = None
        self.stats.recording = True
        self.stats.ticks += 1
        self.stats.last_write_seconds = time.perf_counter() - started
        self._why_missed = LATE

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        loop = asyncio.get_running_loop()
        for sink in self._sinks:
            await loop.run_in_executor(self._writer, sink.close)
        self._writer.shutdown(wait=True)
