"""The overview of a snapshot: rates between readings, slots, ratios, the oldest transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pgwarden.models import HostFigures, ServerFigures, Snapshot, TransactionRates
from pgwarden.overview import overview, render_overview, transaction_rates
from tests.unit.factories import backend

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
SERVER = ServerFigures(
    version="16.4",
    version_num=160004,
    started_at=NOW - timedelta(hours=2),
    max_connections=100,
    superuser_reserved=3,
    reserved=2,
    by_state={"idle": 40, "active": 5, "idle in transaction": 1},
    commits=1000,
    rollbacks=10,
    blocks_hit=990,
    blocks_read=10,
    oldest_prepared_gid=None,
    oldest_prepared_at=None,
)
HOST = HostFigures((0.5, 0.25, 0.125), 2, 37.5, 8 << 30, 6 << 30, 25.0)


def test_rates_come_from_two_readings_and_not_across_a_reset() -> None:
    later = replace(SERVER, commits=1300, rollbacks=16)
    assert transaction_rates(None, SERVER, 1.0) is None
    assert transaction_rates(SERVER, later, 2.0) == TransactionRates(150.0, 3.0, 2.0)
    assert transaction_rates(later, SERVER, 2.0) is None  # pg_stat_reset() in between
    assert transaction_rates(SERVER, later, 0.0) is None


def test_the_overview_of_a_snapshot() -> None:
    holder = backend(7, state="idle in transaction", xact_start=NOW - timedelta(seconds=90))
    young = backend(8, xact_start=NOW - timedelta(seconds=5))
    snapshot = Snapshot(
        NOW,
        (holder, young, backend(9, xact_start=None)),
        {},
        server=SERVER,
        rates=TransactionRates(150.0, 3.0, 2.0),
        host=HOST,
    )
    assert overview(snapshot) == {
        "server": {
            "version": "16.4",
            "version_num": 160004,
            "started_at": NOW - timedelta(hours=2),
            "uptime": 7200.0,
        },
        "connections": {
            "total": 46,
            "by_state": {"active": 5, "idle": 40, "idle in transaction": 1},
            "max_connections": 100,
            "superuser_reserved_connections": 3,
            "reserved_connections": 2,
            "available": 49,
        },
        "transactions": {"commits_per_s": 150.0, "rollbacks_per_s": 3.0, "window": 2.0},
        "cache_hit_ratio": 0.99,
        "oldest_xact": {
            "id": 7,
            "pid": 7,
            "state": "idle in transaction",
            "xact_start": NOW - timedelta(seconds=90),
            "age": 90.0,
        },
        "host": {
            "load_average": [0.5, 0.25, 0.12],
            "cpu_count": 2,
            "cpu_pct": 37.5,
            "memory_pct": 25.0,
            "memory_total": 8 << 30,
            "memory_available": 6 << 30,
        },
    }
    assert render_overview(snapshot) is render_overview(snapshot)  # serialised once


def test_an_older_prepared_transaction_is_the_oldest() -> None:
    server = replace(
        SERVER,
        reserved=None,  # before PostgreSQL 16
        oldest_prepared_gid="batch-17",
        oldest_prepared_at=NOW - timedelta(days=1),
        blocks_hit=0,
        blocks_read=0,
    )
    holder = backend(7, xact_start=NOW - timedelta(seconds=90))
    result = overview(Snapshot(NOW, (holder,), {}, server=server))
    assert result["oldest_xact"] is not None
    assert (result["oldest_xact"]["id"], result["oldest_xact"]["pid"]) == ("0:batch-17", 0)
    assert result["oldest_xact"]["age"] == 86400.0
    assert result["connections"]["available"] == 100 - 3 - 46
    assert result["cache_hit_ratio"] is None
    assert result["transactions"] == {
        "commits_per_s": None,
        "rollbacks_per_s": None,
        "window": None,
    }
    assert result["host"] is None


def test_no_transaction_open_and_slots_overbooked() -> None:
    server = replace(SERVER, by_state={"idle": 99})
    result = overview(Snapshot(NOW, (backend(9),), {}, server=server))
    assert result["oldest_xact"] is None
    assert result["connections"]["available"] == 0
