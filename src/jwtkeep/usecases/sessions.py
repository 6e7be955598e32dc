"""Logout that really logs out (the article), session listing, and password change.

Ending a session removes its access-token fingerprints and its refresh family at once, so
every token of that session stops working on the next request, on every replica.
"""

from __future__ import annotations

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.passwords import check_password_acceptable
from jwtkeep.errors import Conflict, InvalidGrant, InvalidRequest, NotFound
from jwtkeep.ports import Session
from jwtkeep.usecases.context import AuthContext, RequestInfo

__all__ = [
    "change_password",
    "end_one_session",
    "list_sessions",
    "logout",
    "logout_all",
]


async def logout(ctx: AuthContext, claims: AccessClaims, info: RequestInfo) -> None:
    await ctx.store.end_session(claims.sub, claims.sid)
    await ctx.record("logout", info, user_id=claims.sub, client_id=claims.client_id,
                     sid=claims.sid, jti=claims.jti)  # fmt: skip


async def logout_all(ctx: AuthContext, claims: AccessClaims, info: RequestInfo) -> list[str]:
    ended = await ctx.store.end_user_sessions(claims.sub)
    await ctx.record("logout_all", info, user_id=claims.sub, jti=claims.jti, sessions=len(ended))
    return ended


async def list_sessions(ctx: AuthContext, user_id: str) -> list[Session]:
    return await ctx.store.list_sessions(user_id, ctx.clock())


async def end_one_session(
    ctx: AuthContext, user_id: str, sid: str, info: RequestInfo, actor_jti: str | None = None
) -> None:
    """End `sid` if it is the user's; NotFound otherwise (no probing other users' sids)."""
    session = await ctx.store.get_session(sid, ctx.clock())
    if session is None or session.user_id != user_id:
        raise NotFound("no such session")
    await ctx.store.end_session(user_id, sid)
    await ctx.record("session.ended", info, user_id=user_id, sid=sid, jti=actor_jti)


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
