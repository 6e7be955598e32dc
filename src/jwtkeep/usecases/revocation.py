"""Token revocation (RFC 7009).

§2.1: a client may revoke only its own tokens; revoking a refresh token also ends the
access tokens of the same grant (we end the whole session). §2.2: the answer is 200 even
for an invalid or unknown token, so revocation is no oracle. Store trouble is a 503.

An access token is revoked by its fingerprint alone, without the key ring: the store
holds the SHA-256 of exactly the tokens it issued, so a record found under the token's
`sub` and `sid` proves the token (and hence its `client_id`) is authentic (SHA-256
second-preimage resistance), whatever key signed it and whether this replica's ring
already knows that key (a rotation on another replica can no longer turn a revocation
into a silent no-op). Its removal publishes the token's revocation event.
"""

from __future__ import annotations

from jwtkeep.core.compact import MalformedToken, b64url_decode, parse_compact, strict_json_object
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import refresh_token_session
from jwtkeep.ports import App
from jwtkeep.usecases.context import AuthContext, RequestInfo

__all__ = ["revoke"]


async def revoke(ctx: AuthContext, client: App, token: str, info: RequestInfo) -> None:
    if refresh_token_session(token) is not None:
        await _revoke_refresh(ctx, client, token, info)
        return
    try:
        payload = strict_json_object(b64url_decode(parse_compact(token).payload_segment))
    except MalformedToken:
        return  # not a token we could have issued: nothing to revoke (RFC 7009 §2.2)
    sub, sid, client_id, jti = (payload.get(k) for k in ("sub", "sid", "client_id", "jti"))
    if not (isinstance(sub, str) and isinstance(sid, str)) or client_id != client.client_id:
        return  # §2.1: only the client the token was issued to may revoke it
    if await ctx.store.remove_access(fingerprint(token), sub, sid):
        await ctx.record("token.revoked", info, user_id=sub, client_id=client.client_id,
                         sid=sid, jti=jti if isinstance(jti, str) else None)  # fmt: skip


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
