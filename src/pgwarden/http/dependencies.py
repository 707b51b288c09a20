"""What route functions are given: the application's services, taken from its state, the
caller behind a session or the agent key, and a view's row query."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery

from pgwarden.activity import SORT_KEYS, RowQuery, View
from pgwarden.auth.sessions import Session
from pgwarden.http.errors import ApiError, malformed
from pgwarden.services import Services


# Dependencies are `async def`: FastAPI runs plain `def` ones in a worker thread, a thread
# round trip per dependency per request.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


TOKEN = re.compile(r"^[0-9a-f]{64}$")

session_header = APIKeyHeader(
    name="X-Session", auto_error=False, description="Session id from POST /login"
)
AGENT_KEY_DOC = "[auth] agent_key, as temboard-agent 7.x takes it (read routes only)"
agent_key_header = APIKeyHeader(
    name="X-TemBoard-Agent-Key",
    scheme_name="AgentKeyHeader",
    auto_error=False,
    description=AGENT_KEY_DOC,
)
agent_key_query = APIKeyQuery(
    name="key", scheme_name="AgentKeyQuery", auto_error=False, description=AGENT_KEY_DOC
)


@dataclass(frozen=True, slots=True)
class Caller:
    token: str
    session: Session
    address: str


def _identify(request: Request, token: str | None, svc: Services) -> Caller:
    """The seed's X-Session rules: 406 when missing or malformed, 401 when not a live session."""
    if token is None or not TOKEN.match(token):
        raise malformed("X-Session")
    session = svc.auth.session(token)
    if session is None:
        raise ApiError(401, "Invalid session.")
    return Caller(token, session, request.client.host if request.client else "")


async def caller(
    request: Request,
    token: Annotated[str | None, Security(session_header)],
    svc: Annotated[Services, Depends(services)],
) -> Caller:
    return _identify(request, token, svc)


async def stream_caller(
    request: Request,
    token: Annotated[str | None, Security(session_header)],
    svc: Annotated[Services, Depends(services)],
    session: Annotated[
        str | None,
        Query(
            description="the session id, for browsers' EventSource, which cannot send headers "
            "(X-Session wins when both are sent)"
        ),
    ] = None,
) -> Caller:
    return _identify(request, token if token is not None else session, svc)


def same_key(sent: str, configured: str) -> bool:
    return hmac.compare_digest(sent.encode(), configured.encode())


async def reader(
    request: Request,
    token: Annotated[str | None, Security(session_header)],
    header_key: Annotated[str | None, Security(agent_key_header)],
    query_key: Annotated[str | None, Security(agent_key_query)],
    svc: Annotated[Services, Depends(services)],
) -> Caller | None:
    """A session, or the agent key (None then): the three read routes take either.

    A key that is sent must be right, as temboard-agent 7.x has it; an empty one is not sent
    (the temBoard UI sends `?key=` with an empty key when it was registered without one).
    """
    sent = header_key or query_key
    if sent:
        configured = svc.config.auth.agent_key
        if not configured:
            raise ApiError(401, "Authentication key not configured.")
        if not same_key(sent, configured):
            raise ApiError(401, "Invalid key.")
        return None
    return _identify(request, token, svc)


def row_query(view: View) -> Any:
    """A dependency reading the row filters, sort and limit of a view's query string."""

    async def parse(
        state: Annotated[
            list[str] | None, Query(description="keep these states (repeat to keep several)")
        ] = None,
        database: Annotated[list[str] | None, Query(description="keep these databases")] = None,
        user: Annotated[list[str] | None, Query(description="keep these roles")] = None,
        application: Annotated[
            list[str] | None, Query(description="keep these application_name values")
        ] = None,
        min_duration: Annotated[
            float | None,
            Query(
                ge=0,
                allow_inf_nan=False,
                description="keep backends whose duration is at least this, seconds",
            ),
        ] = None,
        sort: Annotated[
            str, Query(description="a key of the rows, '-' first for descending")
        ] = "-duration",
        limit: Annotated[
            int | None, Query(ge=1, description="at most this many rows; `total` counts them all")
        ] = None,
    ) -> RowQuery:
        if sort.lstrip("-") not in SORT_KEYS[view] or sort.startswith("--"):
            raise malformed("sort")
        return RowQuery(
            states=tuple(state or ()),
            databases=tuple(database or ()),
            users=tuple(user or ()),
            applications=tuple(application or ()),
            min_duration=min_duration,
            sort=sort,
            limit=limit,
        )

    return parse
