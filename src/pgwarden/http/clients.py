"""Who a request comes from, when reverse proxies or the temBoard UI stand in between.

uvicorn takes the client from X-Forwarded-For when the peer is in `[server] trusted_proxies`
(the right-most address that is not itself trusted). What is left to decide here: a peer
that is still a trusted proxy after that sent no client address, so it speaks for many.
"""

from __future__ import annotations

import ipaddress
from functools import cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def is_trusted_proxy(address: str, trusted: tuple[str, ...]) -> bool:
    """Whether `address` is one of the trusted proxies (addresses or networks)."""
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def throttling_address(address: str, trusted: tuple[str, ...]) -> str | None:
    """The address failed logins count against; None for a proxy that named no client.

    The temBoard UI forwards its users' logins without saying who they are: counting them
    against its address would let a few mistyped passwords lock every UI user out.
    """
    return None if is_trusted_proxy(address, trusted) else address
