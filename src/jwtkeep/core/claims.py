"""The access-token claim set and the policy that checks it.

RFC 9068 §2.2 (required claims of a JWT access token), RFC 7519 §4.1 (registered claims),
RFC 8725 §3.8-3.9 (always validate issuer and audience), and the article: a UUID `sub`,
a unique `jti`, short life, nothing personal in the payload.

App-configured extra claims are checked against the registered claim names and the IANA
"JSON Web Token Claims" public names (RFC 7519 §4.2) so they can never collide with or
override a claim a verifier relies on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jwtkeep.errors import TokenError

__all__ = [
    "JWTKEEP_CLAIMS",
    "MAX_AUDIENCES",
    "MAX_AUDIENCE_LENGTH",
    "PERSONAL_DATA_CLAIMS",
    "PUBLIC_CLAIMS",
    "REGISTERED_CLAIMS",
    "AccessClaims",
    "ClaimError",
    "ClaimRules",
    "check_extra_claim_names",
    "validate_claims",
]

REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
JWTKEEP_CLAIMS = frozenset({"client_id", "scope", "sid"})
PERSONAL_DATA_CLAIMS = frozenset(
    {
        "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
        "email", "email_verified", "phone_number", "phone_number_verified", "address",
        "birthdate", "gender", "picture", "profile", "website", "zoneinfo", "locale",
        "username", "user", "password", "passwd", "secret", "ssn", "ip", "dob",
    }
)  # fmt: skip
# IANA "JSON Web Token Claims" registry (RFC 7519 §10.1), the names a verifier may rely on.
PUBLIC_CLAIMS = frozenset(
    {
        "updated_at", "azp", "nonce", "auth_time", "at_hash", "c_hash", "acr", "amr",
        "sub_jwk", "cnf", "sip_from_tag", "sip_date", "sip_callid", "sip_cseq_num",
        "sip_via_branch", "orig", "dest", "mky", "events", "toe", "txn", "rph", "vot", "vtm",
        "attest", "origid", "act", "may_act", "jcard", "at_use_nbr", "div", "opt", "vc", "vp",
        "sph", "ace_profile", "cnonce", "exi", "roles", "groups", "entitlements",
        "token_introspection", "eat_nonce", "ueid", "sueids", "oemid", "hwmodel", "hwversion",
        "secboot", "dbgstat", "location", "eat_profile", "submods", "rcs", "nfv_token",
        "htm", "htu", "ath", "authorization_details", "tenant", "typ", "cty", "alg", "kid",
    }
) | PERSONAL_DATA_CLAIMS  # fmt: skip
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_AUDIENCES = 8
MAX_AUDIENCE_LENGTH = 512
_MIN_JTI_LENGTH = 22  # 128 bits in base64url (RFC 9068 §2.2 wants a unique identifier)


class ClaimError(TokenError, ValueError):
    """The claim set is missing something, mistyped, expired or not for us (or an app's
    extra claim names collide with registered ones; a `ValueError` for that caller)."""


@dataclass(frozen=True)
class AccessClaims:
    """A verified (or about-to-be-signed) RFC 9068 access-token claim set."""

    iss: str
    sub: str
    aud: str | tuple[str, ...]  # one audience, or several (RFC 7519 §4.1.3)
    exp: int
    nbf: int
    iat: int
    jti: str
    client_id: str
    scope: str
    sid: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.aud,) if isinstance(self.aud, str) else self.aud

    def aud_json(self) -> str | list[str]:
        """`aud` as it goes on the wire: a string, or an array for several."""
        return self.aud if isinstance(self.aud, str) else list(self.aud)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = dict(self.extra)
        payload.update(
            iss=self.iss, sub=self.sub, aud=self.aud_json(), exp=self.exp, nbf=self.nbf,
            iat=self.iat, jti=self.jti, client_id=self.client_id, scope=self.scope,
            sid=self.sid,
        )  # fmt: skip
        return payload


@dataclass(frozen=True)
class ClaimRules:
    """What a verifier expects: `audience` must be among the token's audiences (RFC 9068
    §4). `audience=None` only where the issuing server looks at a token for any of its
    apps (introspection, revocation), never to authorize a request."""

    issuer: str
    audience: str | None
    leeway: int = 30
    max_lifetime: int = 3600


def check_extra_claim_names(names: Mapping[str, Any] | frozenset[str] | list[str]) -> None:
    """Refuse app claims that collide with registered, public or jwtkeep's own names."""
    reserved = REGISTERED_CLAIMS | JWTKEEP_CLAIMS | PUBLIC_CLAIMS
    clashes = sorted(set(names) & reserved)
    if clashes:
        raise ClaimError(f"claim names collide with registered or public claims: {clashes}")


