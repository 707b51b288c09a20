"""Pure ASGI middleware: the seed's headers on every response, CORS preflight, body limit."""

from __future__ import annotations

import asyncio
import contextlib
import platform

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgwarden import __version__
from pgwarden.http.errors import ApiError

SERVER = f"pgwarden/{__version__} Python/{platform.python_version()}"
_COMMON = [
    (b"server", SERVER.encode()),
    (b"access-control-allow-origin", b"*"),
    (b"x-content-type-options", b"nosniff"),
]
_PREFLIGHT = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"X-Session, Content-Type, Authorization"),
    (b"access-control-max-age", b"600"),
    (b"content-length", b"0"),
]


# A client still sending a body over the limit is read (and the bytes dropped) this far, so
# it gets to read the 413 instead of a reset; beyond it, the connection is closed anyway.
DISCARD_BYTES = 16 << 20
DISCARD_SECONDS = 10.0


async def discard_body(receive: Receive) -> None:
    """Read and drop what is left of the request body, within the bounds above."""
    discarded = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DISCARD_SECONDS):
            while discarded <= DISCARD_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                discarded += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large (limit {limit} bytes).")


class AgentHeaders:
    """Adds Server and Access-Control-Allow-Origin to every response and limits bodies."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        overflowed = False

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_COMMON]
                if overflowed:
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        if scope["method"] == "OPTIONS":
            await send_with_headers(
                {"type": "http.response.start", "status": 204, "headers": list(_PREFLIGHT)}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        limit = self.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            # A client that waits for 100 Continue sends nothing more: no body to read.
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await discard_body(receive)
            await self._too_large(send_with_headers, limit)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    if message.get("more_body", False):
                        await discard_body(receive)
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send_with_headers)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        body = orjson.dumps({"error": f"Request body too large (limit {limit} bytes)."})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
