"""`jwtkeep keys list | rotate | retire KID | compromised KID | import | reseal`: the
signing-key lifecycle.

RFC 7517 §4.5 (`kid`), RFC 8725 §3.1 (the algorithm belongs to the key). Lifecycle, as
`jwtkeep.core.keyring` defines it and `keys list` shows it: `active` signs and verifies;
`next` is published in the JWKS but signs only from its time on (so cached JWKS documents
already hold it); `retiring` only verifies, until the tokens it signed have expired, then
the rotation schedule retires it; `retired` does neither; `compromised` is the key-leak
drill, refused everywhere, and final.

Every running server reloads its key ring every `JWTKEEP_KEY_REFRESH_SECONDS` (30 s by
default) and runs the rotation schedule (`JWTKEEP_KEY_ROTATION_DAYS`), so a change made
here reaches all replicas without a restart; `retire` and `compromised` also publish a
kid revocation event through the token store, so every replica and subscribed SDK
verifier drops the key at once (docs/revocation.md). Every change is in the audit trail,
with the operator (`cli:` and the OS user) and `--reason`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkeep.cli.common import (
    IdCommand,
    JsonOption,
    ReasonOption,
    emit_json,
    fail,
    handled_errors,
    iso_time,
    load_cli_settings,
    operator,
    require_initialized,
    run_with_runtime,
)
from jwtkeep.core.keyring import KeyStatus, RingKey, signing_kid, signs_from
from jwtkeep.settings import Settings
from jwtkeep.usecases.key_withdrawal import key_compromised, retire_key

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime
    from jwtkeep.usecases.key_manager import KeyManager

__all__ = [
    "MAX_PEM_BYTES",
    "KidArgument",
    "app",
    "compromised",
    "import_key",
    "list_keys",
    "reseal",
    "retire",
    "rotate",
]

app = typer.Typer(help="List, rotate, retire, import, re-seal signing keys; answer a key leak.",
                  no_args_is_help=True)  # fmt: skip

KidArgument = Annotated[str, typer.Argument(help="The key id (`kid`), see `jwtkeep keys list`.")]
MAX_PEM_BYTES = 64 * 1024


def _settings(ctx: typer.Context) -> Settings:
    settings = load_cli_settings(ctx)
    require_initialized(settings)
    return settings


async def _new_key(keys: KeyManager, kid: str) -> dict[str, str]:
    """What `rotate` and `import` print about the key they added."""
    (key,) = [k for k in (await keys.ring()).keys if k.kid == kid]
    return {"kid": kid, "signs_from": iso_time(signs_from(key))}


def _state(key: RingKey, signer: str | None, now: float) -> str:
    """What the key does now: a not-yet-signing active key is `next`, a superseded one
    (the schedule has not marked it yet) already only verifies."""
    if key.status != KeyStatus.ACTIVE or key.kid == signer:
        return key.status.value
    return "next" if signs_from(key) > now else KeyStatus.RETIRING.value


def _row(key: RingKey, signer: str | None, now: float) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": _state(key, signer, now),
        "created_at": iso_time(key.created_at),
        "signs_from": iso_time(signs_from(key)),
    }


@app.command("list")
def list_keys(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every signing key, oldest first, with its status (never a private key).

    Status: active (signs now), next (published, signs from `signs_from`), retiring,
    retired, compromised. JSON: [{"kid", "alg", "status", "created_at", "signs_from"}].
    """

    async def action(runtime: Runtime) -> list[dict[str, Any]]:
        ring = await runtime.context.keys.reload()
        now = runtime.context.clock()
        signer = signing_kid(ring.keys, now)
        return [_row(key, signer, now) for key in ring.keys]

    with handled_errors():
        keys = run_with_runtime(_settings(ctx), action)
    if as_json:
        emit_json(keys)
        return
    typer.echo(f"{'KID':<16}  {'ALG':<6} {'STATUS':<11} {'CREATED':<25} SIGNS FROM")
    for key in keys:
        typer.echo(f"{key['kid']:<16}  {key['alg']:<6} {key['status']:<11} "
                   f"{key['created_at']:<25} {key['signs_from']}")  # fmt: skip


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Sign with the new key at once.")] = False,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish the next signing key; it signs once every JWKS cache has it.

    The next key enters the JWKS at once and starts signing after one JWKS cache
    lifetime plus one key reload (about 6 min), so no API meets an unknown `kid`; the
    current key then verifies until its tokens have expired and is retired by the
    schedule. If a next key is already published, that one is kept. `--now`: sign with
    it at once (a published next key is promoted; otherwise APIs fetch the JWKS on their
    first token with it). JSON: {"kid", "signs_from"}.
    """

    async def action(runtime: Runtime) -> dict[str, str]:
        keys = runtime.context.keys
        op = operator(reason)
        kid = await keys.rotate(at_once=now, actor=op.actor, reason=op.reason or "")
        return await _new_key(keys, kid)

    with handled_errors():
        result = run_with_runtime(_settings(ctx), action)
    if as_json:
        emit_json(result)
        return
    typer.echo(f"Next signing key: {result['kid']}, in the JWKS now, signs from "
               f"{result['signs_from']}.")  # fmt: skip
    typer.echo("The current key keeps verifying the tokens it signed and is retired "
               "automatically once they have expired.")  # fmt: skip


@app.command("retire", cls=IdCommand)
def retire(ctx: typer.Context, kid: KidArgument, reason: ReasonOption = None) -> None:
    """Stop verifying with KID now (the schedule retires keys by itself once their tokens
    have expired; this is for doing it earlier).

    Refused (exit 1) for the only key that signs (run `jwtkeep keys rotate --now` first)
    and for a compromised key (that status is final). The check and the change are one
    database transaction, so concurrent runs can never leave no signing key.
    """
    with handled_errors():
        done = run_with_runtime(
            _settings(ctx), lambda rt: retire_key(rt.context, kid, op=operator(reason))
        )
    typer.echo(f"Key {kid} retired: it no longer verifies and has left the JWKS. Tokens it "
               f"signed are refused ({done.tokens_killed} still live were revoked).")  # fmt: skip


@app.command("compromised", cls=IdCommand)
def compromised(
    ctx: typer.Context, kid: KidArgument, reason: ReasonOption = None, as_json: JsonOption = False
) -> None:
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
            _settings(ctx), lambda rt: key_compromised(rt.context, kid, op=operator(reason))
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


@app.command("import")
def import_key(
    ctx: typer.Context,
    pem_stdin: Annotated[
        bool, typer.Option("--pem-stdin", help="Read the PEM private key from standard input.")
    ] = False,
    activate: Annotated[
        bool, typer.Option("--activate", help="Sign with it at once instead of next.")
    ] = False,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring your own signing key (e.g. from a KMS): an unencrypted PEM private key.

    Its type must fit JWTKEEP_SIGNING_ALG: Ed25519 for EdDSA, P-256 for ES256, RSA of at
    least 2048 bits for RS256/PS256; anything else is refused (exit 1) and nothing is
    stored. It is sealed under the master key like a generated key and becomes the next
    key (published now, signs after one JWKS cache lifetime), or signs at once with
    `--activate`. The key is never printed or logged. JSON: {"kid", "signs_from"}.
    """
    if not pem_stdin:
        fail("pass the key on standard input with --pem-stdin (never as an argument)", 2)
    pem = typer.get_binary_stream("stdin").read(MAX_PEM_BYTES + 1)
    if len(pem) > MAX_PEM_BYTES:
        fail(f"the PEM on standard input is larger than {MAX_PEM_BYTES} bytes")

    async def action(runtime: Runtime) -> dict[str, str]:
        keys = runtime.context.keys
        op = operator(reason)
        kid = await keys.import_pem(pem, activate=activate, actor=op.actor,
                                    reason=op.reason or "")  # fmt: skip
        return await _new_key(keys, kid)

    with handled_errors():
        result = run_with_runtime(_settings(ctx), action)
    if as_json:
        emit_json(result)
        return
    typer.echo(f"Imported signing key {result['kid']}: in the JWKS now, signs from "
               f"{result['signs_from']}.")  # fmt: skip


@app.command("reseal")
def reseal(ctx: typer.Context, reason: ReasonOption = None, as_json: JsonOption = False) -> None:
    """Re-seal every private key under JWTKEEP_MASTER_KEY (the switch to a new master key).

    Keys sealed under JWTKEEP_PREVIOUS_MASTER_KEY are rewritten under the current master
    key, all in one transaction; servers keep running (they accept both keys while both
    are set). Afterwards, remove JWTKEEP_PREVIOUS_MASTER_KEY everywhere. Exit 2 if a key
    opens with neither master key (nothing is changed). Runbook: docs/operations.md,
    "Changing the master key". JSON: {"resealed": [kid, ...]}.
    """
    op = operator(reason)
    with handled_errors():
        kids = run_with_runtime(
            _settings(ctx),
            lambda rt: rt.context.keys.reseal(actor=op.actor, reason=op.reason or ""),
        )
    if as_json:
        emit_json({"resealed": kids})
        return
    if not kids:
        typer.echo("Every key is already sealed under the current master key.")
        return
    typer.echo(f"Re-sealed {len(kids)} key(s) under the current master key. Now remove "
               "JWTKEEP_PREVIOUS_MASTER_KEY from every replica.")  # fmt: skip
