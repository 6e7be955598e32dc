"""The operator's use cases with a fixed clock, on the SQLite and the Redis token store:
a disabled user's refresh, everyone out and back in, an app's refresh after it lost a
scope, the secret overlap's end, the audit trail's retention, and the browser sign-ins
the operator's logouts end."""

from __future__ import annotations

import pytest

from jwtkeep.core.fingerprint import Fingerprint, fingerprint
from jwtkeep.errors import InvalidClient, InvalidGrant, InvalidRequest, InvalidToken
from jwtkeep.ports import AuditEvent, LoginSession
from jwtkeep.usecases.apps import AppChanges, rotate_secret, update_app
from jwtkeep.usecases.clients import authenticate_client
from jwtkeep.usecases.context import Operator, RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import INVALID_REFRESH, refresh_grant
from jwtkeep.usecases.sessions import list_sessions, logout_all, revoke_everything
from jwtkeep.usecases.token_response import TokenResponse
from jwtkeep.usecases.users import delete_user, disable_user, reset_password
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo(ip="198.51.100.1", user_agent="pytest")
OPERATOR = Operator(actor="cli:ops", reason="incident 7")
DAY = 86400


async def login(world: World, username: str = "alice") -> TokenResponse:
    return await password_grant(world.ctx, world.app, username, PASSWORD, None, INFO)


async def test_a_disabled_users_refresh_is_refused_and_ends_the_session(world: World) -> None:
    """The flag alone (as another replica or an old row may have it), without the CLI's
    ending of sessions: the refresh grant itself refuses and ends the session."""
    first = await login(world)
    assert first.refresh_token is not None
    await world.ctx.users.set_disabled(world.user.id, True)

    with pytest.raises(InvalidGrant, match=INVALID_REFRESH):
        await refresh_grant(world.ctx, world.app, first.refresh_token, None, INFO)

    assert await list_sessions(world.ctx, world.user.id) == []
    with pytest.raises(InvalidToken):
        await world.verifier.verify(first.access_token)


async def test_everyone_out_then_back_in(world: World) -> None:
    alice, bob = await login(world, "alice"), await login(world, "bob")
    assert alice.refresh_token is not None

    ended = await revoke_everything(world.ctx, OPERATOR, logins=world.database.logins)

    assert ended == 2
    for token in (alice.access_token, bob.access_token):
        with pytest.raises(InvalidToken):
            await world.verifier.verify(token)
    with pytest.raises(InvalidGrant, match=INVALID_REFRESH):
        await refresh_grant(world.ctx, world.app, alice.refresh_token, None, INFO)
    world.clock.advance(1)  # a login in the cut-off's own second would be refused on Redis
    again = await login(world)
    assert (await world.verifier.verify(again.access_token)).sub == world.user.id
    names = [e.event for e in await world.database.audit.query(events=("sessions.",))]
    assert names == ["sessions.revoked_everything", "sessions.revoke_everything_started"]


async def test_revoke_everything_without_a_reason_changes_nothing(world: World) -> None:
    first = await login(world)
    with pytest.raises(InvalidRequest, match="--reason"):
        await revoke_everything(world.ctx, Operator(actor="cli:ops"), logins=world.database.logins)
    assert (await world.verifier.verify(first.access_token)).sub == world.user.id


async def test_a_scope_the_app_lost_is_not_handed_out_by_a_refresh(world: World) -> None:
    """RFC 6749 §6 lets a refresh keep the session's scope; after `app update` took
    `write` away, that would hand it out again: the update ends the app's sessions."""
    first = await login(world)
    assert first.refresh_token is not None
    assert "write" in first.scope.split()

    _, ended = await update_app(world.ctx, world.app, AppChanges(scopes=("read",)), OPERATOR)

    assert ended == 1
    app = await world.ctx.apps.app_by_client_id(world.app.client_id)
    assert app is not None
    with pytest.raises(InvalidGrant, match=INVALID_REFRESH):
        await refresh_grant(world.ctx, app, first.refresh_token, None, INFO)


