"""`jwtkeep keys list | rotate | retire KID | compromised KID`: the signing-key lifecycle.

RFC 7517 §4.5 (`kid`), RFC 8725 §3.1 (the algorithm belongs to the key). Lifecycle, as
`jwtkeep.core.keyring` defines it: `active` signs and verifies; `retiring` only verifies
(after a rotation, until the tokens it signed have expired); `retired` does neither;
`compromised` is the key-leak drill and is refused everywhere.

Every running server reloads its key ring every `JWTKEEP_KEY_REFRESH_SECONDS` (30 s by
default), so a change made here reaches all replicas without a restart; `retire` and
`compromised` also publish a kid revocation event through the token store, so every
replica and subscribed SDK verifier drops the key at once (docs/revocation.md).
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
from jwtkeep.usecases.key_withdrawal import key_compromised, retire_key

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
        done = run_with_runtime(_settings(ctx), lambda rt: retire_key(rt.context, kid, by="cli"))
    typer.echo(f"Key {kid} retired: it no longer verifies and has left the JWKS. Tokens it "
               f"signed are refused ({done.tokens_killed} still live were revoked).")  # fmt: skip


@app.command("compromised")
def compromised(ctx: typer.Context, kid: KidArgument, as_json: JsonOption = False) -> None:
    """The key-leak drill: withdraw KID at once (and make a new signing key if needed).

    At once, every jwtkeep replica and every subscribed SDK verifier refuses every token
    KID signed (a kid event through the token store), the key leaves the JWKS, every
    access token it signed is revoked (the count is printed and audited), and new tokens
    are signed by a new key. Tokens forged with the leaked key were never on the
    allowlist, so they were refused even before. Sessions stay open: clients get tokens
    signed by the new key on their next refresh. A compromised key never changes status
    again. In HS256 mode, set a new JWTKEEP_HMAC_SECRET first (refused otherwise).
    JSON: {"kid": KID, "status": "compromised", "new_kid": the new signing key or null,
    "tokens_killed": N}.
    """
    with handled_errors():
        done = run_with_runtime(
            _settings(ctx), lambda rt: key_compromised(rt.context, kid, by="cli")
        )
    if as_json:
        emit_json({"kid": kid, "status": "compromised", "new_kid": done.new_kid,
                   "tokens_killed": done.tokens_killed})  # fmt: skip
        return
    typer.echo(f"Key {kid} marked COMPROMISED: it has left the JWKS and verifies nothing.")
    if done.new_kid is not None:
        typer.echo(f"New signing key: {done.new_kid}")
    typer.echo(f"Tokens killed: {done.tokens_killed}")
    typer.echo(
        "Every jwtkeep replica and subscribed SDK verifier refuses its tokens now; an SDK "
        "without a revocation subscription drops it when it next fetches the JWKS. Forged "
        "tokens were never on the allowlist and were refused already. Users stay logged "
        "in: their next refresh gets a token signed by the new key. Now find out how the "
        "key leaked (the master key? the database?) and see docs/revocation.md, "
        "'Incident runbook: a signing key leaked'."
    )
