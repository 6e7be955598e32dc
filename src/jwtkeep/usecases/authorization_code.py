"""The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700 §2.1.1) and
the OpenID Connect Core 1.0 authorization request (§3.1.2).

The authorization request is checked in two stages (RFC 6749 §4.1.2.1):
1. the client and its redirect URI (`UnsafeRedirect`): until both are known good, an
   error is shown to the user and never sent to the redirect URI, or jwtkeep would be an
   open redirector (RFC 9700 §4.11). The URI is matched exactly (`core.redirect_uri`).
2. everything else (`AuthorizationRefused`): sent back to the validated redirect URI
   with `state` and `iss` (RFC 9207).
`response_type=code` only; PKCE `S256` for every client (RFC 9700 §2.1.1, §4.8.2: a
request without a challenge, or with `plain`, is refused, so no code exists without one
and a `code_verifier` can never meet a code issued without a challenge).

Codes are 256 random bits, stored only as fingerprints, single use, live 60 s at most
(RFC 6749 §4.1.2 recommends 10 min at most; a browser redirect takes a second), bound to
the client, redirect URI, challenge, nonce and login session. A code presented twice is
refused and the session it gave (every access and refresh token from it) is ended
(RFC 6749 §4.1.2, §10.5).

A replay racing the first redemption: the replay marks the code replayed, then ends the
session the code was redeemed for (R1, R2); the redemption starts that session (E1),
then reads the mark (E2) and ends its own session if set. If R1 comes before E2, E2 ends
the session; otherwise E1 < E2 < R1 < R2 and R2 ends it. The same ordering keeps a code
from outliving a password change or a disabled account (`usecases.password_grant`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jwtkeep.core.clock import new_id
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.pkce import check_challenge, verifier_matches
from jwtkeep.core.redirect_uri import redirect_uri_matches
from jwtkeep.core.scopes import OPENID_SCOPE
from jwtkeep.errors import InvalidGrant, InvalidRequest, InvalidScope, OAuthError
from jwtkeep.ports import App, AuthorizationCode, LoginSession
from jwtkeep.usecases.context import RequestInfo, SignInContext
from jwtkeep.usecases.login_session import login_still_valid
from jwtkeep.usecases.scope_grants import grant_scope
from jwtkeep.usecases.session_start import new_sid, start_session
from jwtkeep.usecases.token_response import TokenResponse

__all__ = [
    "CODE_PREFIX",
    "CODE_TTL",
    "MAX_PARAMETER",
    "PROMPTS",
    "AuthorizationRefused",
    "AuthorizationRequest",
    "UnsafeRedirect",
    "authorization_code_grant",
    "issue_code",
    "parse_authorization_request",
    "validate_client",
]

CODE_TTL = 60
CODE_PREFIX = "jkac_"
MAX_PARAMETER = 2048
PROMPTS = frozenset({"none", "login", "consent"})


class UnsafeRedirect(InvalidRequest):
    """The client or redirect URI is not valid: show a page, never redirect."""


class AuthorizationRefused(OAuthError):
    """An RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error for the validated redirect URI."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None):
        super().__init__(description)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthorizationRequest:
    client: App
    redirect_uri: str
    state: str | None
    scope: str
    code_challenge: str
    nonce: str | None
    prompt: frozenset[str]
    max_age: int | None

    def refuse(self, error: str, description: str) -> AuthorizationRefused:
        return AuthorizationRefused(
            error, description, redirect_uri=self.redirect_uri, state=self.state
        )

    @property
    def openid(self) -> bool:
        return OPENID_SCOPE in self.scope.split()


