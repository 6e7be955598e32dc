"""Who is asking: the client IP and user agent, for rate limits, sessions and the audit trail.

The client IP is the socket peer. `X-Forwarded-For` is believed only when the peer is one
of `settings.trusted_proxies` (addresses or CIDR networks): the header is read from the
right, skipping trusted proxies, and the first untrusted address is the client (a hop
may carry a port, which is dropped; a hop that is no address stops the walk). Anyone
can write that header, so trusting it from an arbitrary peer would let an attacker pick
the IP the brute-force limits count against (OWASP "Credential Stuffing Prevention").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from types import UnionType

from starlette.requests import Request

from jwtkeep.errors import ConfigurationError
from jwtkeep.usecases.context import RequestInfo

__all__ = ["MAX_USER_AGENT", "IPNetwork", "TrustedProxies", "request_info"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_USER_AGENT = 256
_MAX_FORWARDED_HOPS = 32


def _parse_ip(text: str) -> str | None:
    """The canonical text of the address in one forwarded hop, or None for garbage.

    A hop is a bare address (`192.0.2.1`, `2001:db8::1`), or one with a port, as proxies
    write them: `192.0.2.1:5678`, `[2001:db8::1]:443` (the node syntax of RFC 7239 §6;
    X-Forwarded-For has no RFC of its own). The port is dropped: it changes per
    connection, and the client is the address.
    """
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return None
        return _address(host, ipaddress.IPv6Address)
    if text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        host, _, port = text.partition(":")
        return _address(host, ipaddress.IPv4Address) if _is_port(port) else None
    return _address(text, ipaddress.IPv4Address | ipaddress.IPv6Address)


def _address(text: str, kind: type | UnionType) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(address) if isinstance(address, kind) else None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


class TrustedProxies:
    def __init__(self, proxies: Iterable[str]) -> None:
        networks: list[IPNetwork] = []
        for entry in proxies:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"trusted_proxies: not an IP or network: {entry!r}"
                ) from None
        self._networks = tuple(networks)

    def trusts(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def client_ip(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client address for a request from `peer` with these XFF header values."""
        if not self._networks or not self.trusts(peer):
            return peer
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        if len(hops) > _MAX_FORWARDED_HOPS:
            hops = hops[-_MAX_FORWARDED_HOPS:]
        client = peer
        for hop in reversed(hops):
            address = _parse_ip(hop)
            if address is None:
                break  # garbage: stop at the last address a trusted proxy vouched for
            client = address
            if not self.trusts(address):
                break
        return client


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:MAX_USER_AGENT]


def request_info(request: Request, proxies: TrustedProxies) -> RequestInfo:
    client = request.scope.get("client")
    peer = str(client[0]) if client else ""
    ip = proxies.client_ip(peer, request.headers.getlist("x-forwarded-for"))
    return RequestInfo(ip=ip, user_agent=_clean(request.headers.get("user-agent", "")))
