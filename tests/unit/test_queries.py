from __future__ import annotations

import pytest

from pgwarden.db import queries


def test_the_newest_variant_not_above_the_server_wins() -> None:
    assert "waitstart" in queries.load("activity", 150004)
    assert "pg_terminate_backend" in queries.load("terminate", 120000)


def test_every_query_opens_with_its_purpose() -> None:
    for name, variants in queries._variants().items():
        for text in variants.values():
            assert text.startswith("-- purpose: "), name


def test_unknown_query_or_too_old_server() -> None:
    with pytest.raises(LookupError):
        queries.load("nonexistent", 150000)
    with pytest.raises(LookupError):
        queries.load("activity", 90600)
