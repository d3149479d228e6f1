"""Which bucket a client address counts in."""

from __future__ import annotations

import pytest

from kavach_fastapi.ratelimit import bucket_of


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        pytest.param("198.51.100.7", "198.51.100.7", id="ipv4-per-address"),
        pytest.param("::ffff:198.51.100.7", "198.51.100.7", id="ipv4-mapped-as-ipv4"),
        pytest.param("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", id="ipv6-per-64"),
        pytest.param("2001:DB8:1:2::9", "2001:db8:1:2::/64", id="ipv6-spelling-does-not-matter"),
        pytest.param("fe80::1%eth0", "fe80::/64", id="ipv6-zone-ignored"),
    ],
)
def test_an_address_counts_in_the_bucket_of_its_subscriber(address: str, bucket: str) -> None:
    assert bucket_of(address) == bucket


@pytest.mark.parametrize("address", [None, "", "testclient", "unix:/run/app.sock", "unknown"])
def test_something_that_is_not_an_address_has_no_bucket(address: str | None) -> None:
    assert bucket_of(address) is None
