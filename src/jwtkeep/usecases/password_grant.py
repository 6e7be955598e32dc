"""The resource owner password credentials grant (RFC 6749 §4.3) — login.

A wrong password and an unknown user get the same answer and take the same time (the
hasher checks a dummy hash for unknown users): no user enumeration (OWASP ASVS V2.2).
Login starts a session (a refresh family, RFC 9700 §4.14.2) and stores the access
token's fingerprint and the refresh token's fingerprint in one atomic step before
anything is returned (DESIGN.md token store contract).
"""

from __future__ import annotations

from jwtkeep.core.clock import new_id
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import new_refresh_token
from jwtkeep.errors import InvalidGrant
from jwtkeep.ports import App, Session, User
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.scopes import grant_scope
from jwtkeep.usecases.token_response import TokenResponse

__all__ = ["BAD_CREDENTIALS", "MAX_USERNAME", "password_grant"]

BAD_CREDENTIALS = "The username or password is incorrect."
MAX_USERNAME = 256


async def password_grant(
    ctx: AuthContext, client: App, username: str, password: str, scope: str | None,
    info: RequestInfo,
) -> TokenResponse:  # fmt: skip
    granted = grant_scope(scope, client.scopes, account_access=client.account_access)
    user = await _check_credentials(ctx, client, username, password, info)
    now = ctx.clock()
    sid = new_id(ctx.random, 16)
    issued = ctx.issuer.issue(
        await ctx.keys.ring(), sub=user.id, app=client, scope=granted, sid=sid, now=now,
        random=ctx.random,
    )  # fmt: skip
    refresh = new_refresh_token(sid, ctx.random) if client.refresh_enabled else None
    session = Session(
        sid=sid, user_id=user.id, client_id=client.client_id, scope=granted, created_at=now,
        last_used_at=now, idle_expires_at=now + ctx.sessions.idle_timeout,
        absolute_expires_at=now + ctx.sessions.absolute_lifetime,
        user_agent=info.user_agent[:256], ip=info.ip,
    )  # fmt: skip
    await ctx.store.start_session(
        session, fingerprint(refresh) if refresh else None, issued.record, now
    )
    await ctx.record(
        "login.succeeded", info, user_id=user.id, client_id=client.client_id, sid=sid,
        jti=issued.claims.jti,
    )  # fmt: skip
    return TokenResponse(issued.token, issued.expires_in, granted, refresh)


async def _check_credentials(
    ctx: AuthContext, client: App, username: str, password: str, info: RequestInfo
) -> User:
    user = await ctx.users.user_by_username(username) if len(username) <= MAX_USERNAME else None
    ok = await ctx.check_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        reason = "unknown user" if user is None else "disabled" if ok else "wrong password"
        await ctx.record(
            "login.failed", info, user_id=user.id if user else None,
            client_id=client.client_id, reason=reason,
        )  # fmt: skip
        raise InvalidGrant(BAD_CREDENTIALS, reason=reason)
    if ctx.hasher.needs_rehash(user.password_hash):
        await ctx.users.set_password_hash(user.id, await ctx.hash_password(password), ctx.clock())
    return user
