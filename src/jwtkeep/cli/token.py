"""`jwtkeep token inspect TOKEN|-`: decode any JWT WITHOUT checking it and list its pitfalls.

Backed by `jwtkeep.core.inspector`, the one "decode without checking" path of jwtkeep.
Nothing is sent anywhere and the signature is NOT verified.

Exit status, so it can gate CI: 0 when no pitfall reaches `--fail-on` (default `high`),
1 when one does, 2 when the input is not a JWT (or the options are wrong).
"""

from __future__ import annotations

import enum
import json
import sys
import time
from typing import Annotated

import typer

from jwtkeep.cli.common import EXIT_USAGE, JsonOption, emit_json, fail, iso_time
from jwtkeep.core.inspector import Report, Severity, inspect_token

__all__ = ["EXIT_PITFALL", "FROM_STDIN", "MAX_STDIN_CHARS", "FailOn", "app", "exit_code", "inspect"]

app = typer.Typer(help="Look inside tokens.", no_args_is_help=True)

MAX_STDIN_CHARS = 256 * 1024
FROM_STDIN = "-"
EXIT_PITFALL = 1


class FailOn(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEVER = "never"


_ORDER = [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def exit_code(report: Report, fail_on: FailOn) -> int:
    """2 not a JWT; 1 a pitfall at or above `fail_on`; 0 otherwise."""
    if not report.is_jwt:
        return EXIT_USAGE
    worst = report.worst()
    if fail_on is FailOn.NEVER or worst is None or worst is Severity.INFO:
        return 0
    return EXIT_PITFALL if _ORDER.index(worst) <= _ORDER.index(Severity(fail_on.value)) else 0


@app.command("inspect")
def inspect(
    token: Annotated[str, typer.Argument(help="The token, or - to read it from standard input.")],
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin",
            help="Read an HS* secret (raw key bytes) from stdin; check length and randomness.",
        ),
    ] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a pitfall this severe is found.")
    ] = FailOn.HIGH,
    as_json: JsonOption = False,
) -> None:
    """Decode a JWT's header and payload (signature NOT checked) and point out pitfalls:
    alg none or HMAC, no exp, long life, missing iss/aud/jti/iat/nbf, a sub that is not a
    UUID, personal data, jku/x5u/jwk/crit headers, expired or not yet valid.

    Prefer `-` (stdin) over an argument: arguments show in `ps` and shell history.
    Exit 0: nothing at --fail-on or above; 1: a pitfall that severe; 2: not a JWT.
    """
    stdin = sys.stdin.buffer
    from_stdin = token == FROM_STDIN
    if from_stdin and secret_stdin:
        fail("the token and the secret cannot both come from stdin", EXIT_USAGE)
    if from_stdin:
        token = stdin.read(MAX_STDIN_CHARS + 1).decode("utf-8", "replace")
    secret = _secret(stdin.read(MAX_STDIN_CHARS)) if secret_stdin else None
    report = inspect_token(token, time.time(), hmac_secret=secret)
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(_human(report))
    raise typer.Exit(exit_code(report, fail_on))


def _secret(raw: bytes) -> bytes:
    """The secret without ONE trailing newline (as `user create --password-stdin`)."""
    for ending in (b"\r\n", b"\n"):
        if raw.endswith(ending):
            return raw[: -len(ending)]
    return raw


def _human(report: Report) -> str:
    if not report.is_jwt:
        return f"Not a JWT: {report.error}"
    lines = ["Header:", _pretty(report.header), "Payload:", _pretty(report.payload)]
    lines += _times(report)
    lines.append("Signature: NOT checked (this is an inspector, not a verifier).")
    if not report.pitfalls:
        lines.append("Pitfalls: none found.")
    else:
        lines.append(f"Pitfalls ({len(report.pitfalls)}):")
        for pitfall in report.pitfalls:
            lines.append(f"  {pitfall.severity.value.upper():<6}  {pitfall.code}: "
                         f"{pitfall.message} [{pitfall.reference}]")  # fmt: skip
    return "\n".join(lines)


def _pretty(value: object) -> str:
    # ensure_ascii: a hostile payload cannot put terminal escape sequences on screen.
    return json.dumps(value, indent=2, ensure_ascii=True)


def _times(report: Report) -> list[str]:
    payload = report.payload or {}
    lines = []
    for name, label in (("iat", "issued at"), ("nbf", "not before"), ("exp", "expires at")):
        value = payload.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 2**53:
            try:
                lines.append(f"  {label:<11} {iso_time(value)}")
            except (OverflowError, OSError, ValueError):
                lines.append(f"  {label:<11} {value} (out of range)")
    return ["Times (UTC):", *lines] if lines else []
