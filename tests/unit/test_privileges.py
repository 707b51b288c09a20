"""What the agent says about its role's missing grants."""

from __future__ import annotations

from pgwarden.db.privileges import missing_privileges


def test_a_superuser_or_a_fully_granted_role_lacks_nothing() -> None:
    assert missing_privileges("postgres", True, False, False) == []
    assert missing_privileges("pgwarden", False, True, True) == []


def test_each_missing_grant_is_named_with_its_fix() -> None:
    assert missing_privileges("watcher", False, False, False) == [
        "role watcher sees neither the queries nor the lock waits of other roles' backends: "
        "GRANT pg_monitor TO watcher",
        "role watcher cannot cancel or terminate other roles' backends: "
        "GRANT pg_signal_backend TO watcher",
    ]
    assert missing_privileges("reader", False, True, False) == [
        "role reader cannot cancel or terminate other roles' backends: "
        "GRANT pg_signal_backend TO reader",
    ]
