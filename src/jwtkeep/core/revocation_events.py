"""Revocation events: what the token store publishes when a token becomes unacceptable.

DESIGN.md "Contract: the token store": every change that makes an access token
unacceptable publishes one event, in the same atomic step as the change, so that every
listener (replicas, SDK verifiers, the issuer's HTTPS stream) drops exactly what it must
from its verdict cache (`jwtkeep.core.verdicts`). The wire form is one small JSON object,
versioned (docs/revocation.md):

    {"v": 1, "type": "token",   "fp": "<SHA-256 fingerprint, hex>"}   RFC 7009 revocation
    {"v": 1, "type": "session", "sid": "...", "sub": "..."}          logout, session revoke,
                                                                       refresh-token reuse
    {"v": 1, "type": "user",    "sub": "..."}                         logout-all, password
                                                                       change, user disable
    {"v": 1, "type": "kid",     "kid": "..."}                         keys compromised/retire
    {"v": 1, "type": "all"}                                           revoke everything,
                                                                      app disable/delete

`token`, `session` and `user` events may also carry `"clients": ["<client_id>", ...]`,
the apps whose tokens or sessions the change ended. Only the issuer's HTTPS stream reads
it (each subscriber gets only the events of apps it may introspect, RFC 7662 §4); without
it (not known to the store) the event goes to every subscriber. It is an optional field
of version 1: a reader of version 1 ignores fields it does not use, and nothing a
verdict cache drops depends on it, so it needs no new version.

A listener that cannot read an event (another version, a type it does not know, a bad
field) must treat it as "all": dropping too much costs a store lookup, dropping too little
would accept a revoked token. Nothing here is a raw token: a fingerprint is a SHA-256.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "EVENT_VERSION",
    "EVERYTHING",
    "MAX_EVENT_BYTES",
    "EventKind",
    "RevocationEvent",
    "decode_event",
]

EVENT_VERSION = 1
MAX_EVENT_BYTES = 1024


class EventKind(enum.StrEnum):
    TOKEN = "token"  # noqa: S105 (an event type, not a secret)
    SESSION = "session"
    USER = "user"
    KID = "kid"
    ALL = "all"


_FIELDS = {
    EventKind.TOKEN: ("fp",),
    EventKind.SESSION: ("sid", "sub"),
    EventKind.USER: ("sub",),
    EventKind.KID: ("kid",),
    EventKind.ALL: (),
}


_NAMES_CLIENTS = frozenset({EventKind.TOKEN, EventKind.SESSION, EventKind.USER})


def _clients(clients: Iterable[str | None] | None) -> tuple[str, ...] | None:
    """Sorted and distinct; None (not known: every subscriber) if any is unknown or none."""
    if clients is None:
        return None
    named: set[str] = set()
    for client in clients:
        if not isinstance(client, str) or not client:
            return None
        named.add(client)
    return tuple(sorted(named)) if named else None


@dataclass(frozen=True)
class RevocationEvent:
    """One revocation. `value` is the fingerprint (hex), sid, sub or kid by `kind`; `sub`
    is the session's user for a session event; `clients` the apps (client ids) whose
    tokens a token, session or user event ended, None if not known."""

    kind: EventKind
    value: str = ""
    sub: str = ""
    clients: tuple[str, ...] | None = None

    @classmethod
    def token(cls, fp: bytes, client: str | None = None) -> RevocationEvent:
        return cls(EventKind.TOKEN, fp.hex(), clients=_clients([client]))

    @classmethod
    def session(
        cls, sid: str, sub: str, clients: Iterable[str | None] | None = None
    ) -> RevocationEvent:
        return cls(EventKind.SESSION, sid, sub, _clients(clients))

    @classmethod
    def user(cls, sub: str, clients: Iterable[str | None] | None = None) -> RevocationEvent:
        return cls(EventKind.USER, sub, clients=_clients(clients))

    @classmethod
    def signed_by(cls, kid: str) -> RevocationEvent:
        return cls(EventKind.KID, kid)

    def without_clients(self) -> RevocationEvent:
        return RevocationEvent(self.kind, self.value, self.sub)

    def fields(self) -> dict[str, str | int | list[str]]:
        body: dict[str, str | int | list[str]] = {"v": EVENT_VERSION, "type": self.kind.value}
        names = _FIELDS[self.kind]
        if names:
            body[names[0]] = self.value
        if self.kind is EventKind.SESSION:
            body["sub"] = self.sub
        if self.clients is not None and self.kind in _NAMES_CLIENTS:
            body["clients"] = list(self.clients)
        return body

    def encode(self) -> bytes:
        """The wire form; without `clients` if they would make it longer than
        MAX_EVENT_BYTES (then every subscriber gets it: the safe reading)."""
        raw = json.dumps(self.fields(), separators=(",", ":"), ensure_ascii=False).encode()
        if len(raw) > MAX_EVENT_BYTES and self.clients is not None:
            return self.without_clients().encode()
        return raw


EVERYTHING = RevocationEvent(EventKind.ALL)


def decode_event(raw: bytes | str) -> RevocationEvent:
    """The event, or `all` for anything this version cannot read (fail safe). Malformed
    `clients` read as not known (every subscriber)."""
    if len(raw) > MAX_EVENT_BYTES:
        return EVERYTHING
    try:
        body = json.loads(raw)
        kind = EventKind(body["type"])
        if body.get("v") != EVENT_VERSION:
            return EVERYTHING
        values = [body[name] for name in _FIELDS[kind]]
    except (ValueError, TypeError, KeyError):
        return EVERYTHING
    if not all(isinstance(value, str) and value for value in values):
        return EVERYTHING
    listed = body.get("clients")
    clients = _clients(listed) if kind in _NAMES_CLIENTS and isinstance(listed, list) else None
    if kind is EventKind.SESSION:
        return RevocationEvent(kind, values[0], values[1], clients)
    return RevocationEvent(kind, values[0] if values else "", clients=clients)
