"""`jwtkeep sessions list USER | revoke SID | revoke-all USER | revoke-everything --reason R`.

A session is one login: one refresh-token family and the access tokens it issued (RFC 9700
§4.14.2). Ending it removes all of them from the token store at once, so they stop working
on the next request, on every replica (DESIGN "Contract: the token store"). USER is a
username or a user id (UUID). `revoke-everything` ends every session and access token of
every user (a stolen database, an unknown breach): at once, then a sweep with a progress
bar on a terminal, and the count at the end (`usecases.sessions.revoke_everything`).

`revoke` and `revoke-all` are the use cases behind the account API's
`DELETE /auth/sessions/{sid}` and `POST /auth/logout-all` (`usecases.sessions`): the
same store calls, the same revocation events, the same audit event (`session.ended`,
`logout_all`), whose `actor` is the operator (`cli.common.operator`) and `reason` theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    resolve_user,
    run_with_runtime,
)
from jwtkeep.ports import Session
from jwtkeep.settings import Settings

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = [
    "UserArgument",
    "app",
    "list_user_sessions",
    "revoke",
    "revoke_all",
    "revoke_everything",
    "session_summary",
]

app = typer.Typer(help="List and end login sessions.", no_args_is_help=True)

UserArgument = Annotated[
    str, typer.Argument(metavar="USER", help="A username or a user id (UUID).")
]


def _settings(ctx: typer.Context) -> Settings:
    settings = load_cli_settings(ctx)
    require_initialized(settings)
    return settings


@app.command("list", cls=IdCommand)
def list_user_sessions(
    ctx: typer.Context,
    user: UserArgument,
    as_json: JsonOption = False,
) -> None:
    """List a user's live sessions, newest first (no token material)."""

    from jwtkeep.usecases.sessions import list_sessions  # noqa: PLC0415

    async def action(runtime: Runtime) -> list[Session]:
        return await list_sessions(runtime.context, (await resolve_user(runtime, user)).id)

    with handled_errors():
        sessions = run_with_runtime(_settings(ctx), action)
    summaries = [session_summary(one) for one in sessions]
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        typer.echo(f"{user} has no live sessions.")
        return
    rows = [(one["sid"], one["client_id"], one["created_at"], one["last_used_at"],
             one["expires_at"], one["ip"] or "-") for one in summaries]  # fmt: skip
    print_table(("SID", "CLIENT_ID", "STARTED", "LAST_USED", "ENDS", "IP"), rows)


@app.command("revoke", cls=IdCommand)
def revoke(
    ctx: typer.Context,
    sid: Annotated[str, typer.Argument(metavar="SID", help="The session id (`sid`).")],
    reason: ReasonOption = None,
) -> None:
    """End one session: its refresh tokens and access tokens stop working at once."""
    from jwtkeep.usecases.sessions import end_one_session  # noqa: PLC0415

    with handled_errors():
        run_with_runtime(_settings(ctx), lambda rt: end_one_session(
            rt.context, sid, owner=None, op=operator(reason)))  # fmt: skip
    typer.echo(f"Session {sid} ended: its tokens are refused from now on.")


@app.command("revoke-all", cls=IdCommand)
def revoke_all(ctx: typer.Context, user: UserArgument, reason: ReasonOption = None) -> None:
    """End every session of USER (log them out everywhere), and their sign-ins at the
    issuer (the browser's login sessions)."""
    from jwtkeep.usecases.sessions import logout_all  # noqa: PLC0415

    async def action(runtime: Runtime) -> list[str]:
        found = await resolve_user(runtime, user)
        return await logout_all(runtime.context, found.id, logins=runtime.sign_in.logins,
                                op=operator(reason))  # fmt: skip

    with handled_errors():
        ended = run_with_runtime(_settings(ctx), action)
    typer.echo(f"Ended {len(ended)} session(s) of {user}: their tokens are refused from now on.")


@app.command("revoke-everything")
def revoke_everything(
    ctx: typer.Context,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (required; audited).")
    ],
    as_json: JsonOption = False,
) -> None:
    """End EVERY session, access token and browser sign-in of every user and app, at
    once (a stolen database, an unknown breach). Everyone must log in again.

    Example: jwtkeep sessions revoke-everything --reason "database backup leaked"
    """
    from jwtkeep.usecases.sessions import revoke_everything as everyone  # noqa: PLC0415

    async def action(runtime: Runtime) -> int:
        with progress_bar("Sweeping the token store") as progress:
            return await everyone(runtime.context, operator(reason), progress,
                                  logins=runtime.sign_in.logins)  # fmt: skip

    with handled_errors():
        ended = run_with_runtime(_settings(ctx), action)
    if as_json:
        emit_json({"sessions_ended": ended})
        return
    typer.echo(f"Every session and token ended ({ended} live session(s)): everyone must log "
               "in again.")  # fmt: skip


def session_summary(one: Session) -> dict[str, Any]:
    return {
        "sid": one.sid, "user_id": one.user_id, "client_id": one.client_id,
        "scope": one.scope, "created_at": iso_time(one.created_at),
        "last_used_at": iso_time(one.last_used_at), "expires_at": iso_time(one.expires_at()),
        "user_agent": one.user_agent, "ip": one.ip,
    }  # fmt: skip
