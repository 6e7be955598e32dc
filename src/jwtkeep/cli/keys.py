"""`jwtkeep keys list | rotate | retire KID | compromised KID`: the signing-key lifecycle.

RFC 7517 §4.5 (`kid`), RFC 8725 §3.1 (the algorithm belongs to the key). Lifecycle, as
`jwtkeep.core.keyring` defines it: `active` signs and verifies; `retiring` only verifies
(after a rotation, until the tokens it signed have expired); `retired` does neither;
`compromised` is the key-leak drill and is refused everywhere.

Every running server reloads its key ring every `JWTKEEP_KEY_REFRESH_SECONDS` (30 s by
default), so a change made here reaches all replicas without a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
from jwtkeep.settings import MAX_ACCESS_TOKEN_TTL, Settings

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = ["KidArgument", "app", "compromised", "list_keys", "retire", "rotate"]

app = typer.Typer(help="List, rotate, retire signing keys; answer a key leak.",
                  no_args_is_help=True)  # fmt: skip

KidArgument = Annotated[str, typer.Argument(help="The key id (`kid`), see `jwtkeep keys list`.")]


def _settings(ctx: typer.Context) -> Settings:
    settings = load_cli_settings(ctx)
    require_initialized(settings)
    return settings


@app.command("list")
def list_keys(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every signing key, oldest first, with its status (never a private key)."""

    async def action(runtime: Runtime) -> list[dict[str, Any]]:
        ring = await runtime.context.keys.reload()
        return [{"kid": key.kid, "alg": key.alg, "status": key.status.value,
                 "created_at": iso_time(key.created_at)} for key in ring.keys]  # fmt: skip

    with handled_errors():
        keys = run_with_runtime(_settings(ctx), action)
    if as_json:
        emit_json(keys)
        return
    for key in keys:
        typer.echo(f"{key['kid']}  {key['alg']:<6} {key['status']:<11} created {key['created_at']}")


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Make a new signing key; the old one keeps verifying ("retiring") until retired.

    Retire the old key with `jwtkeep keys retire KID` once its tokens have expired
    (access tokens live at most one hour). JSON: {"kid": the new key}.
    """
    with handled_errors():
        kid = run_with_runtime(_settings(ctx), lambda rt: rt.context.keys.rotate())
    if as_json:
        emit_json({"kid": kid})
        return
    typer.echo(f"New signing key: {kid}")
    typer.echo("The previous key is now 'retiring': it still verifies the tokens it signed. "
               f"Retire it after {MAX_ACCESS_TOKEN_TTL} s at the latest: "
               "`jwtkeep keys retire KID`.")  # fmt: skip


@app.command("retire")
def retire(ctx: typer.Context, kid: KidArgument) -> None:
    """Stop verifying with KID (do this after the tokens it signed have expired).

    Refused (exit 1) for the only active key (run `jwtkeep keys rotate` first) and for a
    compromised key (that status is final). The check and the change are one database
    transaction, so concurrent runs can never leave no active key.
    """
    with handled_errors():
        run_with_runtime(_settings(ctx), lambda rt: rt.context.keys.retire(kid))
    typer.echo(f"Key {kid} retired: it no longer verifies and has left the JWKS. "
               "Tokens it signed are refused.")  # fmt: skip


@app.command("compromised")
def compromised(ctx: typer.Context, kid: KidArgument, as_json: JsonOption = False) -> None:
    """The key-leak drill: withdraw KID at once (and make a new signing key if needed).

    The key leaves the JWKS and the tokens it signed are refused: by every jwtkeep
    server once it reloads its key ring (JWTKEEP_KEY_REFRESH_SECONDS, 30 s by default),
    by resource servers once they refetch the JWKS. Tokens forged with the leaked key
    were never on the allowlist, so they were refused even before this drill. Sessions
    stay open: clients get tokens signed by the new key on their next refresh.
    JSON: {"kid": KID, "status": "compromised", "new_kid": the new signing key or null}.
    """
    with handled_errors():
        new_kid = run_with_runtime(_settings(ctx), lambda rt: rt.context.keys.compromised(kid))
    if as_json:
        emit_json({"kid": kid, "status": "compromised", "new_kid": new_kid})
        return
    typer.echo(f"Key {kid} marked COMPROMISED: it has left the JWKS and verifies nothing.")
    if new_kid is not None:
        typer.echo(f"New signing key: {new_kid}")
    typer.echo(
        "Tokens it signed are refused by every jwtkeep server within "
        "JWTKEEP_KEY_REFRESH_SECONDS (30 s by default); resource servers drop it when they "
        "next fetch the JWKS. Forged tokens were never on the allowlist and were refused "
        "already. Users stay logged in: their next refresh gets a token signed by the new "
        "key. Now find out how the key leaked (the master key? the database?) and see "
        "docs/operations.md, 'Key leak drill'."
    )
