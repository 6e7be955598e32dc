"""`jwtkeep sessions list USER | revoke SID | revoke-all USER`.

A session is one login: one refresh-token family and the access tokens it issued (RFC 9700
§4.14.2). Ending it removes all of them from the token store at once, so they stop working
on the next request, on every replica (DESIGN "Contract: the token store"). USER is a
username or a user id (UUID).
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
    resolve_user,
    run_with_runtime,
)
from jwtkeep.errors import NotFound
from jwtkeep.ports import Session
from jwtkeep.settings import Settings

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = ["UserArgument", "app", "list_user_sessions", "revoke", "revoke_all", "session_summary"]

app = typer.Typer(help="List and end login sessions.", no_args_is_help=True)

UserArgument = Annotated[str, typer.Argument(help="A username or a user id (UUID).")]
_CLI = "cli"  # the audit trail names who acted


def _settings(ctx: typer.Context) -> Settings:
    settings = load_cli_settings(ctx)
    require_initialized(settings)
    return settings


@app.command("list")
def list_user_sessions(
    ctx: typer.Context,
    user: UserArgument,
    as_json: JsonOption = False,
) -> None:
    """List a user's live sessions, newest first (no token material)."""

    async def action(runtime: Runtime) -> list[Session]:
        found = await resolve_user(runtime, user)
        return await runtime.context.store.list_sessions(found.id, runtime.context.clock())

    with handled_errors():
        sessions = run_with_runtime(_settings(ctx), action)
    summaries = [session_summary(one) for one in sessions]
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        typer.echo(f"{user} has no live sessions.")
    for one in summaries:
        typer.echo(f"{one['sid']}  client={one['client_id']}  since {one['created_at']}  "
                   f"last used {one['last_used_at']}  ends {one['expires_at']}  "
                   f"ip={one['ip'] or '-'}")  # fmt: skip


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    sid: Annotated[str, typer.Argument(help="The session id (`sid`).")],
) -> None:
    """End one session: its refresh tokens and access tokens stop working at once."""

    async def action(runtime: Runtime) -> None:
        context = runtime.context
        session = await context.store.get_session(sid, context.clock())
        if session is None:
            raise NotFound(f"no live session {sid!r}")
        await context.store.end_session(session.user_id, sid)
        await context.record("session.revoked", user_id=session.user_id, sid=sid, by=_CLI)

    with handled_errors():
        run_with_runtime(_settings(ctx), action)
    typer.echo(f"Session {sid} ended: its tokens are refused from now on.")


@app.command("revoke-all")
def revoke_all(ctx: typer.Context, user: UserArgument) -> None:
    """End every session of USER (log them out everywhere)."""

    async def action(runtime: Runtime) -> list[str]:
        found = await resolve_user(runtime, user)
        ended = await runtime.context.store.end_user_sessions(found.id)
        await runtime.context.record("sessions.revoked_all", user_id=found.id,
                                     sessions=len(ended), by=_CLI)  # fmt: skip
        return ended

    with handled_errors():
        ended = run_with_runtime(_settings(ctx), action)
    typer.echo(f"Ended {len(ended)} session(s) of {user}: their tokens are refused from now on.")


def session_summary(one: Session) -> dict[str, Any]:
    return {
        "sid": one.sid, "user_id": one.user_id, "client_id": one.client_id,
        "scope": one.scope, "created_at": iso_time(one.created_at),
        "last_used_at": iso_time(one.last_used_at), "expires_at": iso_time(one.expires_at()),
        "user_agent": one.user_agent, "ip": one.ip,
    }  # fmt: skip
