"""Feeds the history from the sampler's snapshots, one tick per interval, writing in a thread.

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
from pgwarden.models import RecorderStats
from pgwarden.sampler import Sampler

log = logging.getLogger(__name__)

AGENT_STOPPED = "agent not running"
LATE = "no sample taken in time"


class Recorder:
    def __init__(
        self, sampler: Sampler, store: SQLiteStore, extra_sinks: tuple[HistorySink, ...] = ()
    ) -> None:
        self._sampler = sampler
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
        due = time.monotonic()
        while True:
            try:
                snapshot = await self._sampler.snapshot()
            except Exception as exc:  # the sampler counts and logs it; here it is a missed tick
                self.stats.missed += 1
                self._why_missed = f"PostgreSQL unavailable: {exc}"
            else:
                tick = records.tick_of(snapshot)
                await loop.run_in_executor(self._writer, self._write, tick)
            # Ticks stay on the interval's grid; a late one skips what it overran.
            due += self._interval
            now = time.monotonic()
            if due < now:
                due = now + self._interval - (now - due) % self._interval
            await asyncio.sleep(due - now)

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
