"""What every `jwtkeep` command shows its caller: exit codes, JSON, times, the version.

Standard library only: `jwtkeep token inspect` runs on the base install (no Typer), and
shares these with the server commands.

Exit codes (docs/cli.md): 0 success; 1 a jwtkeep error (not found, conflict, bad input);
2 bad usage or configuration; 3 the database or token store cannot be reached; 4 `serve`:
the port is in use.
"""

from __future__ import annotations

import datetime
import json
import sys
from importlib import metadata

__all__ = [
    "EXIT_ERROR",
    "EXIT_PORT_IN_USE",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "emit_json",
    "iso_time",
    "version_line",
]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_PORT_IN_USE = 4


def emit_json(value: object) -> None:
    """Exactly one JSON value on standard output (DESIGN "Contract: command line")."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=True) + "\n")


def iso_time(unix: float) -> str:
    """A Unix time as ISO 8601 in UTC, to the second: `2030-01-01T00:00:00Z`."""
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def version_line() -> str:
    """What `jwtkeep --version` prints (base install and server alike)."""
    try:
        installed = metadata.version("jwtkeep")
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        installed = "unknown"
    return f"jwtkeep {installed}"
