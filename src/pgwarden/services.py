"""The agent's long-lived parts, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from pgwarden.actions import Actions
from pgwarden.audit import AuditLog
from pgwarden.auth.login import Authenticator
from pgwarden.config import Config
from pgwarden.db.database import Database
from pgwarden.db.privileges import warn_missing_privileges
from pgwarden.sampler import Sampler
from pgwarden.ticker import Ticker


@dataclass
class Services:
    config: Config
    db: Database
    sampler: Sampler
    ticker: Ticker  # subscribe here for one snapshot per [sampler] interval
    auth: Authenticator
    actions: Actions

    @classmethod
    def create(cls, config: Config) -> Services:
        db = Database(config.postgresql)
        sampler = Sampler(db)
        return cls(
            config=config,
            db=db,
            sampler=sampler,
            ticker=Ticker(sampler, config.sampler.interval),
            auth=Authenticator(config.auth),
            actions=Actions(db, AuditLog(config.audit.file), config.guards),
        )

    async def start(self) -> None:
        await self.sampler.prime()
        await warn_missing_privileges(self.db)

    async def close(self) -> None:
        await self.ticker.close()
        await self.sampler.close()
        await self.db.close()
