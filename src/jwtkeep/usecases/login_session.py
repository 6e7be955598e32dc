"""The login session at the issuer (single sign-on), consent, and RP-initiated logout.

- Signing in on the hosted page checks the password exactly as the password grant does
  (`usecases.password_grant.check_credentials`: one generic answer, a dummy hash for
  unknown users). It starts a login session: a 256-bit random cookie value (the edge
  sets it as a `__Host-` cookie, RFC 6265bis §4.1.3.2) of which only the fingerprint is
  stored, with a bounded age. A second authorization request, for the same app or
  another, then needs no password (OIDC Core §3.1.2.3) unless `prompt=login` or
  `max_age` asks for a fresh one.
- A login session never outlives a password change or a disabled account: it is valid
  only while the user is active and `password_changed_at <= auth_time`.
- Consent (OIDC Core §3.1.2.4) is remembered per user, app and exact scope set; a
  first-party app (the operator's own) needs none.
- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-3): the `id_token_hint`
  must be an ID token this issuer signed (`core.id_token`); its session (refresh family
  and access tokens) ends, and so does the login session in the browser if it is the
  same user's, with every session started from it. `post_logout_redirect_uri` must be
  registered for the hint's client (the app's redirect URIs, matched exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

from jwtkeep.core.clock import new_id
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.id_token import read_id_token_hint
from jwtkeep.core.redirect_uri import redirect_uri_matches
from jwtkeep.errors import InvalidRequest
from jwtkeep.ports import App, LoginSession, User
from jwtkeep.usecases.context import RequestInfo, SignInContext
from jwtkeep.usecases.password_grant import check_credentials

__all__ = [
    "LOGIN_COOKIE_PREFIX",
    "LoggedOut",
    "current_login",
    "end_login_session",
    "give_consent",
    "login_still_valid",
    "needs_consent",
    "rp_initiated_logout",
    "sign_in",
]

LOGIN_COOKIE_PREFIX = "jkls_"
_MAX_COOKIE = 128


def login_still_valid(user: User | None, auth_time: float) -> bool:
    """A sign-in never outlives a password change or a disabled account."""
    return user is not None and not user.disabled and user.password_changed_at <= auth_time


async def sign_in(
    ctx: SignInContext, client_id: str, username: str, password: str, info: RequestInfo
) -> tuple[LoginSession, str]:
    """Check the password; start a login session. Returns it and the cookie value."""
    user = await check_credentials(ctx.auth, client_id, username, password, info)
    now = ctx.auth.clock()
    value = LOGIN_COOKIE_PREFIX + new_id(ctx.auth.random, 32)
    login = LoginSession(
        id=new_id(ctx.auth.random, 16),
        fingerprint=fingerprint(value),
        user_id=user.id,
        auth_time=now,
        expires_at=now + ctx.login_ttl,
    )
    await ctx.logins.add_login(login, now)
    await ctx.auth.record("login_session.started", info, user_id=user.id, client_id=client_id)
    return login, value


async def current_login(ctx: SignInContext, cookie: str | None) -> LoginSession | None:
    """The live login session named by the cookie, if its user is still signed in."""
    if not cookie or len(cookie) > _MAX_COOKIE or not cookie.isascii():
        return None
    login = await ctx.logins.login_by_fingerprint(fingerprint(cookie), ctx.auth.clock())
    if login is None:
        return None
    if not login_still_valid(await ctx.auth.users.get_user(login.user_id), login.auth_time):
        return None
    return login


async def end_login_session(ctx: SignInContext, login: LoginSession, info: RequestInfo) -> None:
    """End the login session and every session started from it."""
    for user_id, sid in await ctx.logins.end_login(login.id):
        await ctx.auth.store.end_session(user_id, sid)
    await ctx.auth.record("login_session.ended", info, user_id=login.user_id)


def _scope_key(scope: str) -> str:
    return " ".join(sorted(set(scope.split())))


async def needs_consent(ctx: SignInContext, client: App, user_id: str, scope: str) -> bool:
    if client.first_party:
        return False
    return not await ctx.consents.has_consent(user_id, client.client_id, _scope_key(scope))


async def give_consent(
    ctx: SignInContext, client: App, user_id: str, scope: str, info: RequestInfo
) -> None:
    await ctx.consents.add_consent(user_id, client.client_id, _scope_key(scope), ctx.auth.clock())
    await ctx.auth.record(
        "consent.given", info, user_id=user_id, client_id=client.client_id, scope=_scope_key(scope)
    )


@dataclass(frozen=True)
class LoggedOut:
    redirect_uri: str | None  # the validated post_logout_redirect_uri, if any


async def rp_initiated_logout(
    ctx: SignInContext,
    id_token_hint: str | None,
    post_logout_redirect_uri: str | None,
    login: LoginSession | None,
    info: RequestInfo,
) -> LoggedOut:
    """End the hint's session and the browser's login session (if the same user's)."""
    if not id_token_hint:
        raise InvalidRequest("id_token_hint is required.")
    try:
        hint = read_id_token_hint(id_token_hint, await ctx.auth.keys.ring(), ctx.auth.issuer.issuer)
    except ValueError as exc:
        raise InvalidRequest("The id_token_hint is not valid.", reason=str(exc)) from None
    client = await ctx.auth.apps.app_by_client_id(hint.aud)
    if client is None:
        raise InvalidRequest("The id_token_hint is not valid.", reason="unknown client")
    target = None
    if post_logout_redirect_uri is not None:
        target = redirect_uri_matches(post_logout_redirect_uri, client.redirect_uris)
        if target is None:
            raise InvalidRequest("post_logout_redirect_uri is not registered for this client.")
    await ctx.auth.store.end_session(hint.sub, hint.sid)
    await ctx.auth.record(
        "logout.rp_initiated", info, user_id=hint.sub, client_id=client.client_id, sid=hint.sid
    )
    if login is not None and login.user_id == hint.sub:
        await end_login_session(ctx, login, info)
    return LoggedOut(redirect_uri=target)
