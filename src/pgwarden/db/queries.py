"""SQL files, one query each, rendered for the server's major version.

`name.sql` holds the query for every supported version. A line that differs between majors
ends with a marker, `-- if pg >= 13` or `-- if pg < 13`: it is kept only on the majors the
marker names (without the marker), and dropped on the others.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

OLDEST_SUPPORTED = 12
_MARKER = re.compile(r"\s+-- if pg (?P<op>>=|<) (?P<major>\d+)$")


@cache
def sources() -> dict[str, str]:
    """Every query's source text, by name."""
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8")
        for entry in resources.files(__package__).joinpath("sql").iterdir()
        if entry.name.endswith(".sql")
    }


def render(source: str, major: int) -> str:
    """The source with the lines of other majors dropped and the markers removed."""
    kept = []
    for line in source.splitlines():
        marker = _MARKER.search(line)
        if marker is not None:
            wanted = int(marker["major"])
            if (major >= wanted) != (marker["op"] == ">="):
                continue
            line = line[: marker.start()]
        kept.append(line)
    return "\n".join(kept) + "\n"


@cache
def load(name: str, server_version: int) -> str:
    """The text of query `name` for a server_version such as 150018."""
    source = sources().get(name)
    if source is None:
        raise LookupError(f"no SQL file for query {name!r}")
    major = server_version // 10000
    if major < OLDEST_SUPPORTED:
        raise LookupError(f"query {name!r} needs PostgreSQL {OLDEST_SUPPORTED} or later")
    return render(source, major)
