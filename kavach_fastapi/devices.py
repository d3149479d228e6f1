"""What a session records of the device that signed in: a trimmed user agent and a network.

Enough for a person to recognise their own sessions ("Firefox on Linux, from 198.51.100.0/24"),
and no more: the client's address is truncated to its network before it is stored, an IPv4
address to its ``/24`` and an IPv6 address to its ``/48`` (an IPv4 address carried in IPv6 is
treated as IPv4), so the table never holds the address of one machine. The user agent keeps
printable ASCII only, with runs of whitespace folded, and at most `MAX_USER_AGENT` characters.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_USER_AGENT = 200
"""The longest user agent a session keeps; a longer one is cut (browsers' fit with room)."""

IPV4_PREFIX = 24
"""An IPv4 client is recorded as its ``/24`` network (256 addresses)."""

IPV6_PREFIX = 48
"""An IPv6 client is recorded as its ``/48`` network (a site's allocation)."""

MAX_NETWORK = 64
"""The longest network text a session keeps (``/48`` of IPv6 needs at most 43)."""


@dataclass(frozen=True)
class Device:
    """The device a session was signed in from, as stored.

    Attributes:
        user_agent: the trimmed ``User-Agent``, or ``None`` when none was sent.
        network: the client's network, e.g. ``198.51.100.0/24``, or ``None`` when the server
            reported no IP address (a Unix socket, a test client).
    """

    user_agent: str | None = None
    network: str | None = None


UNKNOWN_DEVICE = Device()
"""What is recorded when nothing is known about the device."""


def describe_device(user_agent: str | None, address: str | None) -> Device:
    """The device of a request, from its ``User-Agent`` and the client's address."""
    return Device(user_agent=trim_user_agent(user_agent), network=client_network(address))


def trim_user_agent(user_agent: str | None) -> str | None:
    """Printable ASCII, whitespace folded, at most `MAX_USER_AGENT` characters; ``None`` if empty."""
    if not user_agent:
        return None
    kept = "".join(char if char.isascii() and char.isprintable() else " " for char in user_agent)
    folded = " ".join(kept.split())[:MAX_USER_AGENT].rstrip()
    return folded or None


def client_network(address: str | None) -> str | None:
    """The network of a client address (``/24`` for IPv4, ``/48`` for IPv6); ``None`` if not an IP."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
