"""What a session records of its device: the network, never the address; a trimmed user agent."""

from __future__ import annotations

import pytest

from kavach_fastapi.devices import (
    MAX_USER_AGENT,
    Device,
    client_network,
    describe_device,
    trim_user_agent,
)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("198.51.100.7", "198.51.100.0/24"),
        ("198.51.100.255", "198.51.100.0/24"),
        ("10.0.0.1", "10.0.0.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::/48"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
        ("fe80::1%eth0", "fe80::/48"),
        ("::1", "::/48"),
        (" 127.0.0.1 ", "127.0.0.0/24"),
    ],
)
def test_an_address_is_recorded_as_its_ipv4_24_or_ipv6_48_network(
    address: str, network: str
) -> None:
    assert client_network(address) == network


@pytest.mark.parametrize("address", [None, "", "testclient", "unix:/run/app.sock", "999.1.1.1"])
def test_what_is_not_an_ip_address_records_no_network(address: str | None) -> None:
    assert client_network(address) is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        ),
        ("  curl/8.5.0\t\t", "curl/8.5.0"),
        ("Evil\x00Agent\r\nSet-Cookie: x=1", "Evil Agent Set-Cookie: x=1"),
        ("Caf\xe9 \u2615 Browser", "Caf Browser"),
        ("", None),
        (None, None),
        ("\x00\x01 \x7f", None),
    ],
)
def test_a_user_agent_keeps_printable_ascii_with_whitespace_folded(
    sent: str | None, kept: str | None
) -> None:
    assert trim_user_agent(sent) == kept


def test_a_long_user_agent_is_cut() -> None:
    trimmed = trim_user_agent("Mozilla/5.0 " + "A" * 10_000)

    assert trimmed is not None
    assert len(trimmed) == MAX_USER_AGENT
    assert trimmed.startswith("Mozilla/5.0 AAA")


def test_a_device_is_described_from_the_request_s_values() -> None:
    assert describe_device("curl/8.5.0", "203.0.113.66") == Device("curl/8.5.0", "203.0.113.0/24")
    assert describe_device(None, None) == Device()
