"""Prometheus metrics of one snapshot and of the sampler itself; pure, never query text.

A fresh collector is built per scrape from the snapshot taken for it, so no gauge can go
stale between scrapes and nothing global is mutated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pgwarden import __version__, locks
from pgwarden.history import aggregate, records
from pgwarden.models import Backend, RecorderStats, SamplerStats, Snapshot

# The text format every Prometheus version reads (generate_latest writes exactly this).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Listed with 0 for every database that has client backends, so a state's series does not
# vanish (and leave a gap in graphs) the moment no backend is in it.
KNOWN_STATES = (
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
)
IDLE_IN_TRANSACTION = frozenset({"idle in transaction", "idle in transaction (aborted)"})
# Listed with 0 when no session is in them, for the same reason.
WAIT_EVENT_TYPES = (
    "CPU", "Activity", "BufferPin", "Client", "Extension", "IO", "IPC", "LWLock", "Lock", "Timeout",
)  # fmt: skip


def _longest(values: Iterable[float]) -> float:
    return max((max(value, 0.0) for value in values), default=0.0)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def backends_by_state(clients: Iterable[Backend]) -> dict[tuple[str, str], int]:
    """Client backends counted by (database, state), with 0 for the known states not seen."""
    counts = Counter((b.database or "", b.state or "unknown") for b in clients)
    for database in {database for database, _ in counts}:
        for state in KNOWN_STATES:
            counts.setdefault((database, state), 0)
    return dict(counts)


def snapshot_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    """What one snapshot says about the cluster."""
    clients = [b for b in snapshot.backends if b.is_client]

    backends = GaugeMetricFamily(
        "pgwarden_backends",
        "Client backends, by database and state.",
        labels=["database", "state"],
    )
    for (database, state), count in sorted(backends_by_state(clients).items()):
        backends.add_metric([database, state], count)
    yield backends

    sampled = records.tick_of(snapshot)
    active = GaugeMetricFamily(
        "pgwarden_active_sessions",
        "Sessions the history keeps (every one not idle, and idle blockers), by wait event "
        "type; CPU when waiting on nothing. Summed over time: the load in average active "
        "sessions.",
        labels=["wait_event_type"],
    )
    by_type = dict.fromkeys(WAIT_EVENT_TYPES, 0)
    for session in sampled.sessions:
        key = aggregate.key_of(session, "wait_event_type") or aggregate.CPU
        by_type[key] = by_type.get(key, 0) + 1
    for wait_type, count in sorted(by_type.items()):
        active.add_metric([wait_type], count)
    yield active

    waits = locks.lock_waits(snapshot.backends)
    yield _gauge(
        "pgwarden_backends_waiting",
        "Backends waiting for a heavyweight lock (the rows of /activity/waiting).",
        len(waits),
    )
    yield _gauge(
        "pgwarden_backends_blocking",
        "Backends or prepared transactions holding up at least one other "
        "(the rows of /activity/blocking).",
        len(locks.blockers(snapshot.backends, waits)),
    )
    yield _gauge(
        "pgwarden_longest_query_seconds",
        "Longest running query of an active client backend, seconds since its query_start; "
        "0 when none runs.",
        _longest(b.duration for b in clients if b.state == "active"),
    )
    yield _gauge(
        "pgwarden_longest_transaction_seconds",
        "Longest open transaction of a client backend, seconds since its xact_start; "
        "0 when none is open.",
        _longest(
            (snapshot.taken_at - b.xact_start).total_seconds()
            for b in clients
            if b.xact_start is not None
        ),
    )
    yield _gauge(
        "pgwarden_longest_idle_in_transaction_seconds",
        "Longest time a client backend has sat idle in transaction, counted from the start "
        "of its last query; 0 when none does.",
        _longest(b.duration for b in clients if b.state in IDLE_IN_TRANSACTION),
    )
    yield _gauge(
        "pgwarden_oldest_backend_xmin_age",
        "Age in transaction ids of the oldest backend_xmin in pg_stat_activity, which holds "
        "back vacuum; 0 when no backend has one.",
        max((b.xmin_age for b in snapshot.backends if b.pid and b.xmin_age), default=0),
    )


def history_metrics(stats: RecorderStats | None) -> Iterator[Metric]:
    """Whether history is being recorded, and why not."""
    yield _gauge(
        "pgwarden_history_recording",
        "1 while history samples are being kept; 0 when [history] is off or recording is paused.",
        1 if stats is not None and stats.recording else 0,
    )
    yield _gauge(
        "pgwarden_history_paused",
        "1 when history recording is paused (a full disk, an unusable store); it resumes by "
        "itself.",
        1 if stats is not None and stats.paused is not None else 0,
    )
    yield CounterMetricFamily(
        "pgwarden_history_samples",
        "History samples kept since the agent started.",
        value=stats.ticks if stats is not None else 0,
    )
    yield CounterMetricFamily(
        "pgwarden_history_missed",
        "History samples due and not kept (PostgreSQL down, disk full) since the agent started.",
        value=stats.missed if stats is not None else 0,
    )


def agent_metrics(stats: SamplerStats, postgresql_up: bool) -> Iterator[Metric]:
    """What the agent says about itself."""
    info = GaugeMetricFamily("pgwarden_info", "The agent's version.", labels=["version"])
    info.add_metric([__version__], 1)
    yield info
    yield _gauge(
        "pgwarden_postgresql_up",
        "1 when this scrape's snapshot was taken, 0 when PostgreSQL was unavailable or "
        "refused the agent's query.",
        1 if postgresql_up else 0,
    )
    yield CounterMetricFamily(
        "pgwarden_sampler_snapshots",
        "Snapshots taken since the agent started.",
        value=stats.snapshots,
    )
    yield CounterMetricFamily(
        "pgwarden_sampler_errors",
        "Snapshots that failed since the agent started.",
        value=stats.errors,
    )
    yield _gauge(
        "pgwarden_sampler_last_duration_seconds",
        "Time the latest successful snapshot took: one SQL round trip and one /proc pass.",
        stats.last_seconds,
    )


class ScrapeCollector(Collector):
    """One scrape: the snapshot taken for it (None when that failed) and the sampler's figures."""

    def __init__(
        self, snapshot: Snapshot | None, stats: SamplerStats, history: RecorderStats | None
    ) -> None:
        self.snapshot = snapshot
        self.stats = stats
        self.history = history

    def collect(self) -> Iterator[Metric]:
        yield from agent_metrics(self.stats, postgresql_up=self.snapshot is not None)
        yield from history_metrics(self.history)
        if self.snapshot is not None:
            yield from snapshot_metrics(self.snapshot)


def exposition(
    snapshot: Snapshot | None, stats: SamplerStats, history: RecorderStats | None = None
) -> bytes:
    """The Prometheus text format for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(snapshot, stats, history))
    return generate_latest(registry)
