"""`jwtkeep user create | list | show | disable | enable | delete | set-password`.

USER is a username or a user id (UUID). Disable, delete and set-password end every
session and access token of the user at once and take `--reason` for the audit trail
(`usecases.users`).

The password is read from standard input only, never from an argument (arguments show in
`ps` and in shell history). Exactly one trailing newline (`\\n` or `\\r\\n`) is dropped,
so `echo secret | jwtkeep user create ...` and a file ending in a newline both work, and
every other character, trailing spaces included, is part of the password.
On a terminal it is asked for twice, without echo.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from jwtkeep.cli.common import (
    EXIT_USAGE,
    IdCommand,
    JsonOption,
    ReasonOption,
    emit_json,
    fail,
    handled_errors,
    iso_time,
    load_cli_settings,
    operator,
    print_table,
    require_initialized,
    resolve_user,
    run_with_runtime,
)
from jwtkeep.errors import InvalidRequest
from jwtkeep.ports import User

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = [
    "MAX_STDIN_BYTES",
    "app",
    "create",
    "delete",
    "disable",
    "enable",
    "list_users",
    "password_from_stdin",
    "set_password",
    "show",
    "user_summary",
]

app = typer.Typer(help="Create, list, block and delete users.", no_args_is_help=True)
T = TypeVar("T")
_UserArgument = Annotated[str, typer.Argument(metavar="USER", help="A username or user id.")]

# Enough for any acceptable password (core.passwords bounds it); refuse more unread.
MAX_STDIN_BYTES = 4096
_NO_ARGUMENT_PASSWORDS = (
    "give the password on standard input with --password-stdin "
    "(never as an argument: it would show in `ps` and shell history)"
)


@app.command("create", cls=IdCommand)
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Letters, digits, -_.@+ (1-128).")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a user; print the user's id (a random UUID, the `sub` of its tokens).

    Example: printf '%s' "$PASSWORD" | jwtkeep user create alice --password-stdin
    """
    from jwtkeep.usecases.registration import create_user  # noqa: PLC0415

    if not password_stdin:
        fail(_NO_ARGUMENT_PASSWORDS, EXIT_USAGE)
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        password = _read_password()
        user = run_with_runtime(
            settings, lambda rt: create_user(rt.context, username, password, operator(None))
        )
    if as_json:
        emit_json({"id": user.id})
    else:
        typer.echo(user.id)


def _run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        return run_with_runtime(settings, action)


@app.command("list")
def list_users(
    ctx: typer.Context,
    after: Annotated[
        str, typer.Option("--after", metavar="USERNAME", help="The page after this username.")
    ] = "",
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=1000, help="Users per page.")
    ] = 100,
    as_json: JsonOption = False,
) -> None:
    """List users by username, a page at a time (never their password hashes).

    The next page: --after LAST_USERNAME_SHOWN.
    """
    from jwtkeep.usecases.users import list_users as page  # noqa: PLC0415

    users = _run(ctx, lambda rt: page(rt.context, after=after, limit=limit))
    summaries = [user_summary(one) for one in users]
    if as_json:
        emit_json(summaries)
        return
    if not summaries and not after:
        typer.echo("No users yet: `jwtkeep user create USERNAME --password-stdin`.")
        return
    rows = [(one["username"], one["id"], "disabled" if one["disabled"] else "active",
             one["created_at"]) for one in summaries]  # fmt: skip
    print_table(("USERNAME", "ID", "STATUS", "CREATED"), rows)
    if len(users) == limit:
        typer.echo(f"More: jwtkeep user list --after {users[-1].username}", err=True)


@app.command("show", cls=IdCommand)
def show(ctx: typer.Context, user: _UserArgument, as_json: JsonOption = False) -> None:
    """Show one user and how many live sessions it has."""
    from jwtkeep.usecases.sessions import list_sessions  # noqa: PLC0415

    async def action(runtime: Runtime) -> tuple[User, int]:
        found = await resolve_user(runtime, user)
        return found, len(await list_sessions(runtime.context, found.id))

    found, live = _run(ctx, action)
    summary = {**user_summary(found), "live_sessions": live}
    if as_json:
        emit_json(summary)
        return
    for key, value in summary.items():
        typer.echo(f"{key + ':':<21}{value}")


