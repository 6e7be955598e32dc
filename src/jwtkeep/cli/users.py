"""`jwtkeep user create USERNAME --password-stdin`.

The password is read from standard input only, never from an argument (arguments show in
`ps` and in shell history). Exactly one trailing newline (`\\n` or `\\r\\n`) is dropped,
so `echo secret | jwtkeep user create ...` and a file ending in a newline both work, and
every other character, trailing spaces included, is part of the password.
On a terminal it is asked for twice, without echo.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from jwtkeep.cli.common import (
    EXIT_USAGE,
    JsonOption,
    emit_json,
    fail,
    handled_errors,
    load_cli_settings,
    require_initialized,
    run_with_runtime,
)
from jwtkeep.errors import InvalidRequest

__all__ = ["MAX_STDIN_BYTES", "app", "create", "password_from_stdin"]

app = typer.Typer(help="Create users.", no_args_is_help=True)

# Enough for any acceptable password (core.passwords bounds it); refuse more unread.
MAX_STDIN_BYTES = 4096
_NO_ARGUMENT_PASSWORDS = (
    "give the password on standard input with --password-stdin "
    "(never as an argument: it would show in `ps` and shell history)"
)


@app.command("create")
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
        user = run_with_runtime(settings, lambda rt: create_user(rt.context, username, password))
    if as_json:
        emit_json({"id": user.id})
    else:
        typer.echo(user.id)


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
