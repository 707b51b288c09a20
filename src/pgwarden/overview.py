"""The server at a glance, from one snapshot: what GET /overview and each snapshot carry; pure."""

from __future__ import annotations

from typing import Any

import orjson

from pgwarden.models import ServerFigures, Snapshot, TransactionRates


def transaction_rates(
    previous: ServerFigures | None, current: ServerFigures, seconds: float
) -> TransactionRates | None:
    """Commits and rollbacks per second between two readings; None without a usable one
    before (the first reading, or counters reset since)."""
    if (
        previous is None
        or seconds <= 0
        or current.commits < previous.commits
        or current.rollbacks < previous.rollbacks
    ):
        return None
    return TransactionRates(
        commits_per_s=(current.commits - previous.commits) / seconds,
        rollbacks_per_s=(current.rollbacks - previous.rollbacks) / seconds,
        window=seconds,
    )


def _server(snapshot: Snapshot) -> dict[str, Any] | None:
    server = snapshot.server
    if server is None:
        return None
    return {
        "version": server.version,
        "version_num": server.version_num,
        "started_at": server.started_at,
        "uptime": round((snapshot.taken_at - server.started_at).total_seconds(), 1),
    }


def _connections(server: ServerFigures | None) -> dict[str, Any] | None:
    if server is None:
        return None
    total = sum(server.by_state.values())
    reserved = server.superuser_reserved + (server.reserved or 0)
    return {
        "total": total,
        "by_state": dict(sorted(server.by_state.items())),
        "max_connections": server.max_connections,
        "superuser_reserved_connections": server.superuser_reserved,
        "reserved_connections": server.reserved,
        "available": max(0, server.max_connections - reserved - total),
    }


def _transactions(rates: TransactionRates | None) -> dict[str, Any]:
    if rates is None:
        return {"commits_per_s": None, "rollbacks_per_s": None, "window": None}
    return {
        "commits_per_s": round(rates.commits_per_s, 2),
        "rollbacks_per_s": round(rates.rollbacks_per_s, 2),
        "window": round(rates.window, 3),
    }


def _cache_hit_ratio(server: ServerFigures | None) -> float | None:
    if server is None or server.blocks_hit + server.blocks_read == 0:
        return None
    return round(server.blocks_hit / (server.blocks_hit + server.blocks_read), 4)


def _oldest_xact(snapshot: Snapshot) -> dict[str, Any] | None:
    """The backend (or prepared transaction) whose transaction began first."""
    candidates: list[tuple[Any, Any, int, str | None]] = [
        (b.xact_start, b.id, b.pid, b.state) for b in snapshot.backends if b.xact_start
    ]
    server = snapshot.server
    if server is not None and server.oldest_prepared_at is not None:
        gid = server.oldest_prepared_gid
        candidates.append((server.oldest_prepared_at, f"0:{gid}", 0, "prepared"))
    if not candidates:
        return None
    started, node_id, pid, state = min(candidates, key=lambda c: c[0])
    return {
        "id": node_id,
        "pid": pid,
        "state": state,
        "xact_start": started,
        "age": round(max((snapshot.taken_at - started).total_seconds(), 0.0), 3),
    }


def _host(snapshot: Snapshot) -> dict[str, Any] | None:
    host = snapshot.host
    if host is None:
        return None
    return {
        "load_average": [round(load, 2) for load in host.load_average],
        "cpu_count": host.cpu_count,
        "cpu_pct": round(host.cpu_pct, 1),
        "memory_pct": round(host.memory_pct, 1),
        "memory_total": host.memory_total,
        "memory_available": host.memory_available,
    }


def overview(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "server": _server(snapshot),
        "connections": _connections(snapshot.server),
        "transactions": _transactions(snapshot.rates),
        "cache_hit_ratio": _cache_hit_ratio(snapshot.server),
        "oldest_xact": _oldest_xact(snapshot),
        "host": _host(snapshot),
    }


def render_overview(snapshot: Snapshot) -> bytes:
    """The overview's JSON, once per snapshot."""
    body = snapshot.rendered.get("overview")
    if body is None:
        body = orjson.dumps(overview(snapshot))
        snapshot.rendered["overview"] = body
    return body
