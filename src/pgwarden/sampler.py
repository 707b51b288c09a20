"""Snapshots of the cluster: one SQL round trip plus one /proc pass, shared by concurrent callers.

A caller never gets a snapshot that started before it asked: callers that arrive while one
is being taken wait for the next, which they all share, taken as wide as the widest of them
asks (models.Scope: every backend, or only those at work, with no server or host figures,
which is all the history recorder needs). The /proc pass runs in a thread,
at the same time as the SQL query, over the postmaster's children. Rows become Backends in
rows.py; locks on relations of other databases are named here, with locks.py deciding which
need a name and db/relations.py reading them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from pgwarden import locks, proc
from pgwarden.db.database import Database, DatabaseUnavailable
from pgwarden.db.relations import RelationNames
from pgwarden.host import HostReader
from pgwarden.models import Backend, SamplerStats, Scope, ServerFigures, Snapshot
from pgwarden.overview import transaction_rates
from pgwarden.rows import backend_row, server_row

log = logging.getLogger(__name__)

# A snapshot asked for within BURST_GAP of the last one waits GATHER_SECONDS for more callers.
BURST_GAP = 0.005
GATHER_SECONDS = 0.001
# While no local postmaster matches, look again this often (PostgreSQL may move here).
RECHECK_SECONDS = 30.0
NOT_CHECKED = "PostgreSQL has not been reached yet"


async def name_other_relations(
    relations: RelationNames, backends: tuple[Backend, ...], server_version: int
) -> tuple[Backend, ...]:
    """The backends, every lock on a relation of another database named or explained."""
    wanted = locks.unnamed_relations(backends)
    if not wanted:
        return backends
    names, failures = await relations.read(wanted, server_version)
    return locks.name_relations(backends, names, failures)


class Sampler:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._history = proc.ProcessHistory()
        self._reader = proc.ProcReader()
        self._waiting: list[tuple[asyncio.Future[Snapshot], Scope]] = []
        self._worker: asyncio.Task[None] | None = None
        self._follow_up: asyncio.Task[None] | None = None
        self._postmaster_pid: int | None = None
        self._checked_at: float | None = None
        # Why process figures are unavailable (None: they are read); for /status.
        self.figures_unavailable: str | None = NOT_CHECKED
        self._last_done = 0.0
        self._host = HostReader()
        # The previous server counters and when they were read: rates are taken between them.
        self._last_server: tuple[ServerFigures, float] | None = None
        self.stats = SamplerStats()

    async def snapshot(self, scope: Scope = Scope.EVERY_BACKEND) -> Snapshot:
        """A snapshot taken after this call began, of `scope` or wider."""
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self._waiting.append((future, scope))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._serve_waiting())
        return await future

    async def _serve_waiting(self) -> None:
        while self._waiting:
            if time.monotonic() - self._last_done < BURST_GAP:
                # Callers are coming back to back: the ones just answered are about to ask
                # again. Wait for them a moment, so they share the next snapshot with those
                # already waiting instead of needing one more (it still starts after them all).
                await asyncio.sleep(GATHER_SECONDS)
            batch, self._waiting = self._waiting, []
            try:
                snapshot = await self._take(Scope.widest(scope for _, scope in batch))
            except Exception as exc:
                self.stats.errors += 1
                for future, _ in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for future, _ in batch:
                    if not future.done():
                        future.set_result(snapshot)
            self._last_done = time.monotonic()

    async def prime(self) -> None:
        """Read every backend process once at start-up, so the first poll already has rates."""
        try:
            await self._find_postmaster()
        except DatabaseUnavailable as exc:
            log.warning("PostgreSQL is unavailable at start-up: %s", exc)
            return
        pids = proc.child_pids(self._postmaster_pid) if self._postmaster_pid else None
        if pids:
            readings = await asyncio.to_thread(self._reader.read, pids)
            self._history.observe(readings, complete=False)

    async def _find_postmaster(self) -> None:
        """The parent of the agent's backend, if it is this cluster's postmaster.

        Only then are the pids PostgreSQL reports local processes: an agent beside a
        PostgreSQL in a container or on another host would otherwise read unrelated ones.
        """
        self._checked_at = time.monotonic()
        ((own_pid, started),) = await self._db.query(self._db.monitor, "postmaster")
        own = proc.read_process(own_pid)
        parent = proc.read_process(own.parent_pid) if own else None
        reason = proc.postmaster_mismatch(
            own_pid, own, parent, started, wall_now=time.time(), boot_now=proc.clock()
        )
        self._postmaster_pid = parent.pid if parent and reason is None else None
        was_available = self.figures_unavailable is None
        if reason is not None and (was_available or self.figures_unavailable == NOT_CHECKED):
            log.warning("process figures are unavailable (shown as N/A): %s", reason)
        elif reason is None and not was_available and self.figures_unavailable != NOT_CHECKED:
            log.info("process figures are available again: postmaster %s", self._postmaster_pid)
        self.figures_unavailable = reason

    def _postmaster_due(self) -> bool:
        if self._checked_at is None or self.figures_unavailable is None:
            return True  # never looked, or the postmaster just went away
        return time.monotonic() - self._checked_at >= RECHECK_SECONDS

    async def _take(self, scope: Scope) -> Snapshot:
        started = time.perf_counter()
        every_backend = scope is Scope.EVERY_BACKEND
        loop = asyncio.get_running_loop()
        children = proc.child_pids(self._postmaster_pid) if self._postmaster_pid else None
        if children is None and self._postmaster_due():
            await self._find_postmaster()  # restarted, or never found
            children = proc.child_pids(self._postmaster_pid) if self._postmaster_pid else None
        query = asyncio.ensure_future(
            self._db.fetch(
                self._db.monitor, "activity", backend_row, {"every_backend": every_backend}
            )
        )
        early = None
        try:
            # Let the statement leave first: once the reader thread holds the GIL, sending
            # it could wait for a whole switch interval.
            await asyncio.sleep(0)
            if children:
                early = loop.run_in_executor(None, self._reader.read, children)
            rows = await query
            server = None
            if every_backend:  # the recorder keeps no server figures: spare it the round trip
                (server,) = await self._db.fetch(self._db.monitor, "overview", server_row)
        finally:
            query.cancel()  # no-op once done; stops it when the snapshot itself is cancelled
            readings = await early if early is not None else {}
        own = self._db.own_pids
        backends = tuple(b for b in rows if b.pid not in own)
        backends = await name_other_relations(
            self._db.relations, backends, self._db.monitor.server_version or 0
        )
        postmaster = self._postmaster_pid
        missing = [b.pid for b in backends if b.pid and b.pid not in readings]
        if missing and postmaster is not None:
            # Forked after the children were listed: theirs only if the postmaster's child.
            late = await asyncio.to_thread(self._reader.read, missing)
            readings.update((p, r) for p, r in late.items() if r.parent_pid == postmaster)
        self._reader.retain(readings)
        # Every child's reading is kept as a base, so a backend that starts work has a rate
        # at once; figures are made only for the backends the snapshot holds.
        wanted = None if every_backend else {b.pid for b in backends}
        figures = self._history.observe(readings, complete=True, wanted=wanted)
        self._schedule_follow_up(self._history.unbased)
        rates = host = None
        if server is not None:
            now = time.monotonic()
            previous, previous_at = self._last_server or (None, now)
            rates = transaction_rates(previous, server, now - previous_at)
            self._last_server = (server, now)
            host = self._host.read()
        self.stats.snapshots += 1
        self.stats.last_seconds = time.perf_counter() - started
        return Snapshot(
            datetime.now(UTC), backends, figures, server=server, rates=rates, host=host, scope=scope
        )

    def _schedule_follow_up(self, pids: list[int]) -> None:
        """New processes get a second reading soon, so the next poll shows their rates."""
        if pids and (self._follow_up is None or self._follow_up.done()):
            self._follow_up = asyncio.create_task(self._read_again(pids))

    async def _read_again(self, pids: list[int]) -> None:
        await asyncio.sleep(proc.BASE_SPACING)
        readings = await asyncio.to_thread(self._reader.read, pids)
        self._history.observe(readings, complete=False)

    async def close(self) -> None:
        running = [t for t in (self._worker, self._follow_up) if t is not None and not t.done()]
        for task in running:
            task.cancel()
        # Awaited, so a query in flight is cancelled on the server (psycopg sends the cancel
        # request) before the agent exits, rather than left waiting in a lock queue.
        await asyncio.gather(*running, return_exceptions=True)
        self._reader.close()
