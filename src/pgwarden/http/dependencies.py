"""What route functions are given: the application's services, taken from its state."""

from __future__ import annotations

from fastapi import Request

from pgwarden.services import Services


# Dependencies are `async def`: FastAPI runs plain `def` ones in a worker thread, a thread
# round trip per dependency per request.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
