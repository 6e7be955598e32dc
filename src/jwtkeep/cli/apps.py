"""`jwtkeep app create | list`: register client applications (RFC 6749 §2).

Each app gets its own audience, so a token for one app is refused by another that shares
the auth server (the article; RFC 8725 §3.9); an audience belongs to one app only, and
the issuer URL (the account API's audience) to none. Apps the operator creates may ask
for the `account`/`openid` scopes (tokens for jwtkeep's account API) unless created with
`--no-account-access`. A confidential app (an API) may be granted introspection of another
app's audience with `--introspect-audience` (RFC 7662 §4). A confidential app's secret is
printed once; only its hash is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jwtkeep.cli.common import (
    JsonOption,
    emit_json,
    handled_errors,
    iso_time,
    load_cli_settings,
    require_initialized,
    run_with_runtime,
)
from jwtkeep.ports import App

__all__ = ["app", "app_summary", "create", "list_apps"]

app = typer.Typer(help="Register and list client applications.", no_args_is_help=True)


@app.command("create")
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
    ttl: Annotated[
        int | None, typer.Option("--ttl", help="Access-token lifetime in seconds.", min=1)
    ] = None,
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
    as_json: JsonOption = False,
) -> None:
    """Register an app; print its client id (and, for --confidential, its secret ONCE).

    Example: jwtkeep app create shop --audience https://api.shop.example --scope orders:read
    --route "GET /orders/*=orders:read" --json
    """
    from jwtkeep.usecases.registration import AppSpec, create_app  # noqa: PLC0415

    spec = AppSpec(
        name=name, audience=audience, scopes=tuple(scope or ()), routes=tuple(route or ()),
        confidential=confidential, access_token_ttl=ttl, refresh_enabled=not no_refresh,
        account_access=not no_account_access,
        introspect_audiences=tuple(introspect_audience or ()),
    )  # fmt: skip
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        created = run_with_runtime(settings, lambda rt: create_app(rt.context, spec))
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
    for one in summaries:
        kind = "confidential" if one["confidential"] else "public"
        scopes = " ".join(one["scopes"])
        account = "account-access" if one["account_access"] else "no-account-access"
        introspects = "".join(f"  introspects={aud}" for aud in one["introspect_audiences"])
        typer.echo(f"{one['name']}  client_id={one['client_id']}  aud={one['audience']}  "
                   f"{kind}  ttl={one['access_token_ttl']}s  scopes={scopes}  "
                   f"{account}{introspects}")  # fmt: skip


def app_summary(one: App) -> dict[str, Any]:
    """What may be shown about an app: everything but the secret's hash."""
    return {
        "name": one.name, "client_id": one.client_id, "audience": one.audience,
        "scopes": list(one.scopes), "routes": list(one.routes),
        "confidential": one.confidential, "access_token_ttl": one.access_token_ttl,
        "refresh_enabled": one.refresh_enabled, "account_access": one.account_access,
        "introspect_audiences": list(one.introspect_audiences),
        "created_at": iso_time(one.created_at),
    }  # fmt: skip
