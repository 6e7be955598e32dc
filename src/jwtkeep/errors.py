"""The one error tree of jwtkeep.

OAuth errors carry their RFC 6749 §5.2 / RFC 6750 §3.1 code, HTTP status and
`WWW-Authenticate` header, so the edges can render them without deciding anything.
Internal errors (`StoreUnavailable`, `ConfigurationError`) are kept apart from them so an
outage never turns into a 4xx (or a 200) that hides it.

The message given to a client is generic; `reason` is the detail for the audit trail and
logs. Neither ever contains a raw token, password or key.

The tree (CONVENTIONS "Errors": every exception jwtkeep raises on purpose, the core's
included, is a `JwtkeepError`):

- `OAuthError` and its codes: what a client is told (RFC 6749 §5.2, RFC 6750 §3.1).
- `TokenError`: why the core refused a token (`core.compact.MalformedToken`,
  `core.jose.SignatureInvalid`, `core.claims.ClaimError`, `core.access_token.TokenRejected`
  and `UnknownKeyId`); for the audit log, turned into `InvalidToken` at the edge.
- `InvalidValue`: a value given to jwtkeep breaks a rule (a password, redirect URI, scope,
  route rule, key, secret); also a `ValueError`, so settings validators and callers that
  check input keep working. `UnusableKey`: a key brought from outside.
- `core.sealing.SealError`: a sealed private key does not open (wrong master key).
- `NotFound`, `Conflict` (`DuplicateSession`).
- `StoreUnavailable` (`NoSigningKey`), `ConfigurationError`: internal; never a 4xx or 200.

The one renderer of each wire format lives here too, framework-free, so the server and
the SDK (which adapt them to their frameworks) cannot drift apart: `oauth_error_body`
(RFC 6749 §5.2), `bearer_challenge` (RFC 6750 §3), `problem_body` (RFC 9457 §3).
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from typing import Any

__all__ = [
    "REALM",
    "ConfigurationError",
    "Conflict",
    "DuplicateSession",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "InvalidValue",
    "JwtkeepError",
    "MissingToken",
    "NoSigningKey",
    "NotFound",
    "OAuthError",
    "StoreUnavailable",
    "TokenError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnusableKey",
    "bearer_challenge",
    "oauth_error_body",
    "problem_body",
    "status_phrase",
]


class JwtkeepError(Exception):
    """Root of every error jwtkeep raises on purpose."""


class OAuthError(JwtkeepError):
    """An error a client is told about, in the RFC 6749 §5.2 shape."""

    error: str = "invalid_request"
    status_code: int = 400

    def __init__(self, description: str = "", *, reason: str | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        # `reason` is for the audit log only; never shown to the client.
        self.reason = reason or description

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, str]:
        return oauth_error_body(self.error, self.description)


class InvalidRequest(OAuthError):
    """RFC 6749 §5.2 / RFC 6750 §3.1 `invalid_request`."""

    error = "invalid_request"
    status_code = 400

    def headers(self) -> dict[str, str]:
        return {}


class InvalidClient(OAuthError):
    """RFC 6749 §5.2 `invalid_client`: 401 with a `WWW-Authenticate` challenge."""

    error = "invalid_client"
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{REALM}"'}  # RFC 7617 §2


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2 `invalid_grant` (also: wrong password, unknown user, reused refresh)."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1 `invalid_token`: 401 and a Bearer challenge naming the error.

    The client only ever learns "invalid_token"; why is in `reason` (RFC 8725 §3.?:
    do not hand an attacker an oracle).
    """

    error = "invalid_token"
    status_code = 401

    def __init__(self, reason: str = "token rejected") -> None:
        super().__init__("The access token is invalid.", reason=reason)

    def headers(self) -> dict[str, str]:
        challenge = bearer_challenge(self.error, description="The access token is invalid")
        return {"WWW-Authenticate": challenge}


