"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection.

RFC 9700 §4.14.2: every use rotates the refresh token; a used-up token coming back means
it was stolen (or the client is broken), so the whole session — its refresh family and
every access token it issued — is ended, and the event is audited. The check-and-rotate
is one atomic step in the store, so racing requests can never fork the session.
Scopes may be narrowed, never widened (RFC 6749 §6). By default there is no grace window
for a client's own retry: a retried refresh counts as reuse. With
`JWTKEEP_REFRESH_REUSE_INTERVAL` (at most 60 s), the current token's immediate parent
presented within that interval (two tabs of one browser refreshing at once) is refused
with `invalid_grant` but not taken for theft, so the family survives; anything older, or
later, is reuse as before (docs/sessions.md).
"""

from __future__ import annotations

from typing import Any

import structlog

from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import new_refresh_token, refresh_token_session
from jwtkeep.errors import InvalidGrant, UnauthorizedClient
from jwtkeep.ports import App, AuditEvent, RotationOutcome
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.scope_grants import narrow_scope
from jwtkeep.usecases.token_response import TokenResponse

__all__ = ["INVALID_REFRESH", "refresh_grant"]

INVALID_REFRESH = "The refresh token is invalid, expired or revoked."

_log = structlog.get_logger("jwtkeep.sessions")

# The audit event of each rotation outcome, with its extra fields (ROTATED: the new jti).
_AUDITED: dict[RotationOutcome, tuple[str, dict[str, Any]]] = {
    RotationOutcome.ROTATED: ("refresh.rotated", {}),
    RotationOutcome.RACED: ("refresh.raced", {"action": "refused, session kept"}),
    RotationOutcome.REUSED: ("refresh.reuse_detected", {"action": "session ended"}),
}


async def refresh_grant(
    ctx: AuthContext, client: App, refresh_token: str, scope: str | None, info: RequestInfo
) -> TokenResponse:
    if not client.refresh_enabled:
        raise UnauthorizedClient("This client may not use the refresh_token grant.")
    sid = refresh_token_session(refresh_token)
    now = ctx.clock()
    session = await ctx.store.get_session(sid, now) if sid else None
    if sid is None or session is None or session.client_id != client.client_id:
        # RFC 6749 §10.4: a refresh token is bound to the client it was issued to.
        raise InvalidGrant(INVALID_REFRESH, reason="unknown, ended or other client's session")
    granted = narrow_scope(scope, session.scope)
    user = await ctx.users.get_user(session.user_id)
    if user is None or user.disabled:
        await ctx.store.end_session(session.user_id, sid)
        raise InvalidGrant(INVALID_REFRESH, reason="user gone or disabled")
    issued = ctx.issuer.issue(
        await ctx.keys.ring(), sub=user.id, app=client, scope=granted, sid=sid, now=now,
        random=ctx.random,
    )  # fmt: skip
    new_refresh = new_refresh_token(sid, ctx.random)

    def audit(outcome: RotationOutcome) -> AuditEvent | None:
        audited = _AUDITED.get(outcome)
        if audited is None:
            return None
        event, extra = audited
        if outcome is RotationOutcome.ROTATED:
            extra = {"jti": issued.claims.jti}
        return ctx.audit_event(event, info, user_id=user.id, client_id=client.client_id,
                               sid=sid, **extra)  # fmt: skip

    # One SQL database for both: the event goes into the rotation's own transaction (one
    # commit instead of two); otherwise (Redis) it is appended after the rotation.
    in_store = ctx.store.keeps_audit(ctx.audit)
    outcome = await ctx.store.rotate_refresh(
        user.id, sid, fingerprint(refresh_token), fingerprint(new_refresh), issued.record,
        now, ctx.sessions.idle_timeout, ctx.sessions.reuse_interval,
        audit=audit if in_store else None,
    )  # fmt: skip
    if outcome is not RotationOutcome.UNKNOWN:
        event = None if in_store else audit(outcome)
        if event is not None:
            await ctx.audit.record(event)
        await ctx.recorded(ctx.clock())
    if outcome is RotationOutcome.ROTATED:
        return TokenResponse(issued.token, issued.expires_in, granted, new_refresh)
    if outcome is RotationOutcome.REUSED:
        # Likely a stolen refresh token (RFC 9700 §4.14.2): worth an operator's alert, not
        # only an audit row. Once per session: a replay after this finds no session.
        _log.warning("refresh.reuse_detected", user_id=user.id, client_id=client.client_id,
                     sid=sid, action="session ended")  # fmt: skip
    raise InvalidGrant(INVALID_REFRESH, reason=f"rotation {outcome}")
