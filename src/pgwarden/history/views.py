"""A kept tick as the live routes' bodies, plus when it was sampled; pure."""

from __future__ import annotations

from typing import Any

import orjson

from pgwarden import activity
from pgwarden.activity import RowQuery, View
from pgwarden.forest import blocking_forest, encode_forest
from pgwarden.history.reading import iso
from pgwarden.history.records import Tick, snapshot_of
from pgwarden.models import Snapshot

ALL_ROWS = RowQuery()


def _rows(snapshot: Snapshot, view: View, query: RowQuery) -> dict[str, Any]:
    keep = query.keeps if query.filters else (lambda backend: True)
    rows = activity.sort_rows(activity.BUILDERS[view](snapshot, keep), query)
    shown = rows if query.limit is None else rows[: query.limit]
    return {"rows": shown, "total": len(rows)}


def view_body(tick: Tick, view: View, query: RowQuery = ALL_ROWS) -> dict[str, Any]:
    body = _rows(snapshot_of(tick), view, query)
    body["sampled_at"] = iso(tick.at)
    return body


def snapshot_body(tick: Tick) -> bytes:
    """The three views and the blocking forest of one kept tick, as /activity/snapshot gives
    them live (the overview is not kept)."""
    snapshot = snapshot_of(tick)
    head = orjson.dumps(
        {
            "sampled_at": iso(tick.at),
            "taken_at": iso(tick.at),
            "running": _rows(snapshot, View.ACTIVITY, ALL_ROWS),
            "waiting": _rows(snapshot, View.WAITING, ALL_ROWS),
            "blocking": _rows(snapshot, View.BLOCKING, ALL_ROWS),
        }
    )
    # The forest has its own encoder: a chain of waiters may nest deeper than orjson goes.
    return head[:-1] + b',"tree":' + encode_forest(blocking_forest(snapshot.backends)) + b"}"
