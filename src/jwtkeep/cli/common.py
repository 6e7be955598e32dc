"""What every `jwtkeep` command shares: settings, errors, the runtime, output.

The CLI is an edge (CONVENTIONS "Shape"): it reads settings once, builds the same
`Runtime` the server builds, calls a use case and prints the result. It decides nothing.

Exit codes (docs/cli.md): 0 success; 1 a jwtkeep error (not found, conflict, bad input);
2 bad usage or configuration; 3 the database or token store cannot be reached; 4 `serve`:
the port is in use.
Every error is one line on standard error, never a traceback, and never holds a secret.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

from jwtkeep.cli.output import (
    EXIT_ERROR,
    EXIT_PORT_IN_USE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    emit_json,
    iso_time,
)
from jwtkeep.core.hosts import is_loopback
from jwtkeep.errors import (
    ConfigurationError,
    JwtkeepError,
    NoSigningKey,
    StoreUnavailable,
)
from jwtkeep.logs import configure_logging, warn_unknown_variables
from jwtkeep.ports import User
from jwtkeep.settings import Settings, load_settings, unknown_variables

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime
    from jwtkeep.usecases.context import Operator

__all__ = [
    "EXIT_ERROR",
    "EXIT_PORT_IN_USE",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CliState",
    "IdCommand",
    "JsonOption",
    "ReasonOption",
    "emit_json",
    "error_line",
    "exit_code",
    "fail",
    "handled_errors",
    "is_loopback",
    "iso_time",
    "load_cli_settings",
    "operator",
    "print_table",
    "progress_bar",
    "require_initialized",
    "resolve_user",
    "run_with_runtime",
    "sqlite_file",
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON value.")]
T = TypeVar("T")


@dataclass(frozen=True)
class CliState:
    """What the root command hands down: only the config file path (settings are read
    lazily inside each command, so a bad setting is reported like any other error)."""

    config_file: Path | None = None


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one line on standard error and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def handled_errors() -> Iterator[None]:
    """Turn jwtkeep errors into one clear line and an exit code; never a traceback.

    One handler for the whole tree (`jwtkeep.errors`, the core's errors included): the
    line is the error's own message, the exit code says which kind of trouble."""
    try:
        yield
    except JwtkeepError as exc:
        fail(error_line(exc), exit_code(exc))


def exit_code(exc: JwtkeepError) -> int:
    """docs/cli.md: 2 bad settings, 3 the store cannot be reached, 1 anything else."""
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, StoreUnavailable):
        return EXIT_UNAVAILABLE
    return EXIT_ERROR


def error_line(exc: JwtkeepError) -> str:
    """The one line an error prints (messages never hold a secret: `jwtkeep.errors`)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, StoreUnavailable) and not isinstance(exc, NoSigningKey):
        # NoSigningKey's message already names the fix; an outage gets the likely cause.
        return f"{message}; is the database / token store running and reachable?"
    return message


def load_cli_settings(ctx: typer.Context, **overrides: Any) -> Settings:
    """The settings, once per command; logging is configured from them here, at the edge
    (JWTKEEP_LOG_LEVEL / JWTKEEP_LOG_FORMAT), and unknown JWTKEEP_* variables are named."""
    state = ctx.find_object(CliState) or CliState()
    settings = load_settings(state.config_file, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    warn_unknown_variables(unknown_variables(os.environ))
    return settings


def sqlite_file(database_url: str) -> Path | None:
    """The file behind a `sqlite:///path` URL (None for PostgreSQL or in-memory)."""
    scheme, _, rest = database_url.partition("://")
    if scheme.partition("+")[0].lower() != "sqlite" or not rest.startswith("/"):
        return None
    path = rest[1:].partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def require_initialized(settings: Settings) -> None:
    """Refuse to work on a data folder `jwtkeep init` has not prepared."""
    from jwtkeep.runtime import MASTER_KEY_FILE  # noqa: PLC0415 (keeps `--help` fast)

    hint = "run `jwtkeep init` first"
    if settings.master_key is None and not (settings.data_dir / MASTER_KEY_FILE).is_file():
        raise ConfigurationError(f"no master key in {settings.data_dir}: {hint}")
    database = sqlite_file(settings.effective_database_url)
    if database is not None and not database.is_file():
        raise ConfigurationError(f"no database at {database}: {hint}")


def run_with_runtime(
    settings: Settings, action: Callable[[Runtime], Awaitable[T]], *, migrate: bool = False
) -> T:
    """Open the runtime (the same wiring the server uses), run `action`, close it."""
    from jwtkeep.runtime import open_runtime  # noqa: PLC0415 (keeps `--help` fast)

    async def body() -> T:
        async with open_runtime(settings, migrate=migrate) as runtime:
            return await action(runtime)

    return asyncio.run(body())


async def resolve_user(runtime: Runtime, who: str) -> User:
    """A user by UUID or by username (`usecases.users.find_user`)."""
    from jwtkeep.usecases.users import find_user  # noqa: PLC0415 (keeps `--help` fast)

    return await find_user(runtime.context, who)


class IdCommand(TyperCommand):
    """A command whose argument is an id or a name (`@app.command(..., cls=IdCommand)`).

    Session, client and key ids are base64url, so one in 64 starts with `-`; user and
    app names may start with `-` too. Click reads such a word as a cluster of short
    options: `-Xh9...` holds `h`, so it showed the help and exited 0, and `sessions
    revoke` ended nothing while it looked done. Here only the command's own option names
    (exactly, or `--name=value`) are options; every other word is an argument, in order,
    also one that starts with `-` (docs/cli.md). A `--` still ends the options."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's own Context
        return super().parse_args(ctx, _arguments_after_options(args, self.get_params(ctx)))


def _arguments_after_options(args: list[str], params: Iterable[Any]) -> list[str]:
    """`args` with the options first and every other word after a `--`. (`params` are
    click's, vendored inside Typer: read by their attributes.)"""
    names: set[str] = set()
    valued: set[str] = set()
    for param in params:
        if param.param_type_name == "option":
            names.update(param.opts, param.secondary_opts)
            if not param.is_flag and not param.count:
                valued.update(param.opts)
    options: list[str] = []
    arguments: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--":
            arguments.extend(words)
        elif word in valued:
            options.append(word)
            options.extend(itertools.islice(words, 1))  # its value, whatever it looks like
        elif word in names or (word.startswith("--") and word.split("=", 1)[0] in valued):
            options.append(word)
        else:
            arguments.append(word)
    return [*options, "--", *arguments] if arguments else options


ReasonOption = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="Why: goes to the audit trail."),
]


def operator(reason: str | None) -> Operator:
    """Who acts: `cli:<os user>` (the audit trail's actor), and why."""
    from jwtkeep.usecases.context import Operator  # noqa: PLC0415 (keeps `--help` fast)

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        who = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return Operator(actor=f"cli:{who}", reason=reason.strip() if reason else None)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Columns with a header line, padded to the widest cell (the last column is not)."""
    lines = [[str(cell) for cell in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        typer.echo("  ".join([*cells, line[-1]]).rstrip())


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on standard error when it is a terminal (None
    otherwise: scripts get only the final count)."""
    if not sys.stderr.isatty():
        yield None
        return
    with typer.progressbar(length=1, label=label, file=sys.stderr) as bar:
        shown = 0

        def report(done: int, total: int) -> None:
            nonlocal shown
            bar.length = max(total, done, 1)
            bar.update(done - shown)
            shown = done

        yield report
