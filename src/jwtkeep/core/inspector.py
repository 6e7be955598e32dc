"""The token inspector: decode ANY JWT *without checking it* and name its pitfalls.

This is the one clearly named "decode without checking" path of jwtkeep (CONVENTIONS
"Shape"). It backs `jwtkeep token inspect` only: nothing here decides whether a token is
accepted; `jwtkeep.core.access_token` does that. The signature is never verified (the
optional weak-secret probe recomputes an HMAC only to show the secret is guessable).

What it points out, each with the rule it comes from:
- `alg` none or missing (RFC 8725 §2.1, §3.1), an HMAC `alg` and its brute-forceable
  secrets (RFC 8725 §2.2, §3.5; RFC 7518 §3.2), RSASSA-PKCS1-v1_5 (the article;
  RFC 8725 §3.2);
- headers that let a token pick its own key or add rules (`jku`, `x5u`, `jwk`, `x5c`:
  RFC 8725 §3.10; `crit`: RFC 7515 §4.1.11; `zip`: RFC 8725 §3.6), no `typ`
  (RFC 8725 §3.11), no `kid` (RFC 7515 §4.1.4);
- no `exp` (valid forever, the article; RFC 7519 §4.1.4), a life longer than one hour
  (RFC 6819 §5.1.5.3; jwtkeep's own hard bound), missing `iss`/`aud`/`jti`/`iat`/`nbf`
  (RFC 7519 §4.1; RFC 8725 §3.8-3.9; RFC 9068 §2.2), a `sub` that is not a UUID and
  personal data anywhere in the payload (the article; RFC 9068 §6);
- expired or not yet valid tokens (for information).

Arbitrary input never raises: it gives a report that says "not a JWT" and why.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jwtkeep.core.claims import PERSONAL_DATA_CLAIMS
from jwtkeep.core.compact import b64url_decode
from jwtkeep.core.hmac_secret import MIN_DISTINCT_BYTES, is_repetitive
from jwtkeep.errors import InvalidValue, JwtkeepError

__all__ = [
    "LONG_LIFETIME_SECONDS",
    "MAX_INSPECT_CHARS",
    "Pitfall",
    "Report",
    "Severity",
    "inspect_token",
]

LONG_LIFETIME_SECONDS = 3600  # jwtkeep's hard upper bound (settings.MAX_ACCESS_TOKEN_TTL)
MAX_INSPECT_CHARS = 256 * 1024
_HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_SECRET_CLAIMS = frozenset({"password", "passwd", "secret", "ssn"})
# Secrets that tutorials, jwt.io and framework templates ship with; found in real tokens.
_PUBLIC_SECRETS = (
    "secret", "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret",
    "changeme", "change-me", "password", "secretkey", "secret-key", "jwt-secret",
    "mysecret", "my-secret", "supersecret", "shhhhh", "key", "test", "",
)  # fmt: skip
_EMAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+\d[\d\s().-]{5,18}\d|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}")
_MAX_WALK = 10_000  # values visited in the payload; the walk never recurses


class Severity(enum.StrEnum):
    HIGH = "high"  # exploitable as it stands
    MEDIUM = "medium"  # a best practice broken; risky in some deployments
    LOW = "low"  # worth fixing
    INFO = "info"  # a fact about this token (expired, not yet valid)


@dataclass(frozen=True)
class Pitfall:
    code: str  # stable identifier, e.g. "no-exp"
    severity: Severity
    message: str
    reference: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity.value,
                "message": self.message, "reference": self.reference}  # fmt: skip


@dataclass(frozen=True)
class Report:
    """What the inspector found. `is_jwt` False means `error` says why it is not one."""

    is_jwt: bool
    header: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    pitfalls: tuple[Pitfall, ...] = ()
    error: str | None = None
    now: float = 0.0
    signature_checked: bool = field(default=False, init=False)  # never, by design

    def worst(self) -> Severity | None:
        found = [p.severity for p in self.pitfalls]
        return min(found, key=list(Severity).index) if found else None

    def codes(self) -> list[str]:
        return [p.code for p in self.pitfalls]

    def to_dict(self) -> dict[str, Any]:
        return {
            "jwt": self.is_jwt, "error": self.error, "header": self.header,
            "payload": self.payload, "signature_checked": self.signature_checked,
            "pitfalls": [p.to_dict() for p in self.pitfalls],
        }  # fmt: skip


_SEVERITY_ORDER = list(Severity)


class _NotAJwt(JwtkeepError):
    """Why the input is no JWT; never escapes `inspect_token` (it becomes the report)."""


def inspect_token(token: str, now: float, *, hmac_secret: bytes | None = None) -> Report:
    """Decode header and payload of `token` (no signature check) and list its pitfalls.

    `hmac_secret`, when given for an HS* token, is the raw key (bytes as the signer used
    them; for jwtkeep's own JWTKEEP_HMAC_SECRET, its base64url-decoded bytes). It is
    checked by the rules `jwtkeep.core.hmac_secret` applies to jwtkeep's own secret: at
    least the hash size (RFC 7518 §3.2) and not obviously non-random (RFC 8725 §3.5).
    """
    try:
        header, payload, segments, dup = _decode(token)
    except _NotAJwt as exc:
        return Report(is_jwt=False, error=str(exc), now=now)
    found: list[Pitfall] = []
    if dup:
        found.append(_DUPLICATES)
    found += _header_pitfalls(header, segments, hmac_secret)
    found += _claim_pitfalls(payload, now)
    found += _personal_data_pitfalls(payload)
    found.sort(key=lambda pitfall: _SEVERITY_ORDER.index(pitfall.severity))  # worst first
    return Report(is_jwt=True, header=header, payload=payload, pitfalls=tuple(found), now=now)


# --- decoding -------------------------------------------------------------------------


def _decode(token: object) -> tuple[dict[str, Any], dict[str, Any], list[str], bool]:
    if not isinstance(token, str):
        raise _NotAJwt("not a JWT: not text")
    text = token.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if len(text) > MAX_INSPECT_CHARS:
        raise _NotAJwt(f"not a JWT: longer than {MAX_INSPECT_CHARS} characters")
    segments = text.split(".")
    if len(segments) == 5:
        raise _NotAJwt("not inspectable: an encrypted JWT (JWE) hides its payload")
    if len(segments) != 3:
        raise _NotAJwt("not a JWT: a compact JWS has three dot-separated parts")
    header, dup_header = _json_segment(segments[0], "header")
    payload, dup_payload = _json_segment(segments[1], "payload")
    return header, payload, segments, dup_header or dup_payload


def _json_segment(segment: str, what: str) -> tuple[dict[str, Any], bool]:
    try:
        text = b64url_decode(segment).decode("utf-8", "strict")
    except ValueError:  # MalformedToken and UnicodeDecodeError are ValueErrors
        raise _NotAJwt(f"not a JWT: the {what} is not base64url-encoded UTF-8") from None
    loader = _TolerantJson()
    try:
        value = json.loads(text, object_pairs_hook=loader.object,
                           parse_constant=_refuse, parse_float=_finite_float)  # fmt: skip
    except (ValueError, RecursionError):
        raise _NotAJwt(f"not a JWT: the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise _NotAJwt(f"not a JWT: the {what} is not a JSON object")
    return value, loader.duplicates


class _TolerantJson:
    """Keeps the last of duplicate member names (as most parsers do) but remembers them:
    RFC 8725 §2.6 (parsers disagree on which one wins)."""

    def __init__(self) -> None:
        self.duplicates = False

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            self.duplicates = self.duplicates or key in result
            result[key] = value
        return result


def _refuse(name: str) -> Any:
    raise InvalidValue(f"non-standard JSON constant {name}")  # RFC 8259 §6


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidValue("number out of range")  # RFC 8259 §6: 1e999 is no number
    return value


_DUPLICATES = Pitfall(
    "duplicate-members", Severity.HIGH,
    "A member name appears twice: verifiers may read different values (last one shown).",
    "RFC 7515 §5.2; RFC 8725 §2.6",
)  # fmt: skip


# --- header ---------------------------------------------------------------------------


def _header_pitfalls(
    header: dict[str, Any], segments: list[str], secret: bytes | None
) -> Iterator[Pitfall]:
    alg = header.get("alg")
    yield from _alg_pitfalls(alg, segments)
    if isinstance(alg, str) and alg in _HMAC_HASHES:
        yield from _hmac_secret_pitfalls(alg, segments, secret)
    for name in ("jku", "x5u", "jwk", "x5c"):
        if name in header:
            yield Pitfall(
                f"header-{name}", Severity.HIGH,
                f"Header `{name}` names its own key: a verifier that honours it accepts "
                "tokens signed by anyone.",
                "RFC 8725 §3.10; RFC 7515 §4.1",
            )  # fmt: skip
    if "crit" in header:
        yield Pitfall("header-crit", Severity.MEDIUM,
                      "Header `crit` demands extensions every verifier must understand or reject.",
                      "RFC 7515 §4.1.11")  # fmt: skip
    if "zip" in header:
        yield Pitfall("header-zip", Severity.MEDIUM,
                      "Compressed content leaks plaintext length (compression oracles).",
                      "RFC 8725 §3.6")  # fmt: skip
    if "typ" not in header:
        yield Pitfall("no-typ", Severity.LOW,
                      "No `typ`: tokens of different kinds can be confused (want `at+jwt`).",
                      "RFC 8725 §3.11; RFC 9068 §2.1")  # fmt: skip
    if "kid" not in header:
        yield Pitfall("no-kid", Severity.LOW,
                      "No `kid`: keys cannot be rotated without breaking verification.",
                      "RFC 7515 §4.1.4; RFC 7517 §4.5")  # fmt: skip


def _alg_pitfalls(alg: object, segments: list[str]) -> Iterator[Pitfall]:
    if not isinstance(alg, str) or not alg:
        yield Pitfall("no-alg", Severity.HIGH, "No `alg` in the header.", "RFC 7515 §4.1.1")
    elif alg.lower() == "none":
        yield Pitfall("alg-none", Severity.HIGH,
                      "`alg` is none: the token is unsigned and anyone can make one.",
                      "RFC 8725 §2.1, §3.1")  # fmt: skip
    elif alg in _HMAC_HASHES:
        yield Pitfall(
            "alg-hmac", Severity.MEDIUM,
            f"{alg} uses a shared secret: everyone who can verify can also forge, and one "
            "token is enough to brute-force a weak secret offline.",
            "RFC 8725 §2.2, §3.5; RFC 7518 §3.2",
        )  # fmt: skip
    elif alg.startswith("RS"):
        yield Pitfall("alg-rsa-pkcs1", Severity.LOW,
                      f"{alg} is RSASSA-PKCS1-v1_5; prefer EdDSA, ES256 or PS256.",
                      "RFC 8725 §3.2; RFC 7518 §3.3")  # fmt: skip
    if isinstance(alg, str) and alg.lower() != "none" and not segments[2]:
        yield Pitfall("no-signature", Severity.HIGH,
                      "The signature part is empty.", "RFC 7515 §7.1")  # fmt: skip


def _hmac_secret_pitfalls(alg: str, segments: list[str], secret: bytes | None) -> Iterator[Pitfall]:
    digest = _HMAC_HASHES[alg]
    signing_input = f"{segments[0]}.{segments[1]}".encode("ascii", "replace")
    for guess in _PUBLIC_SECRETS:
        mac = hmac.new(guess.encode(), signing_input, digest).digest()
        if _b64url_nopad(mac) == segments[2]:
            yield Pitfall("hmac-public-secret", Severity.HIGH,
                          f"Signed with a publicly known secret ({len(guess)} characters, "
                          "from a tutorial or template): anyone can forge tokens.",
                          "RFC 8725 §3.5; RFC 7518 §3.2")  # fmt: skip
            break
    minimum = digest().digest_size
    if secret is not None and len(secret) < minimum:
        yield Pitfall("hmac-short-secret", Severity.HIGH,
                      f"The secret has {len(secret)} bytes; {alg} needs at least {minimum} "
                      "random bytes, or it can be brute-forced.",
                      "RFC 7518 §3.2; RFC 8725 §3.5")  # fmt: skip
    if secret is not None and is_repetitive(secret):
        yield Pitfall("hmac-weak-secret", Severity.HIGH,
                      f"The secret has fewer than {MIN_DISTINCT_BYTES} distinct byte values: "
                      "it is not random bytes, and a guessable key can be brute-forced.",
                      "RFC 8725 §3.5; RFC 7518 §3.2")  # fmt: skip


def _b64url_nopad(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- claims ---------------------------------------------------------------------------

_MISSING = {
    "iss": (Severity.MEDIUM, "No `iss`: a verifier cannot tell which server issued it.",
            "RFC 7519 §4.1.1; RFC 8725 §3.8"),
    "aud": (Severity.MEDIUM, "No `aud`: a token for one app is accepted by every app "
            "sharing the auth server.", "RFC 7519 §4.1.3; RFC 8725 §3.9"),
    "jti": (Severity.MEDIUM, "No `jti`: the token cannot be revoked or traced on its own.",
            "RFC 7519 §4.1.7; RFC 9068 §2.2"),
    "iat": (Severity.LOW, "No `iat`: its age cannot be checked.", "RFC 7519 §4.1.6"),
    "nbf": (Severity.LOW, "No `nbf`.", "RFC 7519 §4.1.5"),
    "sub": (Severity.MEDIUM, "No `sub`: whom the token is about is unknown.",
            "RFC 7519 §4.1.2; RFC 9068 §2.2"),
}  # fmt: skip


def _numeric_date(payload: dict[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not -(2**53) < value < 2**53:  # RFC 7519 §2 / I-JSON: beyond this, parsers differ
        return None
    return float(value)


def _claim_pitfalls(payload: dict[str, Any], now: float) -> Iterator[Pitfall]:
    for name, (severity, message, reference) in _MISSING.items():
        if name not in payload:
            yield Pitfall(f"no-{name}", severity, message, reference)
    for name in ("exp", "nbf", "iat"):
        if name in payload and _numeric_date(payload, name) is None:
            yield Pitfall(f"bad-{name}", Severity.HIGH if name == "exp" else Severity.MEDIUM,
                          f"`{name}` is not a NumericDate (a JSON number of seconds).",
                          "RFC 7519 §2, §4.1")  # fmt: skip
    yield from _time_pitfalls(payload, now)
    sub = payload.get("sub")
    if "sub" in payload and not _is_uuid(sub):
        yield Pitfall("sub-not-uuid", Severity.MEDIUM,
                      "`sub` is not a UUID: a name, e-mail or sequential id leaks or can be "
                      "guessed; use a random UUID.", "the article; RFC 9068 §6")  # fmt: skip


def _time_pitfalls(payload: dict[str, Any], now: float) -> Iterator[Pitfall]:
    exp, nbf, iat = (_numeric_date(payload, n) for n in ("exp", "nbf", "iat"))
    if "exp" not in payload:
        yield Pitfall("no-exp", Severity.HIGH, "No `exp`: the token is valid forever.",
                      "RFC 7519 §4.1.4; the article")  # fmt: skip
    if exp is not None:
        start = iat if iat is not None else (nbf if nbf is not None else now)
        if exp - start > LONG_LIFETIME_SECONDS:
            yield Pitfall("long-lifetime", Severity.MEDIUM,
                          f"Lives {_duration(exp - start)}: a stolen token stays useful that "
                          f"long; keep access tokens under {_duration(LONG_LIFETIME_SECONDS)}.",
                          "RFC 6819 §5.1.5.3; the article")  # fmt: skip
        if exp <= now:
            yield Pitfall("expired", Severity.INFO, f"Expired {_duration(now - exp)} ago.",
                          "RFC 7519 §4.1.4")  # fmt: skip
    if nbf is not None and nbf > now:
        yield Pitfall("not-yet-valid", Severity.INFO, f"Not valid for {_duration(nbf - now)}.",
                      "RFC 7519 §4.1.5")  # fmt: skip
    if iat is not None and iat > now + 60:
        yield Pitfall("iat-in-future", Severity.LOW, "`iat` is in the future.", "RFC 7519 §4.1.6")


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.4g} {unit}"
    return f"{seconds:.0f} s"


# --- personal data --------------------------------------------------------------------


def _walk(value: object) -> Iterator[tuple[str, object]]:
    """(path, value) for every member and item, breadth first, bounded, no recursion."""
    queue: list[tuple[str, object]] = [("", value)]
    for seen, (path, current) in enumerate(queue):
        if seen >= _MAX_WALK:
            return
        yield path, current
        if isinstance(current, dict):
            queue.extend((f"{path}.{_printable(k)}" if path else _printable(k), v)
                         for k, v in current.items())  # fmt: skip
        elif isinstance(current, list):
            queue.extend((f"{path}[{i}]", v) for i, v in enumerate(current))


def _printable(name: str) -> str:
    """A member name safe to print: no control characters reach a terminal."""
    return json.dumps(name, ensure_ascii=True)[1:-1]


def _personal_data_pitfalls(payload: dict[str, Any]) -> Iterator[Pitfall]:
    for path, value in _walk(payload):
        name = path.rsplit(".", 1)[-1].split("[", 1)[0].lower()
        if path and name in PERSONAL_DATA_CLAIMS:
            secret = name in _SECRET_CLAIMS
            yield Pitfall(
                "secret-in-payload" if secret else "personal-data",
                Severity.HIGH if secret else Severity.MEDIUM,
                f"`{path}` carries {'a secret' if secret else 'personal data'}: anyone "
                "holding the token can read the payload.",
                "the article; RFC 9068 §6; RFC 7519 §12",
            )  # fmt: skip
        elif isinstance(value, str) and (kind := _looks_personal(value)):
            yield Pitfall("personal-data", Severity.MEDIUM,
                          f"`{path or 'payload'}` looks like {kind}: anyone holding the token "
                          "can read the payload.", "the article; RFC 9068 §6")  # fmt: skip


def _looks_personal(text: str) -> str | None:
    if len(text) > 1024:
        return None
    if _EMAIL.search(text):
        return "an e-mail address"
    if _PHONE.fullmatch(text.strip()):
        return "a phone number"
    return None
