"""Pure ASGI middleware: the seed's headers on every response, CORS preflight, body limit."""

from __future__ import annotations

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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_COMMON]
            await send(message)

        if scope["method"] == "OPTIONS":
            await send_with_headers(
                {"type": "http.response.start", "status": 204, "headers": list(_PREFLIGHT)}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._too_large(send_with_headers, limit)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
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
