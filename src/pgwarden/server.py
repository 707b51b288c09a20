"""Running the application under uvicorn, with the agent's own headers and TLS settings."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import re
import signal
import ssl
from collections.abc import Callable
from types import FrameType

import orjson
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgwarden import tls
from pgwarden.config import Config, ConfigError
from pgwarden.http.app import create_app
from pgwarden.http.middleware import SERVER

log = logging.getLogger(__name__)

# In-flight requests get this long after SIGTERM; with the rest of the shutdown, under 5 s.
GRACEFUL_SHUTDOWN_SECONDS = 3


class AnswerWhenCut:
    """A request still running when the graceful shutdown ends is cancelled by uvicorn: its
    client gets a JSON 503 rather than uvicorn's bare 500 and a traceback in the log.
    """

    BODY = orjson.dumps({"error": "The agent is shutting down."})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except asyncio.CancelledError:
            if started:
                raise
            log.warning("%s %s cut short by the shutdown", scope["method"], scope["path"])
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(self.BODY)).encode()),
                        (b"server", SERVER.encode()),
                        (b"access-control-allow-origin", b"*"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self.BODY})
            # Not re-raised: the cancellation was only meant to end this request, and it has.


class FreezeAfterStartup:
    """Once the application has started (the ASGI lifespan's startup.complete), the objects
    made so far (FastAPI, pydantic, psycopg...) live as long as the agent: frozen, full
    collections stop walking them (48 ms -> 4 ms each, with 1000 backends).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                settle_garbage_collector()
            await send(message)

        await self.app(scope, receive, watched_send)


def settle_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    # A snapshot's objects die together when its last caller is answered: collect young
    # objects every 10000 allocations, not 700, so most are freed before being walked.
    gc.set_threshold(10_000, 10, 10)


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The HTTPS context when tls_cert and tls_key are set; ConfigError if they do not load."""
    server = config.server
    if server.tls_cert is None or server.tls_key is None:
        return None
    try:
        return tls.server_context(server.tls_cert, server.tls_key)
    except tls.TlsError as exc:
        where = config.source or "(no configuration file)"
        raise ConfigError(f"{where}: [server] tls_cert: {exc}") from None


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


ContextFactory = Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]


def _always(context: ssl.SSLContext) -> ContextFactory:
    """uvicorn's own context accepts whatever OpenSSL's defaults accept: ours replaces it."""
    return lambda _config, _default: context


class HideSessionParameter(logging.Filter):
    """EventSource cannot send headers, so GET /activity/stream takes ?session=, and temBoard
    sends its agent key as ?key=: the access log shows those secrets as ***."""

    PARAMETER = re.compile(r"([?&](?:session|key)=)[^&#]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PARAMETER.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def uvicorn_config(config: Config) -> uvicorn.Config:
    server = config.server
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideSessionParameter) for f in access.filters):
        access.addFilter(HideSessionParameter())
    context = tls_context(config)
    if context is None and not is_loopback(server.address):
        log.warning(
            "serving plain HTTP on %s: passwords and session tokens cross the network "
            "in clear; set [server] tls_cert and tls_key",
            server.address,
        )
    return uvicorn.Config(
        FreezeAfterStartup(AnswerWhenCut(create_app(config))),
        host=server.address,
        port=server.port,
        ssl_context_factory=_always(context) if context else None,
        server_header=False,  # ours comes from the middleware, as the seed shows it
        access_log=server.access_log,
        log_config=None,
        # The client behind a trusted proxy, from X-Forwarded-For (right-most untrusted hop).
        proxy_headers=bool(server.trusted_proxies),
        forwarded_allow_ips=list(server.trusted_proxies) or None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",
    )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(config: Config) -> None:
    """Serve until SIGINT or SIGTERM; return after a graceful shutdown, so callers clean up."""
    # uvicorn re-raises the signal it stopped for once it has shut down: make that an exit.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.Server(uvicorn_config(config)).run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