class MissingToken(OAuthError):
    """No bearer credentials: 401 with a bare challenge and no error code (RFC 6750 §3.1:
    "the resource server SHOULD NOT include an error code" when none was sent)."""

    error = "unauthorized"
    status_code = 401

    def __init__(self) -> None:
        super().__init__("A bearer access token is required in the Authorization header.")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge()}


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1 `insufficient_scope`: 403 naming the scope needed.

    `required=None` is a request that no scope can open (the SDK's `deny_unmatched`: no
    route rule matched); the challenge then has no `scope` attribute (it is optional,
    RFC 6750 §3)."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, required: str | None) -> None:
        if required is None:
            super().__init__("No route rule allows this request.", reason="no route rule")
        else:
            super().__init__("The access token lacks the required scope.", reason=required)
        self.required = required

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(self.error, scope=self.required)}


class TokenError(JwtkeepError):
    """The core refused a token (malformed, bad signature, unknown key, wrong claims).

    The message is the reason, for the audit log only: a client is told `invalid_token`
    and nothing more (RFC 6750 §3.1; no oracle). Never holds the token itself."""


class InvalidValue(JwtkeepError, ValueError):
    """A value given to jwtkeep breaks a rule: a password, a redirect URI, a scope, a
    route rule, a key or a secret. The message says which rule and never quotes a secret.

    Also a `ValueError`, so a settings validator (pydantic) and a caller that checks input
    both handle it as they handle any bad value."""


class NotFound(JwtkeepError):
    """A named thing (app, user, session, key) does not exist."""


class Conflict(JwtkeepError):
    """A thing with that name already exists."""


class DuplicateSession(Conflict):
    """`start_session` with a sid that exists: refused, and nothing changed (neither the
    session nor its tokens). The token store port's rule, on every backend."""

    def __init__(self) -> None:
        super().__init__("a session with that sid exists")


class UnusableKey(JwtkeepError):
    """A key brought from outside (`jwtkeep keys import`) that jwtkeep will not sign with:
    not a private key, the wrong type for the signing algorithm, or too weak."""


class StoreUnavailable(JwtkeepError):
    """The token store (or database) cannot be reached: fail closed with 503."""

    retry_after_seconds = 2


class NoSigningKey(StoreUnavailable):
    """No active signing key (e.g. every key was retired or withdrawn): an outage of the
    issuer, so a 503 with `Retry-After` like a store outage, never a 500 and never a 4xx
    that blames the client. The operator's fix is in the message."""

    def __init__(self) -> None:
        super().__init__("no active signing key: run `jwtkeep keys rotate`")

    # Servers see a new key when they next reload the ring (JWTKEEP_KEY_REFRESH_SECONDS).
    retry_after_seconds = 30


class ConfigurationError(JwtkeepError):
    """Settings are wrong or incomplete; raised at start-up, never per request."""


# --- the wire formats (one renderer each) ----------------------------------------------

REALM = "jwtkeep"  # the realm of every challenge (RFC 6750 §3, RFC 7617 §2)


def oauth_error_body(error: str, description: str = "") -> dict[str, str]:
    """The RFC 6749 §5.2 error body: `error`, and `error_description` when there is one."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    return body


def bearer_challenge(
    error: str | None = None,
    *,
    description: str | None = None,
    scope: str | None = None,
    realm: str = REALM,
) -> str:
    """An RFC 6750 §3 `WWW-Authenticate: Bearer` challenge. No `error` when the request
    had no credentials (§3.1: the resource server SHOULD NOT include an error code).

    The values are jwtkeep's own fixed texts and scope tokens (RFC 6749 §3.3, checked
    where rules are read), which hold no `"` or `\\` (RFC 6750 §3), so none is escaped."""
    challenge = f'Bearer realm="{realm}"'
    if error is not None:
        challenge += f', error="{error}"'
    if description is not None:
        challenge += f', error_description="{description}"'
    if scope is not None:
        challenge += f', scope="{scope}"'
    return challenge


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem details body. `type` is `about:blank`, so `title` is the HTTP
    status phrase (§4.2.1); the OAuth error code, if any, is the `error` extension member
    (§3.2)."""
    body: dict[str, Any] = {"type": "about:blank", "title": status_phrase(status), "status": status}
    if detail:
        body["detail"] = detail
    if error:
        body["error"] = error
    body.update(extra or {})
    return body


def status_phrase(status: int) -> str:
    """The HTTP status phrase (RFC 9110 §15), the `title` of an `about:blank` problem."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"
