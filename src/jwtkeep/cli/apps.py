"""`jwtkeep app create | list | show | update | rotate-secret | disable | enable | delete`:
client applications (RFC 6749 §2). APP is an app's name or client id.

Redirect URIs (`--redirect-uri`, RFC 6749 §3.1.2; matched exactly) and grants (`--grant`,
RFC 6749 grant_type values). New apps get `authorization_code` and `refresh_token`; the
password grant is an opt-in the CLI warns about (RFC 9700 §2.4: it MUST NOT be used), kept
for first-party native apps, tests and the curl tour. `--first-party` skips the consent
page (the operator's own app).

Each app gets its own audience, so a token for one app is refused by another that shares
the auth server (the article; RFC 8725 §3.9); an audience belongs to one app only, and
the issuer URL (the account API's audience) to none. Apps the operator creates may ask
for the `account`/`openid` scopes (tokens for jwtkeep's account API) unless created with
`--no-account-access`. A confidential app (an API) may be granted introspection of another
app's audience with `--introspect-audience` (RFC 7662 §4). A confidential app's secret is
printed once; only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from jwtkeep.cli.common import (
    IdCommand,
    JsonOption,
    ReasonOption,
    emit_json,
    handled_errors,
    iso_time,
    load_cli_settings,
    operator,
    print_table,
    progress_bar,
    require_initialized,
    run_with_runtime,
)
from jwtkeep.ports import App
from jwtkeep.settings import MAX_ACCESS_TOKEN_TTL

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime
    from jwtkeep.usecases.apps import RotatedSecret

__all__ = [
    "RISKY_GRANT_WARNING",
    "GrantOption",
    "RedirectUriOption",
    "app",
    "app_summary",
    "create",
    "delete",
    "disable",
    "enable",
    "list_apps",
    "rotate_secret",
    "show",
    "update",
]

app = typer.Typer(help="Register and manage client applications.", no_args_is_help=True)
T = TypeVar("T")
_MAX_OVERLAP = 7 * 86400  # usecases.apps.MAX_SECRET_OVERLAP (imported lazily there)
_AppArgument = Annotated[str, typer.Argument(metavar="APP", help="The app's name or client id.")]
_TtlOption = Annotated[
    int | None,
    typer.Option(
        "--ttl", metavar="SECONDS", min=30, max=MAX_ACCESS_TOKEN_TTL, help="Access-token lifetime."
    ),
]
RISKY_GRANT_WARNING = (
    "warning: the password grant is enabled for this app. RFC 9700 §2.4 says it MUST NOT be "
    "used: the app sees the user's password. Prefer the authorization code flow "
    "(--grant authorization_code --redirect-uri URI); keep the password grant for tests, "
    "scripts and first-party native apps only."
)
RedirectUriOption = Annotated[
    list[str] | None,
    typer.Option(
        "--redirect-uri",
        help="A redirection URI (exact match): https, http on loopback (any port), or a "
        "private-use scheme like com.example.app:/cb; repeat.",
    ),
]
GrantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grant",
        help="An RFC 6749 grant_type the app may use: authorization_code, refresh_token, "
        "password, client_credentials; repeat. Default: authorization_code and refresh_token.",
    ),
]


def _warn_about_grants(grants: tuple[str, ...]) -> None:
    if "password" in grants:
        typer.echo(RISKY_GRANT_WARNING, err=True)


@app.command("create", cls=IdCommand)
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name: letters, digits, -_.@+")],
    audience: Annotated[
        str, typer.Option("--audience", help="The `aud` of this app's tokens (its API's URL).")
    ],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope the app may ask for; repeat.")
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option("--route", help='A path rule, "METHOD /path/*=scope"; repeat.'),
    ] = None,
    confidential: Annotated[
        bool, typer.Option("--confidential", help="A server-side app with a client secret.")
    ] = False,
    ttl: _TtlOption = None,
    no_refresh: Annotated[
        bool, typer.Option("--no-refresh", help="Never issue refresh tokens to this app.")
    ] = False,
    no_account_access: Annotated[
        bool,
        typer.Option(
            "--no-account-access",
            help="The app may not ask for the `account`/`openid` scopes (the account API: "
            "/userinfo, sessions, logout-all, password change).",
        ),
    ] = False,
    introspect_audience: Annotated[
        list[str] | None,
        typer.Option(
            "--introspect-audience",
            help="With --confidential: this app (an API) may also introspect tokens for "
            "this other app's audience, e.g. those of the public client its users log in "
            "with (RFC 7662); repeat.",
        ),
    ] = None,
    redirect_uri: RedirectUriOption = None,
    grant: GrantOption = None,
    first_party: Annotated[
        bool,
        typer.Option("--first-party", help="The operator's own app: no consent page."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Register an app; print its client id (and, for --confidential, its secret ONCE).

    Example: jwtkeep app create shop --audience https://api.shop.example --scope orders:read
    --route "GET /orders/*=orders:read" --redirect-uri https://shop.example/callback --json
    """
    from jwtkeep.ports import DEFAULT_GRANTS  # noqa: PLC0415
    from jwtkeep.usecases.registration import AppSpec, create_app  # noqa: PLC0415

    grants = tuple(grant) if grant else DEFAULT_GRANTS
    spec = AppSpec(
        name=name, audience=audience, scopes=tuple(scope or ()), routes=tuple(route or ()),
        confidential=confidential, access_token_ttl=ttl, refresh_enabled=not no_refresh,
        account_access=not no_account_access,
        introspect_audiences=tuple(introspect_audience or ()),
        redirect_uris=tuple(redirect_uri or ()), grants=grants, first_party=first_party,
    )  # fmt: skip
    _warn_about_grants(grants)
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        created = run_with_runtime(
            settings, lambda rt: create_app(rt.context, spec, operator(None))
        )
    if as_json:
        emit_json({"client_id": created.app.client_id, "client_secret": created.client_secret})
        return
    typer.echo(f"App {name!r} created (audience {audience}).")
    typer.echo(f"client_id:     {created.app.client_id}")
    if created.client_secret is not None:
        typer.echo(f"client_secret: {created.client_secret}")
        typer.echo("Store the secret now: it is shown once and only its hash is kept.", err=True)


