"""Request and response bodies, and the OpenAPI description of every error a route can give.

The models document the wire format (docs/http-api.md, `/openapi.json`) and validate the
JSON request bodies strictly: unknown fields are refused, strings stay strings, lengths
are bounded before anything reaches a use case.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MEDIA_PROBLEM",
    "USERNAME_PATTERN",
    "IntrospectionBody",
    "JwksBody",
    "OAuthErrorBody",
    "PasswordChangeRequest",
    "ProblemBody",
    "RegistrationRequest",
    "RegistrationResponse",
    "SessionBody",
    "StatusBody",
    "TokenResponseBody",
    "UserInfoBody",
    "oauth_errors",
    "problems",
]

MEDIA_PROBLEM = "application/problem+json"  # RFC 9457 §3
USERNAME_PATTERN = r"^[A-Za-z0-9._@+\-]{1,128}$"  # jwtkeep.usecases.registration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RegistrationRequest(_Strict):
    username: str = Field(min_length=1, max_length=128, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)


class RegistrationResponse(BaseModel):
    id: str = Field(description="the new user's UUID (the `sub` of their tokens)")


class PasswordChangeRequest(_Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class TokenResponseBody(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str = Field(description='always "Bearer"')
    expires_in: int
    scope: str
    refresh_token: str | None = Field(None, description="password and refresh grants only")


class IntrospectionBody(BaseModel):
    """RFC 7662 §2.2: `{"active": false}` for anything inactive or not the caller's."""

    model_config = ConfigDict(extra="allow")
    active: bool


class UserInfoBody(BaseModel):
    """OIDC Core §5.3.2: the user's own minimal profile."""

    sub: str
    preferred_username: str


class SessionBody(BaseModel):
    sid: str
    client_id: str
    created_at: int = Field(description="Unix seconds")
    last_used_at: int = Field(description="Unix seconds")
    expires_at: int = Field(description="Unix seconds: the earlier of idle and absolute expiry")
    user_agent: str
    current: bool = Field(description="true for the session of the token making the request")


class StatusBody(BaseModel):
    status: str


class JwksBody(BaseModel):
    """RFC 7517 §5: public keys only."""

    keys: list[dict[str, Any]]


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2."""

    error: str
    error_description: str | None = None


class ProblemBody(BaseModel):
    """RFC 9457 §3.1, with the RFC 6749/6750 error code as the `error` extension member."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    error: str | None = None


_DESCRIPTIONS = {
    400: "invalid request (malformed input, credentials in the URL, ...)",
    401: "missing or refused credentials (see WWW-Authenticate)",
    403: "the token lacks the scope this route needs (see WWW-Authenticate)",
    404: "not found",
    409: "conflict",
    413: "request body over the size limit",
    429: "too many attempts (see Retry-After)",
    503: "the token store or database is unreachable (see Retry-After)",
}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def oauth_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for an OAuth route: RFC 6749 §5.2 JSON errors."""
    content = {"application/json": {"schema": _schema(OAuthErrorBody)}}
    return {code: {"description": _DESCRIPTIONS[code], "content": content} for code in codes}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for any other route: RFC 9457 problem details."""
    content = {MEDIA_PROBLEM: {"schema": _schema(ProblemBody)}}
    return {code: {"description": _DESCRIPTIONS[code], "content": content} for code in codes}