def _bounded(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > MAX_PARAMETER:
        raise UnsafeRedirect(f"The {name} parameter is too long.")
    return value or None


async def validate_client(ctx: SignInContext, params: Mapping[str, str]) -> tuple[App, str]:
    """Stage 1: the client and the exact redirect URI, or `UnsafeRedirect`."""
    client_id, uri = _bounded(params, "client_id"), _bounded(params, "redirect_uri")
    if client_id is None:
        raise UnsafeRedirect("The request names no client (client_id).")
    client = await ctx.auth.apps.app_by_client_id(client_id)
    if client is None:
        raise UnsafeRedirect("The client is unknown.", reason="unknown client")
    if client.disabled:
        # `app disable` refuses the app everything (RFC 6749 §5.2 `invalid_client` at the
        # token endpoint); here it is an error page, never a redirect to its (possibly
        # compromised) redirect URI (RFC 6749 §4.1.2.1).
        raise UnsafeRedirect("The client is unknown.", reason="disabled app")
    if uri is None:
        raise UnsafeRedirect("The request has no redirect_uri.")
    matched = redirect_uri_matches(uri, client.redirect_uris)
    if matched is None:
        raise UnsafeRedirect(
            "The redirect_uri is not registered for this client.", reason="redirect_uri mismatch"
        )
    return client, matched


def _prompt_and_max_age(
    params: Mapping[str, str], refuse: AuthorizationRequest
) -> tuple[frozenset[str], int | None]:
    prompt = frozenset((params.get("prompt") or "").split())
    if not prompt <= PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise refuse.refuse("invalid_request", "prompt must be none, login or consent.")
    max_age_text = params.get("max_age")
    if max_age_text is None:
        return prompt, None
    if not max_age_text.isdigit() or len(max_age_text) > 9:
        raise refuse.refuse("invalid_request", "max_age must be a non-negative integer.")
    return prompt, int(max_age_text)


async def parse_authorization_request(
    ctx: SignInContext, params: Mapping[str, str]
) -> AuthorizationRequest:
    """Both stages; `UnsafeRedirect` or `AuthorizationRefused` on the first problem."""
    client, uri = await validate_client(ctx, params)
    state, nonce = _bounded(params, "state"), _bounded(params, "nonce")
    draft = AuthorizationRequest(client, uri, state, "", "", nonce, frozenset(), None)
    if params.get("response_type") != "code":
        raise draft.refuse("unsupported_response_type", "response_type must be code.")
    if not client.allows_grant("authorization_code"):
        raise draft.refuse("unauthorized_client", "This client may not use the code flow.")
    if "request" in params:
        raise draft.refuse("request_not_supported", "Request objects are not supported.")
    if "request_uri" in params:
        raise draft.refuse("request_uri_not_supported", "request_uri is not supported.")
    try:
        challenge = check_challenge(
            params.get("code_challenge"), params.get("code_challenge_method")
        )
    except ValueError as exc:
        raise draft.refuse("invalid_request", str(exc)) from None
    try:
        scope = grant_scope(
            params.get("scope"), client.scopes, account_access=client.account_access
        )
    except InvalidScope as exc:
        raise draft.refuse("invalid_scope", exc.description) from None
    prompt, max_age = _prompt_and_max_age(params, draft)
    return AuthorizationRequest(client, uri, state, scope, challenge, nonce, prompt, max_age)


async def issue_code(
    ctx: SignInContext, request: AuthorizationRequest, login: LoginSession, info: RequestInfo
) -> str:
    """A new code for the signed-in user; only its fingerprint is stored."""
    now = ctx.auth.clock()
    code = CODE_PREFIX + new_id(ctx.auth.random, 32)
    await ctx.codes.add_code(
        AuthorizationCode(
            fingerprint=fingerprint(code),
            client_id=request.client.client_id,
            user_id=login.user_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            login_id=login.id,
            auth_time=login.auth_time,
            expires_at=now + CODE_TTL,
        ),
        now,
    )
    await ctx.auth.record(
        "code.issued", info, user_id=login.user_id, client_id=request.client.client_id
    )
    return code


async def _redeem(
    ctx: SignInContext, client: App, code_text: str, sid: str, info: RequestInfo
) -> AuthorizationCode:
    if not code_text.startswith(CODE_PREFIX) or len(code_text) > 128 or not code_text.isascii():
        raise InvalidGrant("The authorization code is invalid.", reason="malformed code")
    redemption = await ctx.codes.redeem_code(fingerprint(code_text), sid, ctx.auth.clock())
    code = redemption.code
    if redemption.replayed and code is not None and redemption.sid is not None:
        await ctx.auth.store.end_session(code.user_id, redemption.sid)
        await ctx.auth.record(
            "code.replayed",
            info,
            user_id=code.user_id,
            client_id=client.client_id,
            sid=redemption.sid,
        )
        raise InvalidGrant("The authorization code is invalid.", reason="code replayed")
    if code is None:
        raise InvalidGrant("The authorization code is invalid.", reason="unknown or expired")
    if code.client_id != client.client_id:
        raise InvalidGrant("The authorization code is invalid.", reason="other client's code")
    return code


def _check_binding(code: AuthorizationCode, redirect_uri: str | None, verifier: str | None) -> None:
    if redirect_uri != code.redirect_uri:  # RFC 6749 §4.1.3: identical to the request's
        raise InvalidGrant("The redirect_uri does not match.", reason="redirect_uri mismatch")
    if not code.code_challenge:  # never stored (RFC 9700 §4.8.2: no PKCE downgrade)
        raise InvalidGrant("The authorization code is invalid.", reason="no challenge")
    if not verifier_matches(verifier, code.code_challenge):  # RFC 7636 §4.6
        raise InvalidGrant("The code_verifier is wrong.", reason="PKCE verifier mismatch")


async def authorization_code_grant(
    ctx: SignInContext,
    client: App,
    code_text: str,
    redirect_uri: str | None,
    verifier: str | None,
    info: RequestInfo,
) -> TokenResponse:
    """RFC 6749 §4.1.3-4.1.4 with RFC 7636 §4.5-4.6; OIDC Core §3.1.3.3 ID token."""
    auth = ctx.auth
    sid = new_sid(auth)
    code = await _redeem(ctx, client, code_text, sid, info)
    _check_binding(code, redirect_uri, verifier)
    if not login_still_valid(await auth.users.get_user(code.user_id), code.auth_time):
        raise InvalidGrant("The authorization code is invalid.", reason="login ended")
    started = await start_session(auth, client, code.user_id, code.scope, info, sid=sid)
    # The code is only as good as the sign-in it came from: a logout, logout-all or
    # revoke-everything that ended the login session after the code was issued (within
    # its 60 s, RFC 6749 §10.5) ends the session the code would start too: logout-all
    # means every session, including one not yet started. Those paths end the login
    # sessions first and the token sessions second, so either the link fails here or
    # the session just linked is among those they end.
    linked = await ctx.logins.link_session(code.login_id, code.user_id, sid)
    user = await auth.users.get_user(code.user_id)
    if (
        not linked
        or await ctx.codes.was_replayed(code.fingerprint)
        or not login_still_valid(user, code.auth_time)
    ):
        await auth.store.end_session(code.user_id, sid)
        raise InvalidGrant("The authorization code is invalid.", reason="ended during exchange")
    id_token = None
    if OPENID_SCOPE in code.scope.split():
        id_token = auth.issuer.id_token(
            await auth.keys.ring(), started.access, auth_time=code.auth_time, nonce=code.nonce
        )
    await auth.record(
        "login.succeeded",
        info,
        user_id=code.user_id,
        client_id=client.client_id,
        sid=sid,
        jti=started.access.claims.jti,
        grant="authorization_code",
    )
    access = started.access
    return TokenResponse(
        access.token, access.expires_in, code.scope, started.refresh_token, id_token=id_token
    )
