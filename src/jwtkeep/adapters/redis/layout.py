"""The Redis key layout of the token store: compact, binary, one hash slot per user.

Every key of one user starts with the hash tag `{T}` (Redis Cluster spec, "Hash tags"),
so a user's tokens, sessions and refresh families live in one slot and every multi-key
step is one Lua script, in a Cluster as on a single server.

    {T}      hash   the user's hash, holding two kinds of fields:
                      a<fp>  (`a` + 32 raw bytes) -> exp (5 bytes, big-endian) +
                             kid tag (4 bytes: SHA-256 of the signing key's kid) + S:
                             one allowlisted access token, bound to its session S (the
                             tag lets the key-leak drill find what a key signed)
                      s<S>   -> keep-until (Unix seconds): the session index entry, kept
                             while the session or any of its tokens may still be alive
    {T}s<S>  hash   one session's clock and refresh family: `l` last used, `i` idle
                    expiry, `x` absolute expiry (SESSION_FIELDS), and
                    fingerprint (32 raw bytes) -> "c" (current) | "u<t>" (used up at
                    t; only the newest 32 are kept, so the hash stays small)
    {T}m<S>  string the session's fixed details, JSON: [client_id, scope, created_at,
                    user_agent, ip] (a string, so a long User-Agent cannot push the
                    hash above out of its compact encoding)
    ~<S>     string sid -> user id (get_session only knows the sid); immutable
    !cut     hash   cut-offs (Unix seconds): field `*` (`revoke-everything`) and
                    `c<client_id>` (an app disabled or deleted): every access token
                    issued (`iat`) and every session started at or before the cut-off
                    (of that app) is dead

T is the user id in binary: a canonical UUID string becomes its 16 raw bytes, any other
id is `\\~` followed by its UTF-8 text. `}` and `\\` inside T are escaped (`\\]`,
`\\\\`) so the tag always ends at the real closing brace. S is the session id with a form
byte: `r` + 16 raw bytes for a canonical 22-character base64url sid (what jwtkeep
issues), `t` + UTF-8 text for any other; in `{T}s<S>` and `{T}m<S>` the kind letter
carries the form (lower case raw, upper case text). Both encodings are injective, so
no two users or sessions share a key or a field.

Why one hash per user (bench/results/redis.md): a small hash keeps Redis's compact
listpack encoding, where a token costs its two strings plus a few bytes, while every key
of its own costs about 100 bytes of bookkeeping before its name and value. So an access
token that starts a user's hash costs under 200 bytes, each further one about 60.

Nothing here is a raw token: only SHA-256 fingerprints, ids and session metadata.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from functools import lru_cache

__all__ = [
    "ACCESS",
    "CUTOFF_KEY",
    "EVENTS_CHANNEL",
    "EVERYONE",
    "EXP_BYTES",
    "HEAD_BYTES",
    "KID_TAG_BYTES",
    "MAP_PREFIX",
    "SESSION",
    "SESSION_FIELDS",
    "TAG_TEXT",
    "access_exp",
    "access_value",
    "details_key",
    "is_user_key",
    "kid_tag",
    "map_key",
    "number",
    "session_key",
    "sid_code",
    "sid_from_code",
    "ttl_ms",
    "user_key",
    "user_tag",
]

MAP_PREFIX = b"~"
CUTOFF_KEY = b"!cut"  # no `{`: never a user's key; `!` never starts a map key
EVERYONE = b"*"  # the cut-off hash's field for every app; `c` + client_id for one
ACCESS = b"a"  # user-hash field prefix of an access token
SESSION = b"s"  # user-hash field prefix of a session index entry
EXP_BYTES = 5  # big-endian: enough until the year 36812
KID_TAG_BYTES = 4
HEAD_BYTES = EXP_BYTES + KID_TAG_BYTES  # before the session member in an access entry
EVENTS_CHANNEL = b"jwtkeep:revocations"  # as in common.lua
TAG_TEXT = b"\\~"  # marks a non-UUID user id; `\~` never occurs in an escaped UUID
SESSION_FIELDS = (b"l", b"i", b"x")
"""last_used_at, idle_expires_at, absolute_expires_at: the session hash's own fields
(refresh fingerprints are 32 bytes long, so they never collide with these names)."""

_RAW_SID = ord("r")
_CACHE = 65_536


def _escape(raw: bytes) -> bytes:
    if b"\\" in raw or b"}" in raw:
        return raw.replace(b"\\", b"\\\\").replace(b"}", b"\\]")
    return raw


def _uuid_bytes(text: str) -> bytes | None:
    """The 16 bytes of a canonical (lower-case, hyphenated) UUID string, else None."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-":
        return None
    if text[23] != "-":
        return None
    compact = text.replace("-", "")
    try:
        raw = bytes.fromhex(compact)
    except ValueError:
        return None
    return raw if len(raw) == 16 and raw.hex() == compact else None


