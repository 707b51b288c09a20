"""pgwarden: what every PostgreSQL backend is doing right now, over HTTP."""

__version__ = "0.1.0"
