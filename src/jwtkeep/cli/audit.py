"""`jwtkeep audit [--user U] [--app A] [--event E] [--jti J] [--since T] [--until T]
[--follow]`: who did what, to what, and why.

The audit trail holds ids and reasons only (user id, client id, session id, `jti`, IP,
the operator and their `--reason`), never a token (the article: "monitor which token is
used to do which type of task"). `--follow` polls for new events every second (Ctrl-C
ends it, exit code 0); with `--json` it prints one JSON object per line (JSON Lines).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
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
from jwtkeep.errors import InvalidValue, NotFound
from jwtkeep.ports import AuditEvent

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = ["FOLLOW_INTERVAL", "AuditFilter", "audit", "event_summary", "follow", "parse_since"]

FOLLOW_INTERVAL = 1.0  # seconds between polls of `--follow`

_DURATION = re.compile(r"(\d+)\s*(s|m|min|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


_TIME_HELP = "ISO 8601 time (UTC if no offset) or a duration back from now: 30m, 1h, 7d."


def audit(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="Username or user id.")
    ] = None,
    app: Annotated[
        str | None, typer.Option("--app", metavar="APP", help="App name or client id.")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            metavar="NAME",
            help='An event name, or a prefix ending in "." (login.); repeat.',
        ),
    ] = None,
    jti: Annotated[
        str | None, typer.Option("--jti", metavar="JTI", help="One token's `jti`.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME", help=_TIME_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME", help=_TIME_HELP)] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=100_000, help="At most N events.")
    ] = 1000,
    tail: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C ends).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail, newest first: logins, refreshes, reuse, logouts, revocations,
    and every operator action with who did it and why.

    Example: jwtkeep audit --user alice --since 1h
    """
    try:
        now = time.time()
        since_unix = parse_since(since, now) if since is not None else None
        until_unix = parse_since(until, now, option="--until") if until is not None else None
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)

    async def action(runtime: Runtime) -> list[AuditEvent] | None:
        filters = AuditFilter(
            user_id=await _user_id(runtime, user) if user is not None else None,
            client_id=await _client_id(runtime, app) if app is not None else None,
            jti=jti, events=tuple(event or ()), since=since_unix, until=until_unix,
        )  # fmt: skip
        if tail:
            await follow(runtime, filters, lambda one: _print(one, as_json, lines=True),
                         backlog=min(limit, 20))  # fmt: skip
            return None
        return await runtime.database.audit.query(**filters.query(), limit=limit)

    with handled_errors():
        settings = load_cli_settings(ctx)
        require_initialized(settings)
        try:
            events = run_with_runtime(settings, action)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
    if events is None:
        return
    summaries = [event_summary(one) for one in events]
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        typer.echo("No matching events.")
    for one in summaries:
        typer.echo(_line(one))


@dataclass(frozen=True)
class AuditFilter:
    """The filters of one `jwtkeep audit` call, as `AuditLog.query` takes them."""

    user_id: str | None = None
    client_id: str | None = None
    jti: str | None = None
    events: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None

    def query(self) -> dict[str, Any]:
        return asdict(self)


async def follow(
    runtime: Runtime,
    filters: AuditFilter,
    emit: Callable[[AuditEvent], None],
    *,
    backlog: int = 20,
    interval: float = FOLLOW_INTERVAL,
    polls: int | None = None,
) -> None:
    """Print the newest `backlog` matching events, oldest first, then every new one as it
    is recorded, polling every `interval` seconds (`polls` bounds it, for tests)."""
    audit = runtime.database.audit
    recent = await audit.query(**filters.query(), limit=backlog)
    for one in reversed(recent):
        emit(one)
    last = max((one.id or 0 for one in recent), default=await _last_id(runtime))
    done = 0
    while polls is None or done < polls:
        await asyncio.sleep(interval)
        done += 1
        for one in await audit.query(**filters.query(), after_id=last, limit=1000):
            emit(one)
            last = max(last, one.id or 0)


async def _last_id(runtime: Runtime) -> int:
    newest = await runtime.database.audit.query(limit=1)
    return newest[0].id or 0 if newest else 0


def _print(event: AuditEvent, as_json: bool, *, lines: bool) -> None:
    summary = event_summary(event)
    if as_json and lines:
        typer.echo(json.dumps(summary, ensure_ascii=True))
    else:
        typer.echo(_line(summary))


async def _client_id(runtime: Runtime, who: str) -> str:
    from jwtkeep.usecases.apps import find_app  # noqa: PLC0415

    try:
        return (await find_app(runtime.context, who)).client_id
    except NotFound:
        return who  # a deleted app's client id still finds its events


async def _user_id(runtime: Runtime, who: str) -> str:
    try:
        return (await resolve_user(runtime, who)).id
    except NotFound:
        return who  # a deleted user's id still finds its events


def parse_since(text: str, now: float, option: str = "--since") -> float:
    """`2030-01-01T12:00:00+01:00` (no offset: UTC) or a duration back from `now`."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        return now - int(duration.group(1)) * _UNIT_SECONDS[duration.group(2).lower()]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{option} {text!r}: give an ISO 8601 time (2030-01-31T08:00:00Z) "
            "or a duration (30m, 1h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def event_summary(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": iso_time(event.at), "event": event.event, "user_id": event.user_id,
        "client_id": event.client_id, "sid": event.sid, "jti": event.jti, "ip": event.ip,
        "actor": event.actor, "target": event.target, "reason": event.reason,
        "detail": dict(event.detail),
    }  # fmt: skip


def _line(one: dict[str, Any]) -> str:
    keys = ("actor", "target", "user_id", "client_id", "sid", "jti", "ip", "reason")
    ids = "  ".join(f"{key}={one[key]!r}" if key == "reason" else f"{key}={one[key]}"
                    for key in keys if one[key])  # fmt: skip
    detail = "  ".join(f"{key}={value}" for key, value in one["detail"].items())
    return "  ".join(part for part in (one["at"], f"{one['event']:<24}", ids, detail) if part)
