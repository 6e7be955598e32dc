"""The operator's app tasks: find, update, rotate the secret, disable, enable, delete.

- Update: what the app may ask for changes at once for new grants. If it loses a scope
  (or account access), its sessions end, since a refresh may keep what the session was
  first granted (RFC 6749 §6) and would otherwise hand the lost scope out again. Redirect
  URIs and grants are checked as when registered (`usecases.registration.validate_app`);
  the refresh grant and the app's refresh tokens are one switch (`--refresh` adds the
  grant, a `--grant` list without it turns refresh tokens off).
- Rotate the secret (RFC 6749 §2.3.1, §10.1; RFC 9700 §2.5): a new 256-bit secret,
  shown once, stored as its SHA-256 digest. The old one may keep working for a bounded
  overlap (default none, at most `MAX_SECRET_OVERLAP`), so a fleet can be redeployed
  without downtime; `usecases.clients.authenticate_client` checks both in constant time.
- Disable: every grant, introspection and revocation by the app is refused
  (`invalid_client`), and every session and token issued to it ends at once: a disabled
  app is usually a compromised one. Enable lets it ask again (old tokens stay dead).
- Delete: the app and every session and token issued to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from jwtkeep.core.scopes import ACCOUNT_SCOPES
from jwtkeep.errors import Conflict, InvalidRequest, NotFound
from jwtkeep.ports import App
from jwtkeep.ports.token_store import Progress
from jwtkeep.usecases.clients import hash_client_secret, new_client_secret
from jwtkeep.usecases.context import AuthContext, Operator
from jwtkeep.usecases.registration import AppSpec, effective_grants, validate_app

__all__ = [
    "MAX_SECRET_OVERLAP",
    "AppChanges",
    "RotatedSecret",
    "delete_app",
    "disable_app",
    "enable_app",
    "find_app",
    "rotate_secret",
    "update_app",
]

MAX_SECRET_OVERLAP = 7 * 86400  # a week: enough to redeploy, short enough to bound a leak


@dataclass(frozen=True)
class AppChanges:
    """What `app update` may change; None leaves a field as it is. A new option is one
    field here and one line in `_changed`."""

    name: str | None = None
    scopes: tuple[str, ...] | None = None
    routes: tuple[str, ...] | None = None
    access_token_ttl: int | None = None
    refresh_enabled: bool | None = None
    account_access: bool | None = None
    redirect_uris: tuple[str, ...] | None = None  # RFC 6749 §3.1.2, matched exactly
    grants: tuple[str, ...] | None = None  # RFC 6749 grant_type values
    first_party: bool | None = None  # no consent page


@dataclass(frozen=True)
class RotatedSecret:
    app: App
    client_secret: str  # shown once, never stored
    old_secret_until: float | None  # when the previous secret stops working; None: now


async def find_app(ctx: AuthContext, who: str) -> App:
    """An app by client id or by name."""
    found = await ctx.apps.app_by_client_id(who)
    if found is None:
        found = next((app for app in await ctx.apps.list_apps() if app.name == who), None)
    if found is None:
        raise NotFound(f"no app {who!r}")
    return found


def _changed(app: App, changes: AppChanges) -> App:
    fields: dict[str, Any] = {
        "name": changes.name, "scopes": changes.scopes, "routes": changes.routes,
        "access_token_ttl": changes.access_token_ttl,
        "refresh_enabled": changes.refresh_enabled, "account_access": changes.account_access,
        "redirect_uris": changes.redirect_uris, "grants": changes.grants,
        "first_party": changes.first_party,
    }  # fmt: skip
    return replace(app, **{key: value for key, value in fields.items() if value is not None})


def _refresh_agrees(new: App, changes: AppChanges) -> App:
    """One switch for refresh tokens: `refresh_enabled` and the refresh grant agree, as
    `create_app` stores them. `--refresh` alone adds the grant; a grant list alone says
    whether refresh tokens are on; `--no-refresh` removes the grant."""
    wanted = new.grants
    if changes.grants is None and changes.refresh_enabled:
        wanted = (*wanted, "refresh_token")
    refresh = new.refresh_enabled
    if changes.grants is not None and changes.refresh_enabled is None:
        refresh = "refresh_token" in wanted
    refresh = refresh and "refresh_token" in wanted
    return replace(new, refresh_enabled=refresh, grants=effective_grants(wanted, refresh))


async def update_app(
    ctx: AuthContext, app: App, changes: AppChanges, op: Operator, progress: Progress | None = None
) -> tuple[App, int]:
    """The updated app, and how many of its sessions ended (it lost a scope)."""
    new = _changed(app, changes)
    if changes.scopes is not None:
        new = replace(new, scopes=tuple(dict.fromkeys(changes.scopes)))
    if changes.redirect_uris is not None:
        new = replace(new, redirect_uris=tuple(dict.fromkeys(changes.redirect_uris)))
    validate_app(AppSpec(
        name=new.name, audience=new.audience, scopes=new.scopes, routes=new.routes,
        confidential=new.confidential, access_token_ttl=new.access_token_ttl,
        extra_claims=new.extra_claims, redirect_uris=new.redirect_uris, grants=new.grants,
    ), ctx.issuer.max_ttl)  # fmt: skip
    new = _refresh_agrees(new, changes)
    if new == app:
        raise InvalidRequest("nothing to change: give at least one option")
    await ctx.apps.replace_app(new)
    lost = (set(app.scopes) - set(new.scopes)) | (
        ACCOUNT_SCOPES if app.account_access and not new.account_access else set()
    )
    ended = await _end_app_sessions(ctx, app, progress) if lost else 0
    changed = sorted(key for key in AppChanges.__dataclass_fields__
                     if getattr(app, key) != getattr(new, key))  # fmt: skip
    await ctx.record("app.updated", client_id=app.client_id, target=f"app:{app.client_id}",
                     changed=changed, scopes_lost=sorted(lost), sessions_ended=ended,
                     op=op)  # fmt: skip
    return new, ended


async def rotate_secret(ctx: AuthContext, app: App, overlap: int, op: Operator) -> RotatedSecret:
    if not app.confidential:
        raise InvalidRequest(f"app {app.name!r} is public: it has no secret to rotate")
    if not 0 <= overlap <= MAX_SECRET_OVERLAP:
        raise InvalidRequest(f"the overlap must be 0 to {MAX_SECRET_OVERLAP} seconds (7 days)")
    secret = new_client_secret(ctx.random)
    until = ctx.clock() + overlap if overlap else None
    new = replace(
        app, client_secret_hash=hash_client_secret(secret),
        previous_secret_hash=app.client_secret_hash if overlap else None,
        previous_secret_expires_at=until,
    )  # fmt: skip
    await ctx.apps.replace_app(new)
    await ctx.record("app.secret_rotated", client_id=app.client_id,
                     target=f"app:{app.client_id}", overlap_seconds=overlap,
                     op=op)  # fmt: skip
    return RotatedSecret(new, secret, until)


async def disable_app(
    ctx: AuthContext, app: App, op: Operator, progress: Progress | None = None
) -> int:
    """Refuse the app from now on and end what was issued to it; the sessions ended."""
    if app.disabled:
        raise Conflict(f"app {app.name!r} is already disabled")
    await ctx.apps.replace_app(replace(app, disabled=True))
    ended = await _end_app_sessions(ctx, app, progress)
    await ctx.record("app.disabled", client_id=app.client_id, target=f"app:{app.client_id}",
                     sessions_ended=ended, op=op)  # fmt: skip
    return ended


async def enable_app(ctx: AuthContext, app: App, op: Operator) -> None:
    if not app.disabled:
        raise Conflict(f"app {app.name!r} is not disabled")
    await ctx.apps.replace_app(replace(app, disabled=False))
    await ctx.record("app.enabled", client_id=app.client_id, target=f"app:{app.client_id}",
                     op=op)  # fmt: skip


async def delete_app(
    ctx: AuthContext, app: App, op: Operator, progress: Progress | None = None
) -> int:
    """Delete the app, then end every session and token issued to it (in that order, so
    no new one can be issued in between); the sessions ended."""
    if not await ctx.apps.delete_app(app.id):
        raise NotFound(f"no app {app.name!r}")
    ended = await _end_app_sessions(ctx, app, progress)
    await ctx.record("app.deleted", client_id=app.client_id, target=f"app:{app.client_id}",
                     name=app.name, sessions_ended=ended, op=op)  # fmt: skip
    return ended


async def _end_app_sessions(ctx: AuthContext, app: App, progress: Progress | None) -> int:
    """Every session issued to the app, and its client_credentials tokens (`sub` = app id)."""
    ended = await ctx.store.end_client_sessions(app.client_id, ctx.clock(), progress)
    await ctx.store.end_user_sessions(app.id)
    return ended
