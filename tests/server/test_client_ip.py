"""Client IP: the socket peer, X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

import pytest

from jwtkeep.errors import ConfigurationError
from jwtkeep.server.client_ip import TrustedProxies

PROXIES = TrustedProxies(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["198.51.100.1, 10.0.0.3"], "198.51.100.1"),  # skip trusted hops
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the left part is forgeable
        ("10.0.0.2", ["198.51.100.1", "10.0.0.4"], "198.51.100.1"),  # several headers
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["garbage"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1, garbage"], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),  # all trusted: the leftmost
        ("::1", ["2001:db8::1"], "2001:db8::1"),
        ("testclient", ["198.51.100.1"], "testclient"),  # not an IP: never trusted
        # hops with a port (RFC 7239 §6 node syntax, as proxies write them): the address
        ("10.0.0.2", ["198.51.100.1:5678"], "198.51.100.1"),
        ("10.0.0.2", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.2", ["[2001:db8::1]"], "2001:db8::1"),
        ("10.0.0.2", ["2001:db8::1"], "2001:db8::1"),
        ("10.0.0.2", ["6.6.6.6:1, 198.51.100.1:5678, 10.0.0.3:80"], "198.51.100.1"),
        ("10.0.0.2", ["198.51.100.1, [::1]:8080"], "198.51.100.1"),  # trusted v6 hop
        # garbage with a port still stops at the last trusted hop
        ("10.0.0.2", ["198.51.100.1:99999"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1:"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1:http"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1:+80"], "10.0.0.2"),
        ("10.0.0.2", [":80"], "10.0.0.2"),
        ("10.0.0.2", ["[198.51.100.1]:80"], "10.0.0.2"),  # brackets are for IPv6 only
        ("10.0.0.2", ["[2001:db8::1]443"], "10.0.0.2"),
        ("10.0.0.2", ["[2001:db8::1]:"], "10.0.0.2"),
        ("10.0.0.2", ["[2001:db8::1"], "10.0.0.2"),
        ("10.0.0.2", ["2001:db8::1]:443"], "10.0.0.2"),
        ("10.0.0.2", ["unknown:80"], "10.0.0.2"),
        ("10.0.0.2", ["garbage, 10.0.0.3:80"], "10.0.0.3"),  # the last trusted hop
    ],
)
def test_client_ip(peer: str, forwarded: list[str], expected: str) -> None:
    assert PROXIES.client_ip(peer, forwarded) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert TrustedProxies([]).client_ip("10.0.0.2", ["198.51.100.1"]) == "10.0.0.2"


def test_bad_proxy_setting_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        TrustedProxies(["not-a-network"])
