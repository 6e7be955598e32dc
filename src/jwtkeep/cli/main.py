"""The `jwtkeep` command (DESIGN.md "Contract: command line"), with the server extra.

    jwtkeep [--config FILE] init | serve | app ... | user ... | keys ... | sessions ...
                            | audit | token inspect

Settings come from `JWTKEEP_*` environment variables and, with `--config FILE`, a TOML
file (environment wins). See docs/cli.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jwtkeep.cli import apps, audit, key_commands, serve, sessions, setup, token, users
from jwtkeep.cli.common import CliState
from jwtkeep.cli.output import version_line

__all__ = ["app", "inspect_token", "root"]

app = typer.Typer(
    name="jwtkeep",
    help=(
        "jwtkeep: a JWT authentication server where a signed token is necessary but not "
        "sufficient: every token must also be on the allowlist."
    ),
    no_args_is_help=True,
    add_completion=False,
    # No rich tracebacks: locals could hold a secret, and errors are handled one level up.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML settings file (keys as in JWTKEEP_*, lower case, without the prefix).",
            dir_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """jwtkeep: JWT authentication where a signed token must also be on the allowlist."""
    ctx.obj = CliState(config_file=config)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


app.command("init")(setup.init)
app.command("serve")(serve.serve)
app.command("audit")(audit.audit)
app.add_typer(apps.app, name="app")
app.add_typer(users.app, name="user")
app.add_typer(key_commands.app, name="keys")
app.add_typer(sessions.app, name="sessions")

_token_app = typer.Typer(help="Look inside tokens.", no_args_is_help=True)
app.add_typer(_token_app, name="token")


@_token_app.command(
    "inspect",
    help=token.SUMMARY + " See `jwtkeep token inspect --help`.",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def inspect_token(ctx: typer.Context) -> None:
    """`token inspect` is written once, with argparse, so that it also runs on the base
    install (`jwtkeep.cli.entry`); here its arguments are handed over as they came."""
    raise typer.Exit(token.run(list(ctx.args)))
