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

A listener that cannot read an event (another version, a type it does not know, a bad
field) must treat it as "all": dropping too much costs a store lookup, dropping too little
would accept a revoked token. Nothing here is a raw token: a fingerprint is a SHA-256.
"""

from __future__ import annotations

import enum
import json
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


@dataclass(frozen=True)
class RevocationEvent:
    """One revocation. `value` is the fingerprint (hex), sid, sub or kid by `kind`; `sub`
    is the session's user for a session event."""

    kind: EventKind
    value: str = ""
    sub: str = ""

    @classmethod
    def token(cls, fp: bytes) -> RevocationEvent:
        return cls(EventKind.TOKEN, fp.hex())

    @classmethod
    def session(cls, sid: str, sub: str) -> RevocationEvent:
        return cls(EventKind.SESSION, sid, sub)

    @classmethod
    def user(cls, sub: str) -> RevocationEvent:
        return cls(EventKind.USER, sub)

    @classmethod
    def signed_by(cls, kid: str) -> RevocationEvent:
        return cls(EventKind.KID, kid)

    def fields(self) -> dict[str, str | int]:
        body: dict[str, str | int] = {"v": EVENT_VERSION, "type": self.kind.value}
        names = _FIELDS[self.kind]
        if names:
            body[names[0]] = self.value
        if self.kind is EventKind.SESSION:
            body["sub"] = self.sub
        return body

    def encode(self) -> bytes:
        return json.dumps(self.fields(), separators=(",", ":"), ensure_ascii=False).encode()


EVERYTHING = RevocationEvent(EventKind.ALL)


def decode_event(raw: bytes | str) -> RevocationEvent:
    """The event, or `all` for anything this version cannot read (fail safe)."""
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
    if kind is EventKind.SESSION:
        return RevocationEvent(kind, values[0], values[1])
    return RevocationEvent(kind, values[0] if values else "")
