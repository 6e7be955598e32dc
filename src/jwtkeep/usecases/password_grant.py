"""The resource owner password credentials grant (RFC 6749 §4.3) — login.

A wrong password and an unknown user get the same answer and take the same time (the
hasher checks a dummy hash for unknown users): no user enumeration (OWASP ASVS V2.2).
Login starts a session (a refresh family, RFC 9700 §4.14.2) and stores the access
token's fingerprint and the refresh token's fingerprint in one atomic step before
anything is returned (DESIGN.md token store contract).

A login racing a password change never outlives it (OWASP ASVS V3.3.3: a password change
ends the other sessions). There is no transaction across the user store (SQL) and the
token store (SQL or Redis), so the two steps are ordered instead:
- the change (`usecases.sessions.change_password`) first compare-and-sets the hash (C1),
  then ends the user's other sessions (C2);
- the login verifies the password against hash H, starts its session S (L1), then
  re-reads the user (L2) and, if the hash is no longer H (nor a rehash of the same
  password), ends S itself and answers invalid_grant.
Each store applies each step atomically and both sides await their steps in order. If
C1 comes before L2, L2 sees the new hash and the login ends S. If C1 comes after L2, then
L1 < L2 < C1 < C2: S exists when C2 ends every session of the user, S included. Either
way S is gone; the tokens the login may have handed out went with it. The rehash on
login is the same compare-and-set with H, so it can never write the old password's hash
over a newer one.
"""

from __future__ import annotations

from jwtkeep.errors import InvalidGrant
from jwtkeep.ports import App, User
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.scope_grants import grant_scope
from jwtkeep.usecases.session_start import start_session
from jwtkeep.usecases.token_response import TokenResponse

__all__ = ["BAD_CREDENTIALS", "MAX_USERNAME", "check_credentials", "password_grant"]

BAD_CREDENTIALS = "The username or password is incorrect."
MAX_USERNAME = 256


async def password_grant(
    ctx: AuthContext, client: App, username: str, password: str, scope: str | None,
    info: RequestInfo,
) -> TokenResponse:  # fmt: skip
    granted = grant_scope(scope, client.scopes, account_access=client.account_access)
    user = await check_credentials(ctx, client.client_id, username, password, info)
    started = await start_session(ctx, client, user.id, granted, info)
    sid, issued = started.sid, started.access
    await _outlive_no_password_change(ctx, client, user, password, sid, info)
    await ctx.record(
        "login.succeeded", info, user_id=user.id, client_id=client.client_id, sid=sid,
        jti=issued.claims.jti,
    )  # fmt: skip
    return TokenResponse(issued.token, issued.expires_in, granted, started.refresh_token)


async def check_credentials(
    ctx: AuthContext, client_id: str, username: str, password: str, info: RequestInfo
) -> User:
    """The user if the password is right and the account enabled; else `InvalidGrant` with
    the one generic message (also the hosted login page's check)."""
    user = await ctx.users.user_by_username(username) if len(username) <= MAX_USERNAME else None
    ok = await ctx.check_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        reason = "unknown user" if user is None else "disabled" if ok else "wrong password"
        await ctx.record(
            "login.failed", info, user_id=user.id if user else None,
            client_id=client_id, reason=reason,
        )  # fmt: skip
        raise InvalidGrant(BAD_CREDENTIALS, reason=reason)
    if ctx.hasher.needs_rehash(user.password_hash):
        # Compare-and-set with the hash just verified: if the password changed meanwhile,
        # this writes nothing (and `_outlive_no_password_change` refuses the login). The
        # password did not change, so neither does `password_changed_at`.
        await ctx.users.set_password_hash(
            user.id, await ctx.hash_password(password), user.password_changed_at,
            expected_hash=user.password_hash,
        )  # fmt: skip
    return user


async def _outlive_no_password_change(
    ctx: AuthContext, client: App, verified: User, password: str, sid: str, info: RequestInfo
) -> None:
    """After the session started (L1): re-read the user (L2); if the password (or the
    account) changed since it was verified, end the session and refuse the login. A new
    hash that still accepts this password is a rehash (another login's), not a change."""
    user = await ctx.users.get_user(verified.id)
    if user is not None and not user.disabled:
        if user.password_hash == verified.password_hash:
            return
        if await ctx.check_password(user.password_hash, password):
            return
    await ctx.store.end_session(verified.id, sid)
    reason = "password changed during login"
    await ctx.record("login.failed", info, user_id=verified.id, client_id=client.client_id,
                     sid=sid, reason=reason)  # fmt: skip
    raise InvalidGrant(BAD_CREDENTIALS, reason=reason)
