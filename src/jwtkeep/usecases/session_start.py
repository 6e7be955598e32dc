"""Starting a session: the one path every sign-in takes (password grant, authorization
code), so logout, refresh rotation, reuse detection and revocation apply to all alike.

A session is one refresh-token family (RFC 9700 §4.14.2). Its record, the refresh token's
fingerprint and the first access token's allowlist record are stored in one atomic step
before anything is returned (DESIGN.md token store contract).
"""

from __future__ import annotations

from dataclasses import dataclass

from jwtkeep.core.clock import new_id
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import new_refresh_token
from jwtkeep.ports import App, Session
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.issuance import IssuedAccess

__all__ = ["StartedSession", "new_sid", "start_session"]


@dataclass(frozen=True)
class StartedSession:
    sid: str
    access: IssuedAccess
    refresh_token: str | None
    now: float


def new_sid(ctx: AuthContext) -> str:
    return new_id(ctx.random, 16)


async def start_session(
    ctx: AuthContext,
    client: App,
    user_id: str,
    granted: str,
    info: RequestInfo,
    *,
    sid: str | None = None,
) -> StartedSession:
    now = ctx.clock()
    sid = sid or new_sid(ctx)
    issued = ctx.issuer.issue(
        await ctx.keys.ring(),
        sub=user_id,
        app=client,
        scope=granted,
        sid=sid,
        now=now,
        random=ctx.random,
    )
    refresh = new_refresh_token(sid, ctx.random) if client.refresh_enabled else None
    session = Session(
        sid=sid,
        user_id=user_id,
        client_id=client.client_id,
        scope=granted,
        created_at=now,
        last_used_at=now,
        idle_expires_at=now + ctx.sessions.idle_timeout,
        absolute_expires_at=now + ctx.sessions.absolute_lifetime,
        user_agent=info.user_agent[:256],
        ip=info.ip,
    )
    await ctx.store.start_session(
        session, fingerprint(refresh) if refresh else None, issued.record, now
    )
    return StartedSession(sid=sid, access=issued, refresh_token=refresh, now=now)