@app.command("list")
def list_apps(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the registered apps (never their secrets)."""
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        apps = run_with_runtime(settings, lambda rt: rt.context.apps.list_apps())
    summaries = [app_summary(one) for one in apps]
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        typer.echo("No apps yet: `jwtkeep app create NAME --audience AUD`.")
        return
    rows = [(
        one["name"], one["client_id"], one["audience"],
        "confidential" if one["confidential"] else "public",
        "disabled" if one["disabled"] else "active", f"{one['access_token_ttl']}s",
        "account-access" if one["account_access"] else "no-account-access",
        " ".join(one["scopes"]) or "-", ",".join(one["grants"]) or "-",
        ",".join(one["redirect_uris"]) or "-", "yes" if one["first_party"] else "no",
        ",".join(one["introspect_audiences"]) or "-",
    ) for one in summaries]  # fmt: skip
    print_table(("NAME", "CLIENT_ID", "AUDIENCE", "TYPE", "STATUS", "TTL", "ACCOUNT", "SCOPES",
                 "GRANTS", "REDIRECT_URIS", "FIRST_PARTY", "INTROSPECTS"),
                rows)  # fmt: skip


def app_summary(one: App) -> dict[str, Any]:
    """What may be shown about an app: everything but the secret's hash."""
    return {
        "name": one.name, "client_id": one.client_id, "audience": one.audience,
        "scopes": list(one.scopes), "routes": list(one.routes),
        "confidential": one.confidential, "access_token_ttl": one.access_token_ttl,
        "refresh_enabled": one.refresh_enabled, "account_access": one.account_access,
        "introspect_audiences": list(one.introspect_audiences),
        "redirect_uris": list(one.redirect_uris), "grants": list(one.grants),
        "first_party": one.first_party,
        "disabled": one.disabled, "created_at": iso_time(one.created_at),
        "overlap_until": (iso_time(one.previous_secret_expires_at)
                                  if one.previous_secret_expires_at else None),
    }  # fmt: skip


def _run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        return run_with_runtime(settings, action)


@app.command("show", cls=IdCommand)
def show(ctx: typer.Context, app_id: _AppArgument, as_json: JsonOption = False) -> None:
    """Show one app (never its secret)."""
    from jwtkeep.usecases.apps import find_app  # noqa: PLC0415

    found = _run(ctx, lambda rt: find_app(rt.context, app_id))
    summary = app_summary(found)
    if as_json:
        emit_json(summary)
        return
    for key, value in summary.items():
        shown = " ".join(value) if isinstance(value, list) else value
        typer.echo(f"{key + ':':<28}{shown}")


@app.command("update", cls=IdCommand)
def update(
    ctx: typer.Context,
    app_id: _AppArgument,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="A new name.")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", metavar="SCOPE", help="The app's scopes (all of them); repeat."),
    ] = None,
    no_scopes: Annotated[bool, typer.Option("--no-scopes", help="Remove every scope.")] = False,
    route: Annotated[
        list[str] | None,
        typer.Option(
            "--route",
            metavar='"METHOD /path/*=scope"',
            help="The app's path rules (all of them); repeat.",
        ),
    ] = None,
    no_routes: Annotated[bool, typer.Option("--no-routes", help="Remove every rule.")] = False,
    ttl: _TtlOption = None,
    refresh: Annotated[
        bool | None, typer.Option("--refresh/--no-refresh", help="Issue refresh tokens.")
    ] = None,
    account_access: Annotated[
        bool | None,
        typer.Option(
            "--account-access/--no-account-access",
            help="May ask for the `account`/`openid` scopes.",
        ),
    ] = None,
    redirect_uri: RedirectUriOption = None,
    no_redirect_uris: Annotated[
        bool, typer.Option("--no-redirect-uris", help="Remove every redirect URI.")
    ] = False,
    grant: GrantOption = None,
    first_party: Annotated[
        bool | None,
        typer.Option("--first-party/--no-first-party", help="Skip the consent page, or not."),
    ] = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an app; lists given (scopes, rules, redirect URIs, grants) replace the old
    ones. A scope (or account access) it loses ends its sessions at once.

    Example: jwtkeep app update shop --scope orders:read --ttl 120
    --redirect-uri https://shop.example/callback --redirect-uri http://127.0.0.1/callback
    """
    from jwtkeep.usecases.apps import AppChanges, find_app, update_app  # noqa: PLC0415

    grants = tuple(grant) if grant else None
    changes = AppChanges(
        name=name, scopes=() if no_scopes else tuple(scope) if scope else None,
        routes=() if no_routes else tuple(route) if route else None,
        access_token_ttl=ttl, refresh_enabled=refresh, account_access=account_access,
        redirect_uris=() if no_redirect_uris else tuple(redirect_uri) if redirect_uri else None,
        grants=grants, first_party=first_party,
    )  # fmt: skip
    if grants is not None:
        _warn_about_grants(grants)

    async def action(runtime: Runtime) -> tuple[App, int]:
        found = await find_app(runtime.context, app_id)
        with progress_bar("Ending its sessions") as progress:
            return await update_app(runtime.context, found, changes, operator(reason), progress)

    new, ended = _run(ctx, action)
    if as_json:
        emit_json({**app_summary(new), "sessions_ended": ended})
        return
    typer.echo(f"App {new.name!r} updated." + (f" {ended} session(s) ended." if ended else ""))


@app.command("rotate-secret", cls=IdCommand)
def rotate_secret(
    ctx: typer.Context,
    app_id: _AppArgument,
    overlap: Annotated[
        int,
        typer.Option(
            "--overlap",
            metavar="SECONDS",
            min=0,
            max=_MAX_OVERLAP,
            help="How long the old secret keeps working (default: not at all).",
        ),
    ] = 0,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give a confidential app a new secret, printed ONCE (only its digest is kept).

    Example (a leaked secret): jwtkeep app rotate-secret shop --reason "leaked in CI logs"
    """
    from jwtkeep.usecases.apps import find_app, rotate_secret  # noqa: PLC0415

    async def action(runtime: Runtime) -> RotatedSecret:
        found = await find_app(runtime.context, app_id)
        return await rotate_secret(runtime.context, found, overlap, operator(reason))

    rotated = _run(ctx, action)
    if as_json:
        emit_json({"client_id": rotated.app.client_id, "client_secret": rotated.client_secret})
        return
    typer.echo(f"client_id:     {rotated.app.client_id}")
    typer.echo(f"client_secret: {rotated.client_secret}")
    typer.echo("Store the secret now: it is shown once and only its digest is kept.", err=True)
    if rotated.old_secret_until is None:
        typer.echo("The old secret no longer works.", err=True)
    else:
        typer.echo(f"The old secret works until {iso_time(rotated.old_secret_until)}.", err=True)


