"""The `jwtkeep` console script (`jwtkeep = "jwtkeep.cli.entry:main"`).

`pip install jwtkeep` is the SDK, the core and `jwtkeep token inspect`; the server and
every other command come with `pip install 'jwtkeep[server]'` (Typer, FastAPI,
SQLAlchemy, ...). So this entry point imports nothing beyond the standard library before
it knows the command: `token inspect` and `--version` run straight away, anything else
loads the full Typer CLI (`jwtkeep.cli.main`), or says in one line which extra to install
(exit 2).
"""

from __future__ import annotations

import sys

from jwtkeep.cli import token
from jwtkeep.cli.output import EXIT_USAGE, version_line

__all__ = ["SERVER_EXTRA", "main"]

SERVER_EXTRA = "pip install 'jwtkeep[server]'"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["token", "inspect"]:
        sys.exit(token.run(args[2:]))
    if args == ["--version"]:
        sys.stdout.write(version_line() + "\n")
        sys.exit(0)
    try:
        from jwtkeep.cli.main import app  # noqa: PLC0415 (needs the server extra)
    except ModuleNotFoundError as exc:
        if (exc.name or "jwtkeep").partition(".")[0] == "jwtkeep":
            raise  # a bug in jwtkeep itself, not a missing extra
        command = " ".join(["jwtkeep", *args[:1]])
        sys.stderr.write(
            f"error: `{command}` needs the server, not installed ({exc.name} is missing): "
            f"{SERVER_EXTRA} (the base install has only `jwtkeep token inspect`)\n"
        )
        sys.exit(EXIT_USAGE)
    app(prog_name="jwtkeep")
