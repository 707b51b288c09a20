"""Which address a request is counted against, behind trusted proxies."""

from __future__ import annotations

import pytest

from pgwarden.config import ConfigError, load_config
from pgwarden.http.clients import is_trusted_proxy, throttling_address

TRUSTED = ("10.0.0.0/24", "192.0.2.7", "fd00::/8")


def test_trusted_proxies_are_addresses_and_networks() -> None:
    assert is_trusted_proxy("10.0.0.200", TRUSTED)
    assert is_trusted_proxy("192.0.2.7", TRUSTED)
    assert is_trusted_proxy("fd00::1", TRUSTED)
    assert not is_trusted_proxy("10.0.1.1", TRUSTED)
    assert not is_trusted_proxy("192.0.2.8", TRUSTED)
    assert not is_trusted_proxy("", TRUSTED)  # a unix socket peer has no address
    assert not is_trusted_proxy("10.0.0.1", ())


def test_a_trusted_proxy_that_named_no_client_is_not_counted_as_an_address() -> None:
    assert throttling_address("10.0.0.5", TRUSTED) is None
    assert throttling_address("203.0.113.9", TRUSTED) == "203.0.113.9"
    assert throttling_address("10.0.0.5", ()) == "10.0.0.5"


def test_a_trusted_proxy_must_be_an_address_or_a_network() -> None:
    good = load_config(None, {"PGWARDEN_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert good.server.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(ConfigError, match="SERVER_TRUSTED_PROXIES: not an IP address or network"):
        load_config(None, {"PGWARDEN_SERVER_TRUSTED_PROXIES": "proxy.example"})


def test_the_agent_key_is_off_by_default() -> None:
    assert load_config(None, {}).auth.agent_key == ""
