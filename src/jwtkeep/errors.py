"""The one error tree of jwtkeep.

OAuth errors carry their RFC 6749 §5.2 / RFC 6750 §3.1 code, HTTP status and
`WWW-Authenticate` header, so the edges can render them without deciding anything.
Internal errors (`StoreUnavailable`, `ConfigurationError`) are kept apart from them so an
outage never turns into a 4xx (or a 200) that hides it.

The message given to a client is generic; `reason` is the detail for the audit trail and
logs. Neither ever contains a raw token, password or key.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ConfigurationError",
    "Conflict",
    "DuplicateSession",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "JwtkeepError",
    "MissingToken",
    "NoSigningKey",
    "NotFound",
    "OAuthError",
    "StoreUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
    "UnusableKey",
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
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


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
        return {"WWW-Authenticate": 'Basic realm="jwtkeep"'}


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2 `invalid_grant` (also: wrong password, unknown user, reused refresh)."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedTokenType(OAuthError):
    """RFC 7009 §2.2.1 `unsupported_token_type`."""

    error = "unsupported_token_type"


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
        return {
            "WWW-Authenticate": 'Bearer realm="jwtkeep", error="invalid_token", '
            'error_description="The access token is invalid"'
        }


class MissingToken(OAuthError):
    """No bearer credentials: 401 with a bare challenge and no error code (RFC 6750 §3.1:
    "the resource server SHOULD NOT include an error code" when none was sent)."""

    error = "unauthorized"
    status_code = 401

    def __init__(self) -> None:
        super().__init__("A bearer access token is required in the Authorization header.")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="jwtkeep"'}


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
        challenge = 'Bearer realm="jwtkeep", error="insufficient_scope"'
        if self.required is None:
            return {"WWW-Authenticate": challenge}
        return {"WWW-Authenticate": f'{challenge}, scope="{self.required}"'}


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


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
