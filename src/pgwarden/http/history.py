"""The /history routes: read the parameters, ask the history service, answer. Reads of the
store run in a thread, off the event loop."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from pgwarden.activity import RowQuery, View
from pgwarden.history import aggregate, views
from pgwarden.history.reading import MAX_STEP_BUCKETS, MAX_WINDOW, BadTime, NoSample, default_step
from pgwarden.history.reading import parse_time as parse_history_time
from pgwarden.history.store import StoreError
from pgwarden.http import schemas
from pgwarden.http.dependencies import Caller, caller, row_query, services
from pgwarden.http.errors import ApiError, malformed
from pgwarden.http.responses import json_bytes_response, json_response
from pgwarden.services import Services

router = APIRouter(tags=["history"])
READ_ERRORS = schemas.errors(401, 404, 406, 500, 503)
WINDOW_ERRORS = schemas.errors(401, 406, 500, 503)
TimeParameter = Annotated[
    str | None, Query(description="ISO 8601 with an offset or Z, or Unix seconds")
]


def _time(name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = parse_history_time(text)
    except BadTime:
        raise malformed(name) from None
    if not math.isfinite(value):
        raise malformed(name)
    return value


def _window(start_text: str | None, end_text: str | None) -> tuple[float, float]:
    end = _time("to", end_text, time.time())
    start = _time("from", start_text, end - 3600)
    if start >= end:
        raise malformed("from")
    if end - start > MAX_WINDOW:
        raise ApiError(406, "The window from 'from' to 'to' is longer than 31 days.")
    return start, end


def _dimension(text: str) -> str:
    if text not in aggregate.DIMENSIONS:
        raise malformed("by")
    return text


async def _read(call: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(call, *args)
    except NoSample as exc:
        raise ApiError(404, str(exc)) from None
    except StoreError as exc:
        raise ApiError(503, f"History is unavailable: {exc}") from None


async def _view(svc: Services, at: str | None, view: View, query: RowQuery) -> Response:
    now = time.time()
    tick = await _read(svc.history.tick_at, _time("at", at, now), now)
    return json_response(views.view_body(tick, view, query))


@router.get("/history/activity", response_model=schemas.HistoryActivityBody, responses=READ_ERRORS)
async def history_activity(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.ACTIVITY))],
    at: TimeParameter = None,
) -> Response:
    """/activity as it was at `at` (default now): the last sample at or before it."""
    return await _view(svc, at, View.ACTIVITY, query)


@router.get("/history/waiting", response_model=schemas.HistoryWaitingBody, responses=READ_ERRORS)
async def history_waiting(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.WAITING))],
    at: TimeParameter = None,
) -> Response:
    """/activity/waiting as it was at `at`."""
    return await _view(svc, at, View.WAITING, query)


@router.get("/history/blocking", response_model=schemas.HistoryBlockingBody, responses=READ_ERRORS)
async def history_blocking(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.BLOCKING))],
    at: TimeParameter = None,
) -> Response:
    """/activity/blocking as it was at `at`."""
    return await _view(svc, at, View.BLOCKING, query)


@router.get("/history/snapshot", response_model=schemas.HistorySnapshotBody, responses=READ_ERRORS)
async def history_snapshot(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    at: TimeParameter = None,
) -> Response:
    """The three views and the blocking forest of the last sample at or before `at`."""
    now = time.time()
    tick = await _read(svc.history.tick_at, _time("at", at, now), now)
    return json_bytes_response(views.snapshot_body(tick))


@router.get("/history/load", response_model=schemas.HistoryLoadBody, responses=WINDOW_ERRORS)
async def history_load(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    start: Annotated[str | None, Query(alias="from", description="window start")] = None,
    to: Annotated[str | None, Query(description="window end (default now)")] = None,
    step: Annotated[str | None, Query(description="bucket width, seconds")] = None,
    by: Annotated[str, Query(description="wait_event_type, wait_event, query, ...")] = (
        "wait_event_type"
    ),
) -> Response:
    """Average sessions per key in each bucket, and the gaps when nothing was sampled."""
    begin, end = _window(start, to)
    dimension = _dimension(by)
    if step is None:
        width = default_step(begin, end, svc.history.interval)
    else:
        try:
            width = float(step)
        except ValueError:
            raise malformed("step") from None
        if not math.isfinite(width) or width <= 0 or (end - begin) / width > MAX_STEP_BUCKETS:
            raise malformed("step")
    body = await _read(svc.history.load, begin, end, width, dimension, time.time())
    return json_response(body)


@router.get("/history/top", response_model=schemas.HistoryTopBody, responses=WINDOW_ERRORS)
async def history_top(
    _: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    start: Annotated[str | None, Query(alias="from", description="window start")] = None,
    to: Annotated[str | None, Query(description="window end (default now)")] = None,
    by: Annotated[str, Query(description="wait_event_type, wait_event, query, ...")] = (
        "wait_event_type"
    ),
    limit: Annotated[str, Query(description="at most this many rows, 1 to 1000")] = "10",
    include_idle: Annotated[
        str, Query(description="true: rank Client, Activity and Timeout waits too")
    ] = "false",
) -> Response:
    """Keys by average active sessions over the window."""
    begin, end = _window(start, to)
    dimension = _dimension(by)
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise malformed("limit")
    if include_idle not in ("true", "false"):
        raise malformed("include_idle")
    rows = await _read(svc.history.top, begin, end, dimension, int(limit), include_idle == "true")
    return json_response({"rows": rows})
