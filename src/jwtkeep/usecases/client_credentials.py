"""The client credentials grant (RFC 6749 §4.4): a confidential app acting for itself.

`sub` is the app's UUID (RFC 9068 §2.2: the client when no user is involved). No refresh
token is ever issued (RFC 6749 §4.4.3). Each token gets its own `sid`, so revoking it
through RFC 7009 never touches anything else.
"""

from __future__ import annotations

from jwtkeep.core.clock import new_id
from jwtkeep.errors import UnauthorizedClient
from jwtkeep.ports import App
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.scope_grants import grant_scope
from jwtkeep.usecases.token_response import TokenResponse

__all__ = ["client_credentials_grant"]


async def client_credentials_grant(
    ctx: AuthContext, client: App, scope: str | None, info: RequestInfo
) -> TokenResponse:
    if not client.confidential:
        raise UnauthorizedClient("Only confidential clients may use client_credentials.")
    # Never `account`/`openid`: the token's `sub` is the app, not a user, so it must never
    # carry the account API's audience (DESIGN.md "Contract: tokens").
    granted = grant_scope(scope, client.scopes, account_access=False)
    now = ctx.clock()
    issued = ctx.issuer.issue(
        await ctx.keys.ring(), sub=client.id, app=client, scope=granted,
        sid=new_id(ctx.random, 16), now=now, random=ctx.random,
    )  # fmt: skip
    await ctx.store.add_access(issued.record, now)
    await ctx.record("client_credentials.issued", info, client_id=client.client_id,
                     jti=issued.claims.jti)  # fmt: skip
    return TokenResponse(issued.token, issued.expires_in, granted)
