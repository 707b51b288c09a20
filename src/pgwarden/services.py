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


@dataclass
class Services:
    config: Config
    db: Database
    sampler: Sampler
    auth: Authenticator
    actions: Actions

    @classmethod
    def create(cls, config: Config) -> Services:
        db = Database(config.postgresql)
        return cls(
            config=config,
            db=db,
            sampler=Sampler(db),
            auth=Authenticator(config.auth),
            actions=Actions(db, AuditLog(config.audit.file), config.guards),
        )

    async def start(self) -> None:
        await self.sampler.prime()
        await warn_missing_privileges(self.db)

    async def close(self) -> None:
        await self.sampler.close()
        await self.db.close()
