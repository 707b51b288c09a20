"""The agent's long-lived parts, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from pgwarden.actions import Actions
from pgwarden.audit import AuditLog
from pgwarden.auth.login import Authenticator
from pgwarden.config import Config
from pgwarden.db.database import Database
from pgwarden.db.privileges import warn_missing_privileges
from pgwarden.history.reading import History
from pgwarden.history.recorder import Recorder
from pgwarden.history.store import Retention, SQLiteStore
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
    history: History
    recorder: Recorder | None

    @classmethod
    def create(cls, config: Config) -> Services:
        db = Database(config.postgresql)
        sampler = Sampler(db)
        store = history_store(config)
        ticker = Ticker(sampler, config.sampler.interval)
        return cls(
            config=config,
            db=db,
            sampler=sampler,
            ticker=ticker,
            auth=Authenticator(config.auth),
            actions=Actions(db, AuditLog(config.audit.file), config.guards),
            history=History(store, store.interval),
            recorder=Recorder(ticker, store) if config.history.enabled else None,
        )

    async def start(self) -> None:
        await self.sampler.prime()
        await warn_missing_privileges(self.db)
        if self.recorder is not None:
            await self.recorder.start()

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.close()
        await self.ticker.close()
        await self.sampler.close()
        await self.db.close()


def history_interval(config: Config) -> float:
    """The history keeps ticks of the shared loop: never closer than the loop's interval."""
    return max(config.history.interval, config.sampler.interval)


def history_store(config: Config) -> SQLiteStore:
    settings = config.history
    retention = Retention(settings.keep, settings.keep_rollups, settings.max_bytes)
    return SQLiteStore(settings.path, history_interval(config), retention)
