"""`jwtkeep audit [--user U] [--jti J] [--since T]`: which token did what.

The audit trail holds ids and reasons only (user id, client id, session id, `jti`, IP),
never a token (the article: "monitor which token is used to do which type of task").
"""

from __future__ import annotations

import datetime
import re
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkeep.cli.common import (
    EXIT_USAGE,
    JsonOption,
    emit_json,
    fail,
    handled_errors,
    iso_time,
    load_cli_settings,
    require_initialized,
    resolve_user,
    run_with_runtime,
)
from jwtkeep.errors import NotFound
from jwtkeep.ports import AuditEvent

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = ["audit", "event_summary", "parse_since"]

_DURATION = re.compile(r"(\d+)\s*(s|m|min|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def audit(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Username or user id.")] = None,
    jti: Annotated[str | None, typer.Option("--jti", help="One token's `jti`.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="ISO 8601 time (UTC if no offset) or a duration: 30m, 1h, 7d."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="At most N events.")
    ] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail, newest first: logins, refreshes, reuse, logouts, revocations.

    Example: jwtkeep audit --user alice --since 1h
    """
    try:
        since_unix = parse_since(since, time.time()) if since is not None else None
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)

    async def action(runtime: Runtime) -> list[AuditEvent]:
        user_id = await _user_id(runtime, user) if user is not None else None
        return await runtime.database.audit.query(
            user_id=user_id, jti=jti, since=since_unix, limit=limit
        )

    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        events = run_with_runtime(settings, action)
    summaries = [event_summary(event) for event in events]
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        typer.echo("No matching events.")
    for one in summaries:
        typer.echo(_line(one))


async def _user_id(runtime: Runtime, who: str) -> str:
    try:
        return (await resolve_user(runtime, who)).id
    except NotFound:
        return who  # a deleted user's id still finds its events


def parse_since(text: str, now: float) -> float:
    """`2030-01-01T12:00:00+01:00` (no offset: UTC) or a duration back from `now`."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        return now - int(duration.group(1)) * _UNIT_SECONDS[duration.group(2).lower()]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give an ISO 8601 time (2030-01-31T08:00:00Z) "
            "or a duration (30m, 1h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def event_summary(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": iso_time(event.at), "event": event.event, "user_id": event.user_id,
        "client_id": event.client_id, "sid": event.sid, "jti": event.jti, "ip": event.ip,
        "detail": dict(event.detail),
    }  # fmt: skip


def _line(one: dict[str, Any]) -> str:
    ids = "  ".join(f"{key}={one[key]}" for key in ("user_id", "client_id", "sid", "jti", "ip")
                    if one[key])  # fmt: skip
    detail = "  ".join(f"{key}={value}" for key, value in one["detail"].items())
    return "  ".join(part for part in (one["at"], f"{one['event']:<24}", ids, detail) if part)