@app.command("disable", cls=IdCommand)
def disable(ctx: typer.Context, app_id: _AppArgument, reason: ReasonOption = None) -> None:
    """Refuse the app (every grant, introspection, revocation) and end every session
    and token issued to it, at once."""
    from jwtkeep.usecases.apps import disable_app, find_app  # noqa: PLC0415

    async def action(runtime: Runtime) -> int:
        found = await find_app(runtime.context, app_id)
        with progress_bar("Ending its sessions") as progress:
            return await disable_app(runtime.context, found, operator(reason), progress)

    ended = _run(ctx, action)
    typer.echo(f"App {app_id} disabled; {ended} session(s) ended.")


@app.command("enable", cls=IdCommand)
def enable(ctx: typer.Context, app_id: _AppArgument, reason: ReasonOption = None) -> None:
    """Let a disabled app ask for tokens again (what it had stays ended)."""
    from jwtkeep.usecases.apps import enable_app, find_app  # noqa: PLC0415

    async def action(runtime: Runtime) -> None:
        found = await find_app(runtime.context, app_id)
        await enable_app(runtime.context, found, operator(reason))

    _run(ctx, action)
    typer.echo(f"App {app_id} enabled.")


@app.command("delete", cls=IdCommand)
def delete(ctx: typer.Context, app_id: _AppArgument, reason: ReasonOption = None) -> None:
    """Delete the app; every session and token issued to it ends at once."""
    from jwtkeep.usecases.apps import delete_app, find_app  # noqa: PLC0415

    async def action(runtime: Runtime) -> int:
        found = await find_app(runtime.context, app_id)
        with progress_bar("Ending its sessions") as progress:
            return await delete_app(runtime.context, found, operator(reason), progress)

    ended = _run(ctx, action)
    typer.echo(f"App {app_id} deleted; {ended} session(s) ended.")
