"""A kept tick as the live routes' bodies, plus when it was sampled; pure."""

from __future__ import annotations

from typing import Any

from pgwarden import activity
from pgwarden.activity import RowQuery, View
from pgwarden.history.reading import iso
from pgwarden.history.records import Tick, snapshot_of
from pgwarden.models import Snapshot

ALL_ROWS = RowQuery()


def _rows(snapshot: Snapshot, view: View, query: RowQuery) -> dict[str, Any]:
    keep = query.keeps if query.filters else (lambda backend: True)
    starts = {b.pid: b.backend_start for b in snapshot.backends if b.pid}
    rows = activity.sort_rows(activity.BUILDERS[view](snapshot, keep), query)
    for row in rows:
        start = starts.get(row["pid"])
        row["backend_start"] = start.isoformat() if start else None
    shown = rows if query.limit is None else rows[: query.limit]
    return {"rows": shown, "total": len(rows)}


def view_body(tick: Tick, view: View, query: RowQuery = ALL_ROWS) -> dict[str, Any]:
    body = _rows(snapshot_of(tick), view, query)
    body["sampled_at"] = iso(tick.at)
    return body


def snapshot_body(tick: Tick) -> dict[str, Any]:
    """The three views of one kept tick, as /activity/snapshot gives them live."""
    snapshot = snapshot_of(tick)
    return {
        "sampled_at": iso(tick.at),
        "taken_at": iso(tick.at),
        "running": _rows(snapshot, View.ACTIVITY, ALL_ROWS),
        "waiting": _rows(snapshot, View.WAITING, ALL_ROWS),
        "blocking": _rows(snapshot, View.BLOCKING, ALL_ROWS),
    }
