"""The operator's user tasks: list, find, disable, enable, delete, reset a password.

Disabling, deleting and resetting a password end every session and access token of the
user at once (OWASP ASVS V3.3.1/V3.3.3: sessions end when the account is blocked or its
credentials change). The account is changed FIRST, its sessions ended SECOND, as for a
password change (the argument is in `usecases.password_grant`): a login or a refresh in
flight re-reads the user after its session starts, so it either sees the change and ends
its own session, or its session exists when every session of the user is ended. A
disabled user gets the same answer as a wrong password from every grant (no account
enumeration, OWASP ASVS V2.2). Every change is audited with the operator and reason.
"""

from __future__ import annotations

import uuid

from jwtkeep.core.passwords import check_password_acceptable
from jwtkeep.errors import Conflict, InvalidRequest, NotFound
from jwtkeep.ports import LoginSessionStore, User
from jwtkeep.usecases.context import AuthContext, Operator

__all__ = [
    "MAX_PAGE",
    "delete_user",
    "disable_user",
    "enable_user",
    "find_user",
    "list_users",
    "reset_password",
]

MAX_PAGE = 1000


async def find_user(ctx: AuthContext, who: str) -> User:
    """A user by id (UUID) or by username (a UUID-shaped username is tried second)."""
    user: User | None = None
    if _is_uuid(who):
        user = await ctx.users.get_user(str(uuid.UUID(who)))
    if user is None:
        user = await ctx.users.user_by_username(who)
    if user is None:
        raise NotFound(f"no user {who!r}")
    return user


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def list_users(ctx: AuthContext, *, after: str = "", limit: int = 100) -> list[User]:
    """One page of users by username (keyset paging: pass the last username as `after`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"a page holds 1 to {MAX_PAGE} users")
    return await ctx.users.list_users(after=after, limit=limit)


async def disable_user(
    ctx: AuthContext, user: User, op: Operator, *, logins: LoginSessionStore
) -> list[str]:
    """Block the account and end its sessions and sign-ins at the issuer (the login
    sessions of the browser sign-in); Conflict if it is already disabled."""
    if not await ctx.users.set_disabled(user.id, True):
        raise Conflict(f"user {user.username!r} is already disabled")
    logins_ended = await logins.end_user_logins(user.id)  # first: no new session from one
    ended = await ctx.store.end_user_sessions(user.id)
    await ctx.record("user.disabled", user_id=user.id, target=f"user:{user.id}",
                     sessions_ended=len(ended), logins_ended=logins_ended,
                     op=op)  # fmt: skip
    return ended


async def enable_user(ctx: AuthContext, user: User, op: Operator) -> None:
    if not await ctx.users.set_disabled(user.id, False):
        raise Conflict(f"user {user.username!r} is not disabled")
    await ctx.record("user.enabled", user_id=user.id, target=f"user:{user.id}", op=op)


async def delete_user(
    ctx: AuthContext, user: User, op: Operator, *, logins: LoginSessionStore
) -> list[str]:
    """Delete the account, then end its sessions and sign-ins at the issuer. The audit
    trail keeps its events, by id only (no username: nothing personal outlives the
    account but the id)."""
    if not await ctx.users.delete_user(user.id):
        raise NotFound(f"no user {user.username!r}")
    logins_ended = await logins.end_user_logins(user.id)  # first: no new session from one
    ended = await ctx.store.end_user_sessions(user.id)
    await ctx.record("user.deleted", user_id=user.id, target=f"user:{user.id}",
                     sessions_ended=len(ended), logins_ended=logins_ended,
                     op=op)  # fmt: skip
    return ended


async def reset_password(
    ctx: AuthContext, user: User, password: str, op: Operator, *, logins: LoginSessionStore
) -> list[str]:
    """Set a new password (the operator's answer to "I forgot my password") and end every
    session and sign-in at the issuer. Compare-and-set against the hash just read: a
    concurrent change wins and this one fails with Conflict (try again), never
    overwriting it silently."""
    try:
        check_password_acceptable(password, username=user.username)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    new_hash = await ctx.hash_password(password)
    if not await ctx.users.set_password_hash(
        user.id, new_hash, ctx.clock(), expected_hash=user.password_hash
    ):
        raise Conflict("the password was changed at the same time; try again")
    logins_ended = await logins.end_user_logins(user.id)  # first: no new session from one
    ended = await ctx.store.end_user_sessions(user.id)
    await ctx.record("password.reset", user_id=user.id, target=f"user:{user.id}",
                     sessions_ended=len(ended), logins_ended=logins_ended,
                     op=op)  # fmt: skip
    return ended