@lru_cache(maxsize=_CACHE)
def user_tag(user_id: str) -> bytes:
    """The hash-tag contents for one user (see module docstring)."""
    raw = _uuid_bytes(user_id)
    if raw is not None:
        return _escape(raw)
    return TAG_TEXT + _escape(user_id.encode("utf-8"))


@lru_cache(maxsize=_CACHE)
def sid_code(sid: str) -> bytes:
    """`r` + 16 raw bytes for a canonical base64url sid, else `t` + its UTF-8 text."""
    if len(sid) == 22:
        try:
            raw = base64.urlsafe_b64decode(sid + "==")
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 16 and base64.urlsafe_b64encode(raw).rstrip(b"=") == sid.encode():
            return b"r" + raw
    return b"t" + sid.encode("utf-8")


def sid_from_code(code: bytes) -> str:
    if code[0] == _RAW_SID:
        return base64.urlsafe_b64encode(code[1:]).rstrip(b"=").decode("ascii")
    return code[1:].decode("utf-8")


def user_key(user_id: str) -> bytes:
    """The user's hash; also the prefix of all the user's other keys."""
    return b"{" + user_tag(user_id) + b"}"


def session_key(user_id: str, sid: str, kind: bytes = b"s") -> bytes:
    """The session's hash (`s`), or with kind `m` its details string."""
    code = sid_code(sid)
    letter = kind if code[0] == _RAW_SID else kind.upper()
    return user_key(user_id) + letter + code[1:]


def is_user_key(key: bytes) -> bool:
    """A user's hash `{T}` (not one of its `{T}s..`/`{T}m..` keys): inside T every `}`
    is escaped, so the first `}` ends the tag, and a user's hash ends right there."""
    return key.startswith(b"{") and key.find(b"}") == len(key) - 1


def details_key(user_id: str, sid: str) -> bytes:
    return session_key(user_id, sid, b"m")


@lru_cache(maxsize=256)
def kid_tag(kid: str) -> bytes:
    """4 bytes naming the signing key (a collision only over-revokes in the drill)."""
    return hashlib.sha256(kid.encode("utf-8")).digest()[:KID_TAG_BYTES]


def access_value(exp: int, code: bytes, kid: str = "") -> bytes:
    """An access token's entry in the user hash: when it dies, which key signed it, and
    whose session it is."""
    return max(0, exp).to_bytes(EXP_BYTES, "big") + kid_tag(kid) + code


def access_exp(value: bytes) -> int:
    return int.from_bytes(value[:EXP_BYTES], "big")


def map_key(sid: str) -> bytes:
    return MAP_PREFIX + sid_code(sid)


def number(value: float) -> bytes:
    """A time as Redis will keep it: integral values as integers (compact in a listpack),
    others as the shortest repr that reads back as the same float."""
    if value.is_integer():
        return b"%d" % int(value)
    return repr(value).encode("ascii")


def ttl_ms(until: float, now: float) -> int:
    """Milliseconds from `now` to `until`, at least one second (the store's floor)."""
    return max(1000, math.ceil((until - now) * 1000))
