"""Routes: read the request, call a service, write the answer. No SQL, no /proc here."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from starlette.responses import Response

from pgwarden import __version__
from pgwarden.actions import Action, Actor, Item, Outcome
from pgwarden.activity import RowQuery, View, render, render_snapshot
from pgwarden.auth.login import LoginRefused
from pgwarden.auth.users import MAX_PASSWORD_LENGTH, Role
from pgwarden.discover import discover as discover_facts
from pgwarden.http import schemas
from pgwarden.http.clients import throttling_address
from pgwarden.http.dependencies import (
    Caller,
    agent_key_header,
    caller,
    reader,
    row_query,
    same_key,
    services,
    stream_caller,
)
from pgwarden.http.errors import ApiError, malformed
from pgwarden.http.responses import json_bytes_response, json_response
from pgwarden.http.stream import stream_response
from pgwarden.overview import render_overview
from pgwarden.services import Services

MAX_PIDS = 1000
ITEM_KEYS = frozenset({"pid", "backend_start"})
# Longer integers are refused as malformed: they fit no pid, nor a 64-bit JSON encoder.
MAX_INT_DIGITS = 18

router = APIRouter()


class TooLong:
    """Stands for an integer too long to use (and to parse: that is quadratic in Python)."""


def _bounded_int(text: str) -> int | TooLong:
    return TooLong() if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


async def read_json(request: Request, invalid: ApiError) -> Any:
    body = await request.body()
    try:
        return json.loads(body, parse_int=_bounded_int)
    except (ValueError, RecursionError):
        raise invalid from None


# ---------------------------------------------------------------- sessions

LOGIN_BODY = {"content": {"application/json": {"schema": schemas.LoginBody.model_json_schema()}}}


@router.post(
    "/login",
    response_model=schemas.SessionBody,
    responses=schemas.errors(401, 406, 413, 429, 500),
    openapi_extra={"requestBody": {"required": True, **LOGIN_BODY}},
    tags=["sessions"],
)
async def login(request: Request, svc: Annotated[Services, Depends(services)]) -> Response:
    """Open a new session: a fresh 256-bit token, valid for session_ttl seconds of idleness."""
    body = await read_json(request, malformed("username"))
    if not isinstance(body, dict):
        raise malformed("username")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username or len(username) > 256:
        raise malformed("username")
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        raise malformed("password")
    address = request.client.host if request.client else ""
    throttled = throttling_address(address, svc.config.server.trusted_proxies)
    try:
        token = await svc.auth.login(username, password, throttled)
    except LoginRefused:
        raise ApiError(401, "Invalid username/password.") from None
    return json_response({"session": token})


@router.get(
    "/logout",
    response_model=schemas.LogoutBody,
    responses=schemas.errors(401, 406, 500),
    tags=["sessions"],
)
async def logout(
    who: Annotated[Caller, Depends(caller)], svc: Annotated[Services, Depends(services)]
) -> Response:
    """End this session: its token gets 401 afterwards."""
    svc.auth.sessions.drop(who.token)
    return json_response({"logout": True})


@router.get(
    "/profile",
    response_model=schemas.ProfileBody,
    responses=schemas.errors(401, 406, 500),
    tags=["sessions"],
)
async def profile(who: Annotated[Caller, Depends(caller)]) -> Response:
    """Who this session belongs to, and what it may do."""
    return json_response({"username": who.session.username, "role": who.session.role.value})


@router.get("/status", response_model=schemas.StatusBody, tags=["sessions"])
async def status(svc: Annotated[Services, Depends(services)]) -> Response:
    """Liveness for health checks, whether history is being recorded and process figures are
    read: no session needed, nothing secret."""
    recorder = svc.recorder
    history = {
        "enabled": recorder is not None,
        "recording": recorder is not None and recorder.stats.recording,
        "paused": recorder.stats.paused if recorder is not None else None,
    }
    reason = svc.sampler.figures_unavailable
    figures = {"available": reason is None, "reason": reason}
    return json_response(
        {"status": "ok", "version": __version__, "history": history, "process_figures": figures}
    )


@router.get(
    "/discover",
    response_model=schemas.DiscoverBody,
    responses=schemas.errors(401),
    tags=["sessions"],
)
async def discover(
    svc: Annotated[Services, Depends(services)],
    key: Annotated[str | None, Security(agent_key_header)],
) -> Response:
    """What the temBoard UI's "add instance" form records; no session needed, nothing secret.

    A key that is sent (temboard-agent-register and the UI send theirs) must be the agent's.
    """
    if key and not (svc.config.auth.agent_key and same_key(key, svc.config.auth.agent_key)):
        raise ApiError(401, "Invalid key.")
    return json_response(await discover_facts(svc.db))


# ---------------------------------------------------------------- activity


async def _view(svc: Services, view: View, query: RowQuery) -> Response:
    snapshot = await svc.sampler.snapshot()
    return json_bytes_response(render(snapshot, view, query))


READ_ERRORS = schemas.errors(401, 406, 500, 503)


@router.get(
    "/activity", response_model=schemas.ActivityBody, responses=READ_ERRORS, tags=["activity"]
)
async def activity(
    _: Annotated[Caller | None, Depends(reader)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.ACTIVITY))],
) -> Response:
    """Every client backend, longest duration first (the agent's own connections excluded)."""
    return await _view(svc, View.ACTIVITY, query)


@router.get(
    "/activity/waiting",
    response_model=schemas.WaitingBody,
    responses=READ_ERRORS,
    tags=["activity"],
)
async def waiting(
    _: Annotated[Caller | None, Depends(reader)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.WAITING))],
) -> Response:
    """Backends waiting for a heavyweight lock, with the lock and who blocks them."""
    return await _view(svc, View.WAITING, query)