@app.command("disable", cls=IdCommand)
def disable(ctx: typer.Context, user: _UserArgument, reason: ReasonOption = None) -> None:
    """Block a user: every login is refused (as a wrong password would be) and every
    session and token ends at once."""
    from jwtkeep.usecases.users import disable_user  # noqa: PLC0415

    async def action(runtime: Runtime) -> list[str]:
        return await disable_user(runtime.context, await resolve_user(runtime, user),
                                  operator(reason), logins=runtime.sign_in.logins)  # fmt: skip

    ended = _run(ctx, action)
    typer.echo(f"User {user} disabled; {len(ended)} session(s) ended.")


@app.command("enable", cls=IdCommand)
def enable(ctx: typer.Context, user: _UserArgument, reason: ReasonOption = None) -> None:
    """Let a disabled user log in again (its old sessions stay ended)."""
    from jwtkeep.usecases.users import enable_user  # noqa: PLC0415

    async def action(runtime: Runtime) -> None:
        await enable_user(runtime.context, await resolve_user(runtime, user), operator(reason))

    _run(ctx, action)
    typer.echo(f"User {user} enabled.")


@app.command("delete", cls=IdCommand)
def delete(ctx: typer.Context, user: _UserArgument, reason: ReasonOption = None) -> None:
    """Delete a user; every session and token ends at once. Its audit events stay."""
    from jwtkeep.usecases.users import delete_user  # noqa: PLC0415

    async def action(runtime: Runtime) -> list[str]:
        return await delete_user(runtime.context, await resolve_user(runtime, user),
                                 operator(reason), logins=runtime.sign_in.logins)  # fmt: skip

    ended = _run(ctx, action)
    typer.echo(f"User {user} deleted; {len(ended)} session(s) ended.")


@app.command("set-password", cls=IdCommand)
def set_password(
    ctx: typer.Context,
    user: _UserArgument,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    reason: ReasonOption = None,
) -> None:
    """Set a new password (a reset); every session and token of the user ends.

    Example: printf '%s' "$PASSWORD" | jwtkeep user set-password alice --password-stdin
    """
    from jwtkeep.usecases.users import reset_password  # noqa: PLC0415

    if not password_stdin:
        fail(_NO_ARGUMENT_PASSWORDS, EXIT_USAGE)

    async def action(runtime: Runtime) -> list[str]:
        found = await resolve_user(runtime, user)
        return await reset_password(runtime.context, found, password, operator(reason),
                                    logins=runtime.sign_in.logins)  # fmt: skip

    with handled_errors():
        password = _read_password()
    ended = _run(ctx, action)
    typer.echo(f"Password of {user} set; {len(ended)} session(s) ended.")


def user_summary(one: User) -> dict[str, Any]:
    """What may be shown about a user: never the password hash."""
    return {
        "id": one.id, "username": one.username, "disabled": one.disabled,
        "created_at": iso_time(one.created_at),
        "password_changed_at": iso_time(one.password_changed_at),
    }  # fmt: skip


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != first:
            raise InvalidRequest("the passwords do not match")
        return first
    return password_from_stdin(sys.stdin.buffer.read(MAX_STDIN_BYTES + 1))


def password_from_stdin(raw: bytes) -> str:
    """The password in `raw` (UTF-8) without ONE trailing `\\n` or `\\r\\n`."""
    if len(raw) > MAX_STDIN_BYTES:
        raise InvalidRequest(f"standard input is longer than {MAX_STDIN_BYTES} bytes")
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise InvalidRequest("the password on standard input is not UTF-8") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise InvalidRequest("no password on standard input")
    return text
