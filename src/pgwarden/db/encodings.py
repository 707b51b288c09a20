"""Query texts in their database's encoding: pg_stat_activity passes them through unconverted."""

from __future__ import annotations

import codecs
from functools import cache

# psycopg's table of PostgreSQL encoding names and Python codecs; it has no public one.
from psycopg._encodings import py_codecs


@cache
def _python_codec(pg_encoding: str | None) -> str:
    """PostgreSQL's encoding name as a Python codec; SQL_ASCII and unknowns read as UTF-8."""
    name = py_codecs.get((pg_encoding or "UTF8").upper().encode(), "utf-8")
    if name == "ascii":
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def decode_query(raw: bytes | None, pg_encoding: str | None) -> str | None:
    """The text of `raw`, read in `pg_encoding`; undecodable bytes become U+FFFD."""
    if raw is None:
        return None
    return raw.decode(_python_codec(pg_encoding), errors="replace")
