"""Running the application under uvicorn, with the agent's own headers and TLS settings."""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from pgwarden.config import Config
from pgwarden.http.app import create_app

# In-flight requests get this long after SIGTERM before the server closes them.
GRACEFUL_SHUTDOWN_SECONDS = 4


def uvicorn_config(config: Config) -> uvicorn.Config:
    server = config.server
    return uvicorn.Config(
        create_app(config),
        host=server.address,
        port=server.port,
        ssl_certfile=str(server.tls_cert) if server.tls_cert else None,
        ssl_keyfile=str(server.tls_key) if server.tls_key else None,
        server_header=False,  # ours comes from the middleware, as the seed shows it
        access_log=server.access_log,
        log_config=None,
        proxy_headers=False,
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
