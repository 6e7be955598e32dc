"""Logout that really logs out (the article), session listing, and password change;
ending one session or every session of a user, by the user (the account API) or by the
operator (`jwtkeep sessions`): one use case and one audit event per action, the
operator's only differing in `actor` and `reason`; and the operator's revoke-everything.

Ending a session removes its access-token fingerprints and its refresh family at once, so
every token of that session stops working on the next request, on every replica.
`revoke_everything` is the answer to a stolen database or an unknown breach (NIST SP
800-61r2 §3.3.4, containment): every session and access token of every user ends.
"""

from __future__ import annotations

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.passwords import check_password_acceptable
from jwtkeep.errors import Conflict, InvalidGrant, InvalidRequest, NotFound
from jwtkeep.ports import LoginSessionStore, Progress, Session
from jwtkeep.usecases.context import AuthContext, Operator, RequestInfo

__all__ = [
    "change_password",
    "end_one_session",
    "list_sessions",
    "logout",
    "logout_all",
    "revoke_everything",
]


async def logout(ctx: AuthContext, claims: AccessClaims, info: RequestInfo) -> None:
    await ctx.store.end_session(claims.sub, claims.sid)
    await ctx.record("logout", info, user_id=claims.sub, client_id=claims.client_id,
                     sid=claims.sid, jti=claims.jti)  # fmt: skip


async def logout_all(
    ctx: AuthContext, user_id: str, *, logins: LoginSessionStore,
    info: RequestInfo | None = None, jti: str | None = None, op: Operator | None = None,
) -> list[str]:  # fmt: skip
    """Every session of the user, and its sign-ins at the issuer (the browser's login
    sessions): no browser may then start a session without the password (OWASP ASVS
    V3.3.1). The user's own `POST /auth/logout-all` (`jti`: the token it came with) and
    the operator's `sessions revoke-all` (`op`) are this one action and one audit event."""
    logins_ended = await logins.end_user_logins(user_id)  # first: no new session from one
    ended = await ctx.store.end_user_sessions(user_id)
    await ctx.record("logout_all", info, user_id=user_id, jti=jti, target=f"user:{user_id}",
                     sessions=len(ended), logins_ended=logins_ended, op=op)  # fmt: skip
    return ended


async def list_sessions(ctx: AuthContext, user_id: str) -> list[Session]:
    return await ctx.store.list_sessions(user_id, ctx.clock())


async def end_one_session(
    ctx: AuthContext, sid: str, *, owner: str | None, info: RequestInfo | None = None,
    jti: str | None = None, op: Operator | None = None,
) -> Session:  # fmt: skip
    """End the live session `sid`. As the user (`owner`, `DELETE /auth/sessions/{sid}`,
    `jti` the token it came with): NotFound unless it is theirs, so no one probes other
    users' sids. As the operator (`owner` None, `op`, `sessions revoke`): any user's.
    One action, one audit event."""
    session = await ctx.store.get_session(sid, ctx.clock())
    if session is None or (owner is not None and session.user_id != owner):
        raise NotFound("no such session" if owner is not None else f"no live session {sid!r}")
    await ctx.store.end_session(session.user_id, sid)
    await ctx.record("session.ended", info, user_id=session.user_id,
                     client_id=session.client_id, sid=sid, jti=jti,
                     target=f"session:{sid}", op=op)  # fmt: skip
    return session


async def change_password(
    ctx: AuthContext, claims: AccessClaims, current: str, new: str, info: RequestInfo
) -> list[str]:
    """Check the current password, set the new one, end every *other* session.

    The new hash is a compare-and-set against the hash `current` was checked with: a
    concurrent change (or rehash) in between makes this one fail with `Conflict` (409;
    try again), so no change is lost silently. Setting the hash comes before ending the
    sessions: that order is what lets a racing login never survive the change (the
    argument is in `usecases.password_grant`)."""
    user = await ctx.users.get_user(claims.sub)
    if user is None or not await ctx.check_password(user.password_hash, current):
        await ctx.record("password.change_failed", info, user_id=claims.sub, jti=claims.jti)
        raise InvalidGrant("The current password is incorrect.")
    try:
        check_password_acceptable(new, username=user.username)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    new_hash = await ctx.hash_password(new)
    if not await ctx.users.set_password_hash(
        user.id, new_hash, ctx.clock(), expected_hash=user.password_hash
    ):
        await ctx.record("password.change_failed", info, user_id=user.id, jti=claims.jti,
                         reason="changed meanwhile")  # fmt: skip
        raise Conflict("the password was changed at the same time; try again")
    ended = await ctx.store.end_user_sessions(user.id, except_sid=claims.sid)
    await ctx.record("password.changed", info, user_id=user.id, sid=claims.sid,
                     jti=claims.jti, sessions_ended=len(ended))  # fmt: skip
    return ended


async def revoke_everything(
    ctx: AuthContext, op: Operator, progress: Progress | None = None, *,
    logins: LoginSessionStore,
) -> int:  # fmt: skip
    """Every session and access token of every user and app, and every sign-in at the
    issuer (login sessions, ended first so no browser starts a new session from one
    meanwhile); the number of sessions ended. The reason is required: this logs everyone
    out, and the trail must say why. Recorded before it starts (so an interrupted sweep
    still leaves its trace) and after."""
    if not op.reason or not op.reason.strip():
        raise InvalidRequest("say why with --reason (it goes to the audit trail)")
    now = ctx.clock()
    await ctx.record("sessions.revoke_everything_started", target="everyone", op=op)
    logins_ended = await logins.end_all_logins()
    ended = await ctx.store.end_everything(now, progress)
    await ctx.record("sessions.revoked_everything", target="everyone", sessions=ended,
                     logins_ended=logins_ended, cutoff=now, op=op)  # fmt: skip
    return ended