@router.get(
    "/activity/blocking",
    response_model=schemas.BlockingBody,
    responses=READ_ERRORS,
    tags=["activity"],
)
async def blocking(
    _: Annotated[Caller | None, Depends(reader)],
    svc: Annotated[Services, Depends(services)],
    query: Annotated[RowQuery, Depends(row_query(View.BLOCKING))],
) -> Response:
    """Backends holding up others, each once, by pg_blocking_pids()."""
    return await _view(svc, View.BLOCKING, query)


@router.get(
    "/activity/snapshot",
    response_model=schemas.SnapshotBody,
    responses=READ_ERRORS,
    tags=["activity"],
)
async def snapshot(
    _: Annotated[Caller, Depends(caller)], svc: Annotated[Services, Depends(services)]
) -> Response:
    """The three views and the blocking forest, from one snapshot: a page never mixes two
    moments."""
    return json_bytes_response(render_snapshot(await svc.sampler.snapshot()))


@router.get(
    "/overview", response_model=schemas.OverviewBody, responses=READ_ERRORS, tags=["activity"]
)
async def overview(
    _: Annotated[Caller, Depends(caller)], svc: Annotated[Services, Depends(services)]
) -> Response:
    """The server at a glance: version, uptime, connection slots, transactions per second,
    cache hit ratio, the oldest transaction, the host's load, CPU and memory."""
    return json_bytes_response(render_overview(await svc.sampler.snapshot()))


@router.get(
    "/activity/stream",
    response_class=Response,
    responses={
        200: {
            "description": "Server-Sent Events: `snapshot` (the body of /activity/snapshot) "
            'once per [sampler] interval, `unavailable` (`{"error": ...}`) when PostgreSQL '
            "cannot be read, `end` before the stream closes when the session is over; a "
            "comment line every 15 s",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **schemas.errors(401, 406, 500),
    },
    tags=["activity"],
)
async def stream(
    who: Annotated[Caller, Depends(stream_caller)], svc: Annotated[Services, Depends(services)]
) -> Response:
    """One snapshot per sampling interval, pushed; every viewer shares it, and its bytes."""
    return stream_response(svc.ticker, lambda: svc.auth.session(who.token) is not None)


# ---------------------------------------------------------------- actions

PIDS_BODY = {"content": {"application/json": {"schema": schemas.PidsBody.model_json_schema()}}}
ACT_ERRORS = schemas.errors(400, 401, 403, 406, 413, 500, 503)


def _item(given: Any) -> Item:
    """A plain pid (the seed's form), or {"pid": ..., "backend_start": "<ISO 8601>"}."""
    if type(given) is int:
        return Item(given)
    if not isinstance(given, dict) or type(given.get("pid")) is not int or set(given) - ITEM_KEYS:
        raise malformed("pids")
    started = given.get("backend_start")
    if started is None:
        return Item(given["pid"])
    try:
        backend_start = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        backend_start = None
    if backend_start is None or backend_start.tzinfo is None:
        raise malformed("pids")
    return Item(given["pid"], backend_start)


def parse_pids(body: Any) -> list[Item]:
    if not isinstance(body, dict) or "pids" not in body:
        raise ApiError(406, "Parameter 'pids' not sent.")
    pids = body["pids"]
    if not isinstance(pids, list) or not 1 <= len(pids) <= MAX_PIDS:
        raise malformed("pids")
    return [_item(given) for given in pids]


async def _act(request: Request, who: Caller, svc: Services, action: Action) -> list[Outcome]:
    pids = parse_pids(await read_json(request, ApiError(400, "Request body is not valid JSON.")))
    actor = Actor(who.session.username, who.address)
    if who.session.role is not Role.ADMIN:
        await svc.actions.refuse(action, pids, actor, "permission denied: viewer")
        raise ApiError(403, "Permission denied.")
    return await svc.actions.perform(action, pids, actor)


@router.post(
    "/activity/kill",
    response_model=schemas.KillBody,
    responses=ACT_ERRORS,
    openapi_extra={"requestBody": {"required": True, **PIDS_BODY}},
    tags=["actions"],
)
@router.post(
    "/activity/activity/kill",
    response_model=schemas.KillBody,
    responses=ACT_ERRORS,
    openapi_extra={"requestBody": {"required": True, **PIDS_BODY}},
    tags=["actions"],
    summary="Kill (the seed's heading spells the route this way)",
)
async def kill(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
) -> Response:
    """Terminate backends with pg_terminate_backend(); results in request order."""
    outcomes = await _act(request, who, svc, Action.TERMINATE)
    rows = [{"pid": o.pid, "killed": o.done, "reason": o.reason} for o in outcomes]
    return json_response({"backends": rows})


@router.post(
    "/activity/cancel",
    response_model=schemas.CancelBody,
    responses=ACT_ERRORS,
    openapi_extra={"requestBody": {"required": True, **PIDS_BODY}},
    tags=["actions"],
)
async def cancel(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
) -> Response:
    """Cancel the running query of backends with pg_cancel_backend(); sessions stay."""
    outcomes = await _act(request, who, svc, Action.CANCEL)
    rows = [{"pid": o.pid, "cancelled": o.done, "reason": o.reason} for o in outcomes]
    return json_response({"backends": rows})


@router.get(
    "/activity/audit",
    response_model=schemas.AuditBody,
    responses=schemas.errors(401, 403, 406, 500),
    tags=["actions"],
)
async def audit(
    who: Annotated[Caller, Depends(caller)],
    svc: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> Response:
    """The latest audit entries, oldest first (admin only)."""
    if who.session.role is not Role.ADMIN:
        raise ApiError(403, "Permission denied.")
    return json_response({"entries": svc.actions.latest(limit)})
