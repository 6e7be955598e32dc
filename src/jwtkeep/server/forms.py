"""Strict `application/x-www-form-urlencoded` parsing and client authentication for the
OAuth endpoints.

Forms (RFC 6749 §3.2, Appendix B):
- the media type must be `application/x-www-form-urlencoded` (a `charset`, if given,
  must be UTF-8); the body must be UTF-8 and its percent-escapes well formed;
- a parameter sent more than once is refused ("MUST NOT be included more than once");
- a parameter sent without a value is treated as omitted (§3.1);
- known parameters must match their RFC 6749 Appendix A grammar (VSCHAR,
  UNICODECHARNOCRLF, NQCHAR ...); unknown parameters are ignored (§3.1).

Client authentication (RFC 6749 §2.3.1): HTTP Basic, with the id and secret each
form-urlencoded before the Base64 step, or `client_id`/`client_secret` in the body; never
both (§2.3: "MUST NOT use more than one authentication method"). A public client sends
only its `client_id`.

Errors name the parameter, never its value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jwtkeep.errors import InvalidClient, InvalidRequest

__all__ = [
    "FORM_MEDIA_TYPE",
    "GRAMMAR",
    "MAX_FIELDS",
    "MAX_VALUE_CHARS",
    "ClientCredentials",
    "Form",
    "check_media_type",
    "client_credentials",
    "parse_form",
]

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 32
MAX_VALUE_CHARS = 4096

# RFC 6749 Appendix A.
_VSCHAR = r"[\x20-\x7e]"
_UNICODE_NO_CRLF = r"[\t\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_NQSCHAR = r"[\x20\x21\x23-\x5b\x5d-\x7e]"
_NAME = r"[A-Za-z0-9._\-]"
GRAMMAR: Mapping[str, re.Pattern[str]] = {
    "grant_type": re.compile(rf"{_NAME}+"),  # A.10 grant-name
    "client_id": re.compile(rf"{_VSCHAR}*"),  # A.1
    "client_secret": re.compile(rf"{_VSCHAR}*"),  # A.2
    "username": re.compile(rf"{_UNICODE_NO_CRLF}*"),  # A.15
    "password": re.compile(rf"{_UNICODE_NO_CRLF}*"),  # A.16
    "scope": re.compile(rf"{_NQSCHAR}*"),  # A.4 (scope-tokens and spaces)
    "refresh_token": re.compile(rf"{_VSCHAR}+"),  # A.17
    "token": re.compile(rf"{_VSCHAR}+"),  # RFC 7009 §2.1 / RFC 7662 §2.1
    "token_type_hint": re.compile(rf"{_NAME}+"),  # RFC 7009 §2.1
    "code": re.compile(rf"{_VSCHAR}+"),  # A.11
    "redirect_uri": re.compile(rf"{_UNICODE_NO_CRLF}+"),  # A.6 URI-reference
    "code_verifier": re.compile(r"[A-Za-z0-9._~-]+"),  # RFC 7636 Appendix A.18
    "state": re.compile(rf"{_VSCHAR}+"),  # A.5
    # The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
    "response_type": re.compile(rf"{_NAME}+( {_NAME}+)*"),  # A.3
    "code_challenge": re.compile(r"[A-Za-z0-9._~-]+"),  # RFC 7636 Appendix A
    "code_challenge_method": re.compile(rf"{_NAME}+"),
    "nonce": re.compile(rf"{_VSCHAR}+"),
    "prompt": re.compile(r"[a-z_ ]+"),
    "max_age": re.compile(r"[0-9]+"),
    "request": re.compile(rf"{_VSCHAR}+"),  # OIDC request object; also the hosted forms'
    "request_uri": re.compile(rf"{_VSCHAR}+"),
    # RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2).
    "id_token_hint": re.compile(r"[A-Za-z0-9_.-]+"),
    "post_logout_redirect_uri": re.compile(rf"{_UNICODE_NO_CRLF}+"),
    # The hosted forms (jwtkeep.server.authorize).
    "csrf": re.compile(r"[0-9a-f]+"),
    "decision": re.compile(r"[a-z]+"),
}
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class Form:
    """Parsed parameters; empty values are already dropped (RFC 6749 §3.1)."""

    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def require(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            raise InvalidRequest(f"The {name} parameter is required.")
        return value


def check_media_type(content_type: str | None) -> None:
    """RFC 6749 §4.3.2 / §6: the token request body is form-urlencoded, in UTF-8."""
    if content_type is None:
        raise InvalidRequest(f"Content-Type must be {FORM_MEDIA_TYPE}.")
    media, *params = content_type.split(";")
    if media.strip().lower() != FORM_MEDIA_TYPE:
        raise InvalidRequest(f"Content-Type must be {FORM_MEDIA_TYPE}.")
    for param in params:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise InvalidRequest("The form must be encoded in UTF-8.")


def _decode_component(text: str) -> str:
    """Form-urlencoded decoding with strict UTF-8 and well-formed escapes."""
    if _BAD_ESCAPE.search(text):
        raise InvalidRequest("The form has a malformed percent-escape.")
    raw = bytearray()
    parts = text.replace("+", " ").split("%")
    raw += parts[0].encode("utf-8")
    for part in parts[1:]:
        raw.append(int(part[:2], 16))
        raw += part[2:].encode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The form is not valid UTF-8.") from None


def _pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The form is not valid UTF-8.") from None
    segments = [segment for segment in text.split("&") if segment]
    if len(segments) > MAX_FIELDS:
        raise InvalidRequest("The form has too many parameters.")
    pairs = []
    for segment in segments:
        name, _, value = segment.partition("=")
        pairs.append((_decode_component(name), _decode_component(value)))
    return pairs


def _check_value(name: str, value: str) -> None:
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidRequest(f"The {name} parameter is too long.")
    grammar = GRAMMAR.get(name)
    if grammar is not None and not grammar.fullmatch(value):
        raise InvalidRequest(f"The {name} parameter has characters it may not contain.")


def parse_form(body: bytes, content_type: str | None) -> Form:
    """Parse a token/revocation/introspection request body, or raise InvalidRequest."""
    check_media_type(content_type)
    values: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in _pairs(body):
        if name in seen:
            what = f"The {name} parameter" if name in GRAMMAR else "A parameter"
            raise InvalidRequest(f"{what} is repeated.")
        seen.add(name)
        # RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were
        # omitted from the request", so an empty value is dropped before its grammar
        # (which may demand one character or more) is checked. It still counts as sent
        # for the no-repeat rule above.
        if name in GRAMMAR and value:
            _check_value(name, value)
            values[name] = value
    return Form(values)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None
    method: str  # RFC 8414 §2 auth method names: client_secret_basic | client_secret_post | none


def _basic(value: str) -> tuple[str, str]:
    """RFC 7617 Basic credentials, each half form-urlencoded (RFC 6749 §2.3.1)."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("Client authentication failed.", reason="unsupported auth scheme")
    malformed = InvalidClient("Client authentication failed.", reason="malformed Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise malformed from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise malformed
    try:
        client_id, secret = _decode_component(client_id), _decode_component(secret)
    except InvalidRequest:
        raise malformed from None
    for name, part in (("client_id", client_id), ("client_secret", secret)):
        if len(part) > MAX_VALUE_CHARS or not GRAMMAR[name].fullmatch(part):
            raise malformed
    return client_id, secret


def client_credentials(authorization: Sequence[str], form: Form) -> ClientCredentials:
    """Who the client says it is; checking it is `authenticate_client`'s job."""
    body_id, body_secret = form.get("client_id"), form.get("client_secret")
    if len(authorization) > 1:
        raise InvalidRequest("Send exactly one Authorization header.")
    if not authorization:
        method = "client_secret_post" if body_secret is not None else "none"
        return ClientCredentials(body_id or "", body_secret, method)
    client_id, secret = _basic(authorization[0])
    if body_secret is not None or (body_id is not None and body_id != client_id):
        raise InvalidRequest("Use one client authentication method: Basic or the form, not both.")
    return ClientCredentials(client_id, secret or None, "client_secret_basic")