def _int_claim(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    # bool is an int in Python; a NumericDate is a JSON number (RFC 7519 §2).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClaimError(f"{name} missing or not a NumericDate")
    if not -(2**53) < value < 2**53:
        raise ClaimError(f"{name} out of range")
    return int(value)


def _str_claim(payload: Mapping[str, Any], name: str, max_len: int = 512) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ClaimError(f"{name} missing or not a string")
    return value


def _audience(payload: Mapping[str, Any]) -> str | tuple[str, ...]:
    """RFC 7519 §4.1.3: a string, or an array of strings. jwtkeep issues one audience, or
    two (the app's and the account API's, `[app, issuer]`); a one-element array reads as
    its string. Bounded, no empty or repeated entries."""
    aud = payload.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if isinstance(aud, str) and 0 < len(aud) <= MAX_AUDIENCE_LENGTH:
        return aud
    if (
        isinstance(aud, list)
        and 2 <= len(aud) <= MAX_AUDIENCES
        and all(isinstance(a, str) and 0 < len(a) <= MAX_AUDIENCE_LENGTH for a in aud)
        and len(set(aud)) == len(aud)
    ):
        return tuple(aud)
    raise ClaimError("aud missing or not a string or an array of distinct strings")


def _check_subject(sub: str) -> None:
    # The article: the subject is a UUID, never an e-mail or name. Canonical lower-case
    # form only (RFC 9562 §4), so one user has exactly one `sub` spelling.
    if not _CANONICAL_UUID.fullmatch(sub):
        raise ClaimError("sub is not a canonical UUID")


def _check_times(exp: int, nbf: int, iat: int, now: float, rules: ClaimRules) -> None:
    if exp <= now - rules.leeway:
        raise ClaimError("expired")  # RFC 7519 §4.1.4
    if nbf > now + rules.leeway:
        raise ClaimError("not yet valid")  # RFC 7519 §4.1.5
    if iat > now + rules.leeway:
        raise ClaimError("issued in the future")  # RFC 7519 §4.1.6
    if exp - iat > rules.max_lifetime or exp <= iat:
        raise ClaimError("lifetime out of bounds")


def validate_claims(payload: Mapping[str, Any], rules: ClaimRules, now: float) -> AccessClaims:
    """Check every required claim; return the typed claim set."""
    iss = _str_claim(payload, "iss")
    if iss != rules.issuer:
        raise ClaimError("wrong issuer")  # RFC 8725 §3.8
    aud = _audience(payload)
    audiences = (aud,) if isinstance(aud, str) else aud
    if rules.audience is not None and rules.audience not in audiences:
        # RFC 8725 §3.9, RFC 9068 §4: our own audience must be among the token's.
        raise ClaimError("wrong audience")
    exp, nbf, iat = (_int_claim(payload, n) for n in ("exp", "nbf", "iat"))
    _check_times(exp, nbf, iat, now, rules)
    sub = _str_claim(payload, "sub", 64)
    _check_subject(sub)
    jti = _str_claim(payload, "jti", 128)
    if len(jti) < _MIN_JTI_LENGTH:
        raise ClaimError("jti too short")
    scope = payload.get("scope", "")
    if not isinstance(scope, str):
        raise ClaimError("scope is not a string")
    known = REGISTERED_CLAIMS | JWTKEEP_CLAIMS
    return AccessClaims(
        iss=iss, sub=sub, aud=aud, exp=exp, nbf=nbf, iat=iat, jti=jti,
        client_id=_str_claim(payload, "client_id", 128), scope=scope,
        sid=_str_claim(payload, "sid", 128),
        extra={k: v for k, v in payload.items() if k not in known},
    )  # fmt: skip
