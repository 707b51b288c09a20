"""SQL files, one query each, picked by server version.

`name.sql` serves every supported version; `name.sinceNN.sql` serves major version NN and
later, until a higher `sinceMM` takes over.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

OLDEST_SUPPORTED = 12
_VARIANT = re.compile(r"^(?P<name>[a-z_]+)(?:\.since(?P<major>\d+))?\.sql$")


@cache
def _variants() -> dict[str, dict[int, str]]:
    found: dict[str, dict[int, str]] = {}
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = _VARIANT.match(entry.name)
        if match:
            major = int(match["major"] or OLDEST_SUPPORTED)
            found.setdefault(match["name"], {})[major] = entry.read_text(encoding="utf-8")
    return found


def load(name: str, server_version: int) -> str:
    """The text of query `name` for a server_version such as 150018."""
    variants = _variants().get(name)
    if not variants:
        raise LookupError(f"no SQL file for query {name!r}")
    major = server_version // 10000
    usable = [since for since in variants if since <= major]
    if not usable:
        raise LookupError(f"query {name!r} needs PostgreSQL {min(variants)} or later")
    return variants[max(usable)]
