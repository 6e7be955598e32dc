"""Token introspection (RFC 7662).

The caller is an authenticated *confidential* client (RFC 7662 §2.1: the endpoint MUST
require authorization; a public client's id alone proves nothing). To avoid token scanning (§4), a
client learns only about access tokens issued to it, or whose `aud` holds its own audience
or one it was granted (`App.introspect_audiences`: the API behind a public client), and
about refresh tokens issued to it; anything else is `{"active": false}`, exactly like an
invalid token. An audience belongs to one app only (app registration refuses a taken one,
and the issuer URL), and the issuer URL (the account API's audience) never counts, so a
token whose only audience is the account API is seen by its own client alone. Store
trouble is not "inactive": it raises StoreUnavailable (503). The same rule says which
revocation events the issuer's HTTPS stream sends a client (`may_learn_of`): those of
the tokens it may introspect.
"""

from __future__ import annotations

from typing import Any

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import refresh_token_session
from jwtkeep.core.revocation_events import RevocationEvent
from jwtkeep.errors import InvalidClient, InvalidToken
from jwtkeep.ports import App, RefreshState
from jwtkeep.usecases.context import AuthContext
from jwtkeep.usecases.verification import TokenVerifier

__all__ = ["INACTIVE", "introspect", "may_learn_of"]

INACTIVE: dict[str, Any] = {"active": False}


async def introspect(
    ctx: AuthContext, verifier: TokenVerifier, client: App, token: str
) -> dict[str, Any]:
    if not client.confidential:
        raise InvalidClient(
            "Introspection needs a confidential client.", reason="public client introspecting"
        )
    if refresh_token_session(token) is not None:
        return await _introspect_refresh(ctx, client, token)
    try:
        claims = await verifier.verify(token)
    except InvalidToken:
        return INACTIVE
    if not _may_introspect(ctx, client, claims):
        return INACTIVE
    return {
        "active": True, "token_type": "Bearer", "scope": claims.scope,
        "client_id": claims.client_id, "sub": claims.sub, "aud": claims.aud_json(),
        "iss": claims.iss, "exp": claims.exp, "iat": claims.iat, "nbf": claims.nbf,
        "jti": claims.jti, "sid": claims.sid,
    }  # fmt: skip


def _may_introspect(ctx: AuthContext, client: App, claims: AccessClaims) -> bool:
    """RFC 7662 §4: "the authorization server SHOULD ... determine whether the token is one
    the protected resource may introspect": a token issued to the client, or one for the
    client's own audience, or for an audience it was granted (`--introspect-audience`).

    The issuer URL is the account API's audience, never an app's: it never counts, so an app
    stored with it (before registration refused that) or granted it (ditto) learns nothing
    about account tokens. A token for [app, issuer] is visible to whoever may see the app's
    audience: the API may introspect its own users' tokens.
    """
    if claims.client_id == client.client_id:
        return True
    return not _visible_audiences(ctx, client).isdisjoint(claims.audiences)


def _visible_audiences(ctx: AuthContext, client: App) -> set[str]:
    issuer = ctx.issuer.issuer.rstrip("/")
    return {a for a in (client.audience, *client.introspect_audiences) if a.rstrip("/") != issuer}


async def may_learn_of(ctx: AuthContext, client: App, event: RevocationEvent) -> bool:
    """Whether the issuer's HTTPS event stream sends `event` to `client`: only if the
    client may introspect (RFC 7662 §4, `_may_introspect`) a token the event ends, i.e.
    one of the event's apps (`clients`) is the client itself or an app whose audience the
    client may see. Every token an app issues carries the app's audience (issuance
    `audience_for`), and an app's audience never changes, so this is exactly the tokens
    a subscriber's verdict cache can hold. `kid` and `all` events name no user and go to
    everyone; so does an event whose apps are not known, or one naming an app that no
    longer exists (safe: it may only tell a subscriber more than it needs)."""
    if event.clients is None:
        return True
    visible: set[str] | None = None
    for client_id in event.clients:
        if client_id == client.client_id:
            return True
        app = await ctx.apps.app_by_client_id(client_id)
        if app is None:
            return True
        visible = visible if visible is not None else _visible_audiences(ctx, client)
        if app.audience in visible:
            return True
    return False


async def _introspect_refresh(ctx: AuthContext, client: App, token: str) -> dict[str, Any]:
    sid = refresh_token_session(token)
    now = ctx.clock()
    session = await ctx.store.get_session(sid, now) if sid else None
    if session is None or session.client_id != client.client_id:
        return INACTIVE
    state = await ctx.store.refresh_state(session.user_id, session.sid, fingerprint(token), now)
    if state is not RefreshState.CURRENT:
        return INACTIVE
    return {
        "active": True, "token_type": "refresh_token", "scope": session.scope,
        "client_id": session.client_id, "sub": session.user_id, "iss": ctx.issuer.issuer,
        "exp": int(session.expires_at()), "iat": int(session.created_at), "sid": session.sid,
    }  # fmt: skip
