"""Running the application under uvicorn, with the agent's own headers and TLS settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
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


class AgentServer(uvicorn.Server):
    """uvicorn's server, woken once a second when idle instead of ten times.

    Its main loop only refreshes the Date header (once a second) and looks for an exit
    request; ten wake-ups a second cost the idle agent about 1.8 ms of CPU a second here,
    more than a poll of 100 backends. A signal now wakes the loop at once.
    """

    _exit_requested: asyncio.Event | None = None

    async def main_loop(self) -> None:
        # Start-up's objects (FastAPI, pydantic, psycopg...) live as long as the agent: frozen,
        # full collections stop walking them (48 ms -> 4 ms each, with 1000 backends).
        gc.collect()
        gc.freeze()
        # A snapshot's objects die together when its last caller is answered: collect young
        # objects every 10000 allocations, not 700, so most are freed before being walked.
        gc.set_threshold(10_000, 10, 10)
        self._exit_requested = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the date when counter % 10 == 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._exit_requested.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._exit_requested is not None:
            self._exit_requested.set()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(config: Config) -> None:
    """Serve until SIGINT or SIGTERM; return after a graceful shutdown, so callers clean up."""
    # uvicorn re-raises the signal it stopped for once it has shut down: make that an exit.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        AgentServer(uvicorn_config(config)).run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
