"""`jwtkeep app create | update | list`: register client applications (RFC 6749 §2).

Redirect URIs (`--redirect-uri`, RFC 6749 §3.1.2; matched exactly) and grants (`--grant`,
RFC 6749 grant_type values). New apps get `authorization_code` and `refresh_token`; the
password grant is an opt-in the CLI warns about (RFC 9700 §2.4: it MUST NOT be used), kept
for first-party native apps, tests and the curl tour. `--first-party` skips the consent
page (the operator's own app).

Each app gets its own audience, so a token for one app is refused by another that shares
the auth server (the article; RFC 8725 §3.9); an audience belongs to one app only, and
the issuer URL (the account API's audience) to none. Apps the operator creates may ask
for the `account`/`openid` scopes (tokens for jwtkeep's account API) unless created with
`--no-account-access`. A confidential app's secret is printed once; only its hash is kept.
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

__all__ = [
    "RISKY_GRANT_WARNING",
    "GrantOption",
    "RedirectUriOption",
    "app",
    "app_summary",
    "create",
    "list_apps",
    "update",
]

app = typer.Typer(help="Register, change and list client applications.", no_args_is_help=True)
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
        account_access=not no_account_access, redirect_uris=tuple(redirect_uri or ()),
        grants=grants, first_party=first_party,
    )  # fmt: skip
    _warn_about_grants(grants)
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


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The app's name or client id.")],
    redirect_uri: RedirectUriOption = None,
    grant: GrantOption = None,
    first_party: Annotated[
        bool | None,
        typer.Option("--first-party/--no-first-party", help="Skip the consent page, or not."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace an app's redirect URIs or grants (each only if given), or its first-party flag.

    Example: jwtkeep app update shop --redirect-uri https://shop.example/callback
    --redirect-uri http://127.0.0.1/callback
    """
    from jwtkeep.errors import NotFound  # noqa: PLC0415
    from jwtkeep.usecases.registration import update_app  # noqa: PLC0415

    grants = tuple(grant) if grant else None
    if grants is not None:
        _warn_about_grants(grants)

    async def change(rt: Any) -> App:
        apps = await rt.context.apps.list_apps()
        found = next((a for a in apps if name in (a.name, a.client_id)), None)
        if found is None:
            raise NotFound(f"no app named {name!r}")
        return await update_app(
            rt.context, found.client_id, redirect_uris=tuple(redirect_uri) if redirect_uri
            else None, grants=grants, first_party=first_party,
        )  # fmt: skip

    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        updated = run_with_runtime(settings, change)
    if as_json:
        emit_json(app_summary(updated))
        return
    typer.echo(f"App {updated.name!r} updated: grants {' '.join(updated.grants) or '-'}, "
               f"redirect URIs {' '.join(updated.redirect_uris) or '-'}"
               f"{', first party' if updated.first_party else ''}.")  # fmt: skip


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
        typer.echo(f"{one['name']}  client_id={one['client_id']}  aud={one['audience']}  "
                   f"{kind}  ttl={one['access_token_ttl']}s  scopes={scopes}  "
                   f"{account}  grants={','.join(one['grants'])}  "
                   f"redirect_uris={' '.join(one['redirect_uris'])}")  # fmt: skip


def app_summary(one: App) -> dict[str, Any]:
    """What may be shown about an app: everything but the secret's hash."""
    return {
        "name": one.name, "client_id": one.client_id, "audience": one.audience,
        "scopes": list(one.scopes), "routes": list(one.routes),
        "confidential": one.confidential, "access_token_ttl": one.access_token_ttl,
        "refresh_enabled": one.refresh_enabled, "account_access": one.account_access,
        "redirect_uris": list(one.redirect_uris), "grants": list(one.grants),
        "first_party": one.first_party, "created_at": iso_time(one.created_at),
    }  # fmt: skip
