"""Token revocation (RFC 7009).

§2.1: a client may revoke only its own tokens; revoking a refresh token also ends the
access tokens of the same grant (we end the whole session). §2.2: the answer is 200 even
for an invalid or unknown token, so revocation is no oracle. Store trouble is a 503.
"""

from __future__ import annotations

from jwtkeep.core.access_token import TokenRejected, verify_access_token
from jwtkeep.core.claims import ClaimRules
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import refresh_token_session
from jwtkeep.ports import App
from jwtkeep.usecases.context import AuthContext, RequestInfo

__all__ = ["revoke"]


async def revoke(ctx: AuthContext, client: App, token: str, info: RequestInfo) -> None:
    if refresh_token_session(token) is not None:
        await _revoke_refresh(ctx, client, token, info)
        return
    rules = ClaimRules(issuer=ctx.issuer.issuer, audience=None, max_lifetime=ctx.issuer.max_ttl)
    try:
        claims = verify_access_token(token, await ctx.keys.ring(), rules, ctx.clock())
    except TokenRejected:
        return  # invalid or expired: nothing to revoke (RFC 7009 §2.2)
    if claims.client_id != client.client_id:
        return
    if await ctx.store.remove_access(fingerprint(token), claims.sub, claims.sid):
        await ctx.record("token.revoked", info, user_id=claims.sub, client_id=client.client_id,
                         sid=claims.sid, jti=claims.jti)  # fmt: skip


async def _revoke_refresh(ctx: AuthContext, client: App, token: str, info: RequestInfo) -> None:
    sid = refresh_token_session(token)
    now = ctx.clock()
    session = await ctx.store.get_session(sid, now) if sid else None
    if session is None or session.client_id != client.client_id:
        return
    if await ctx.store.refresh_state(session.user_id, session.sid, fingerprint(token), now):
        await ctx.store.end_session(session.user_id, session.sid)
        await ctx.record("refresh.revoked", info, user_id=session.user_id,
                         client_id=client.client_id, sid=session.sid)  # fmt: skip
