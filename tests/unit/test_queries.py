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


def test_the_activity_query_has_a_variant_for_each_supported_version() -> None:
    # leader_pid came with 13, query_id and pg_locks.waitstart with 14.
    for major in range(12, 19):
        text = queries.load("activity", major * 10000)
        assert ("a.leader_pid" in text) == (major >= 13), major
        assert ("a.query_id" in text) == (major >= 14), major
        assert ("l.waitstart" in text) == (major >= 14), major
