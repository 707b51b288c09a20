"""Metrics of staged snapshots, read back with prometheus-client's own parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from pgwarden import __version__
from pgwarden.metrics import KNOWN_STATES, exposition
from pgwarden.models import SamplerStats, Snapshot
from tests.unit.factories import backend, lock

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T = "relation,5,16384"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(snapshot: Snapshot | None, stats: SamplerStats | None = None) -> Samples:
    text = exposition(snapshot, stats or SamplerStats()).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_backends_are_counted_by_database_and_state() -> None:
    snap = Snapshot(
        NOW,
        (
            backend(1, database="app", state="active"),
            backend(2, database="app", state="active"),
            backend(3, database="app", state="idle"),
            backend(4, database="shop", state="idle in transaction"),
            backend(5, database="shop", state=None),
            backend(6, database="app", state="active", backend_type="autovacuum worker"),
        ),
        {},
    )
    samples = scrape(snap)
    assert value(samples, "pgwarden_backends", database="app", state="active") == 2
    assert value(samples, "pgwarden_backends", database="app", state="idle") == 1
    assert value(samples, "pgwarden_backends", database="shop", state="idle in transaction") == 1
    assert value(samples, "pgwarden_backends", database="shop", state="unknown") == 1
    # Known states stay listed at 0, so their series do not vanish.
    for state in KNOWN_STATES:
        assert ("pgwarden_backends", (("database", "shop"), ("state", state))) in samples
    assert value(samples, "pgwarden_backends", database="shop", state="active") == 0
    total = sum(v for (name, _), v in samples.items() if name == "pgwarden_backends")
    assert total == 5  # the autovacuum worker is not a client backend


def test_longest_query_transaction_and_idle_in_transaction() -> None:
    snap = Snapshot(
        NOW,
        (
            backend(1, state="active", duration=12.5, xact_start=NOW - timedelta(seconds=40)),
            backend(2, state="idle", duration=900.0),  # idle: not a running query
            backend(3, state="idle in transaction", duration=75.0),
            backend(4, state="idle in transaction (aborted)", duration=80.0),
            backend(5, state="active", duration=3.0, xact_start=NOW - timedelta(seconds=3)),
            backend(
                6,
                state="active",
                duration=5000.0,
                backend_type="walsender",
                xact_start=NOW - timedelta(hours=3),
            ),
        ),
        {},
    )
    samples = scrape(snap)
    assert value(samples, "pgwarden_longest_query_seconds") == 12.5
    assert value(samples, "pgwarden_longest_transaction_seconds") == 40.0
    assert value(samples, "pgwarden_longest_idle_in_transaction_seconds") == 80.0


def test_nothing_running_reads_zero_not_absent() -> None:
    samples = scrape(Snapshot(NOW, (backend(1, state="idle", duration=50.0),), {}))
    assert value(samples, "pgwarden_longest_query_seconds") == 0
    assert value(samples, "pgwarden_longest_transaction_seconds") == 0
    assert value(samples, "pgwarden_longest_idle_in_transaction_seconds") == 0
    assert value(samples, "pgwarden_oldest_backend_xmin_age") == 0
    assert value(samples, "pgwarden_backends_waiting") == 0
    assert value(samples, "pgwarden_backends_blocking") == 0


def test_oldest_xmin_counts_every_backend_type() -> None:
    snap = Snapshot(
        NOW,
        (
            backend(1, xmin_age=120),
            backend(2, xmin_age=None),
            backend(3, backend_type="walsender", xmin_age=4500),
        ),
        {},
    )
    assert value(scrape(snap), "pgwarden_oldest_backend_xmin_age") == 4500


def test_waiting_and_blocking_match_the_lock_views() -> None:
    holder = backend(10, locks=(lock(T, "AccessExclusiveLock", True),))
    first = backend(11, blocked_by=[10], locks=(lock(T, "AccessShareLock", False, wait=5),))
    second = backend(12, blocked_by=[11], locks=(lock(T, "AccessExclusiveLock", False, wait=2),))
    samples = scrape(Snapshot(NOW, (holder, first, second), {}))
    assert value(samples, "pgwarden_backends_waiting") == 2
    assert value(samples, "pgwarden_backends_blocking") == 2  # 10, and 11 ahead of 12 in queue


def test_agent_figures_and_no_snapshot() -> None:
    stats = SamplerStats(snapshots=41, errors=3, last_seconds=0.0125)
    samples = scrape(None, stats)
    assert value(samples, "pgwarden_postgresql_up") == 0
    assert value(samples, "pgwarden_sampler_snapshots_total") == 41
    assert value(samples, "pgwarden_sampler_errors_total") == 3
    assert value(samples, "pgwarden_sampler_last_duration_seconds") == 0.0125
    assert value(samples, "pgwarden_info", version=__version__) == 1
    # No snapshot, no figures about the cluster: absent rather than a made-up 0.
    assert not any(name == "pgwarden_backends" for name, _ in samples)
    assert ("pgwarden_longest_query_seconds", ()) not in samples
    assert value(scrape(Snapshot(NOW, (), {}), stats), "pgwarden_postgresql_up") == 1


def test_query_text_and_names_other_than_database_never_appear() -> None:
    secret = "SELECT 'card 4111-1111-1111-1111'"
    snap = Snapshot(
        NOW,
        (backend(1, query=secret, user="mallory", application_name="payroll", client="10.9.8.7"),),
        {},
    )
    text = exposition(snap, SamplerStats()).decode()
    for private in ("4111", "mallory", "payroll", "10.9.8.7"):
        assert private not in text
