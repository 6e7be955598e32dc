"""`jwtkeep token inspect TOKEN|-`: decode any JWT WITHOUT checking it and list its pitfalls.

Backed by `jwtkeep.core.inspector`, the one "decode without checking" path of jwtkeep.
Nothing is sent anywhere and the signature is NOT verified.

Exit status, so it can gate CI: 0 when no pitfall reaches `--fail-on` (default `high`),
1 when one does, 2 when the input is not a JWT (or the options are wrong).

The one command of the base install (`pip install jwtkeep`, no `[server]` extra): it is
written with `argparse`, since Typer would add rich, Pygments and click to every API that
only verifies tokens; the full CLI forwards `token inspect` here (`jwtkeep.cli.main`).
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import time

from jwtkeep.cli.output import EXIT_USAGE, emit_json, iso_time
from jwtkeep.core.inspector import Report, Severity, inspect_token

__all__ = [
    "DESCRIPTION",
    "EXIT_PITFALL",
    "FROM_STDIN",
    "MAX_STDIN_CHARS",
    "SUMMARY",
    "FailOn",
    "exit_code",
    "run",
]

MAX_STDIN_CHARS = 256 * 1024
FROM_STDIN = "-"
EXIT_PITFALL = 1
SUMMARY = "Decode a JWT (signature NOT checked) and point out its pitfalls."
DESCRIPTION = """\
Decode a JWT's header and payload (signature NOT checked) and point out pitfalls: alg none
or HMAC, no exp, long life, missing iss/aud/jti/iat/nbf, a sub that is not a UUID, personal
data, jku/x5u/jwk/crit headers, expired or not yet valid.

Prefer - (stdin) over an argument: arguments show in `ps` and shell history.
Exit 0: nothing at --fail-on or above; 1: a pitfall that severe; 2: not a JWT."""


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jwtkeep token inspect",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("token", help="The token, or - to read it from standard input.")
    parser.add_argument(
        "--secret-stdin",
        action="store_true",
        help="Read an HS* secret (raw key bytes) from stdin; check length and randomness.",
    )
    parser.add_argument(
        "--fail-on",
        type=FailOn,
        choices=list(FailOn),
        default=FailOn.HIGH,
        help="Exit 1 when a pitfall this severe is found (default: high).",
    )
    parser.add_argument("--json", action="store_true", help="Print exactly one JSON value.")
    return parser


def run(argv: list[str]) -> int:
    """`jwtkeep token inspect ARGV...`; the exit status. Bad options exit 2 (argparse)."""
    options = _parser().parse_args(argv)
    token: str = options.token
    stdin = sys.stdin.buffer
    from_stdin = token == FROM_STDIN
    if from_stdin and options.secret_stdin:
        sys.stderr.write("error: the token and the secret cannot both come from stdin\n")
        return EXIT_USAGE
    if from_stdin:
        token = stdin.read(MAX_STDIN_CHARS + 1).decode("utf-8", "replace")
    secret = _secret(stdin.read(MAX_STDIN_CHARS)) if options.secret_stdin else None
    report = inspect_token(token, time.time(), hmac_secret=secret)
    if options.json:
        emit_json(report.to_dict())
    else:
        sys.stdout.write(_human(report) + "\n")
    return exit_code(report, options.fail_on)


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