async def test_the_old_secret_stops_at_the_end_of_the_overlap(world: World) -> None:
    rotated = await rotate_secret(world.ctx, world.service, 600, OPERATOR)
    apps, client_id, now = world.ctx.apps, world.service.client_id, world.clock()
    assert await authenticate_client(apps, client_id, world.service_secret, now + 599)
    with pytest.raises(InvalidClient):
        await authenticate_client(apps, client_id, world.service_secret, now + 600)
    assert await authenticate_client(apps, client_id, rotated.client_secret, now + 600)


async def test_audit_retention_deletes_old_events_and_blanks_old_ips(world: World) -> None:
    audit, start = world.database.audit, world.clock()
    for days_ago in (120, 60, 10):
        await audit.record(AuditEvent(at=start - days_ago * DAY, event=f"old.{days_ago}",
                                      ip="203.0.113.9"))  # fmt: skip

    await world.ctx.prune_audit(start)

    kept = {e.event: e.ip for e in await audit.query(events=("old.",))}
    assert kept == {"old.60": None, "old.10": "203.0.113.9"}  # 90 days; IPs for 30


async def test_audit_retention_runs_on_write_at_most_every_ten_minutes(world: World) -> None:
    audit, start = world.database.audit, world.clock()
    await world.ctx.record("first")  # prunes (the first write of a process does)
    await audit.record(AuditEvent(at=start - 100 * DAY, event="old.100"))
    world.clock.advance(599)
    await world.ctx.record("second")
    assert [e.event for e in await audit.query(events=("old.",))] == ["old.100"]
    world.clock.advance(1)
    await world.ctx.record("third")
    assert await audit.query(events=("old.",)) == []


async def _signed_in(world: World, user_id: str, name: str) -> Fingerprint:
    """A login session (the browser's sign-in at the issuer) for the user."""
    now = world.clock()
    fp = fingerprint(f"jkls_{name}")
    login = LoginSession(id=f"login-{name}", fingerprint=fp, user_id=user_id, auth_time=now,
                         expires_at=now + 3600)  # fmt: skip
    await world.database.logins.add_login(login, now)
    assert await world.database.logins.login_by_fingerprint(fp, now) is not None
    return fp


@pytest.mark.parametrize("action", ["revoke-all", "disable", "delete", "set-password"])
async def test_the_operators_logout_of_a_user_ends_their_browser_sign_ins(
    world: World, action: str
) -> None:
    """As the user's own logout-all does: no browser may start a session from an old
    sign-in at the issuer (OWASP ASVS V3.3.1). Another user's sign-in stays."""
    alice = await _signed_in(world, world.user.id, "alice")
    bob = await _signed_in(world, world.other_user.id, "bob")
    logins = world.database.logins
    if action == "revoke-all":
        await logout_all(world.ctx, world.user.id, logins=logins, op=OPERATOR)
    elif action == "disable":
        await disable_user(world.ctx, world.user, OPERATOR, logins=logins)
    elif action == "delete":
        await delete_user(world.ctx, world.user, OPERATOR, logins=logins)
    else:
        await reset_password(world.ctx, world.user, "a brand new passphrase 42", OPERATOR,
                             logins=logins)  # fmt: skip
    assert await logins.login_by_fingerprint(alice, world.clock()) is None
    assert await logins.login_by_fingerprint(bob, world.clock()) is not None
    [event] = await world.database.audit.query(user_id=world.user.id, limit=1)
    assert event.detail["logins_ended"] == 1


async def test_revoke_everything_ends_every_browser_sign_in(world: World) -> None:
    signed_in = [await _signed_in(world, world.user.id, "alice"),
                 await _signed_in(world, world.other_user.id, "bob")]  # fmt: skip
    await revoke_everything(world.ctx, OPERATOR, logins=world.database.logins)
    for fp in signed_in:
        assert await world.database.logins.login_by_fingerprint(fp, world.clock()) is None
