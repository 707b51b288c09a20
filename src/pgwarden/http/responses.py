"""JSON bodies as bytes, straight from orjson: no generic encoder walks the rows."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json"


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type=JSON)


def json_bytes_response(body: bytes) -> Response:
    return Response(body, media_type=JSON)
