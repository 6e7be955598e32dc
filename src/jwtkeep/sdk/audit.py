"""The audit hook: one place to see which token (`jti`) did what.

After every request whose token verified (including those then refused 403 by a route
rule), the middleware calls `on_request(RequestEvent)`. The event names the token by its
`jti` and never holds the token itself, the query string (an opted-in route may carry the
token there) or any header. The default hook logs it with structlog.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from jwtkeep.core.claims import AccessClaims

__all__ = [
    "RequestEvent",
    "RequestHook",
    "call_hook",
    "log_request",
    "make_event",
    "start_hook",
]

_log = structlog.get_logger("jwtkeep.sdk.audit")


@dataclass(slots=True)
class RequestEvent:
    """One verified request: who (sub, client_id, sid), which token (jti), what, outcome.

    Slotted and not frozen: one is built per request, and a frozen dataclass costs five
    times as much to build (bench/results/throughput.md). Treat it as read-only."""

    jti: str
    sub: str
    client_id: str
    sid: str
    method: str
    path: str
    status: int
    token_in_query: bool = False


RequestHook = Callable[[RequestEvent], Awaitable[None] | None]


def make_event(
    claims: AccessClaims, method: str, path: str, status: int, *, token_in_query: bool
) -> RequestEvent:
    c = claims  # positional: one per request, and keywords cost more
    return RequestEvent(c.jti, c.sub, c.client_id, c.sid, method, path, status, token_in_query)


def log_request(event: RequestEvent) -> None:
    """The default hook: one structured log line per verified request."""
    _log.info("request.verified", **asdict(event))


def start_hook(hook: RequestHook, event: RequestEvent) -> Coroutine[Any, Any, None] | None:
    """Call the hook; if it is async, return the coroutine that finishes it.

    A failing hook is logged and never breaks the response (which is already decided)."""
    try:
        result = hook(event)
    except Exception as exc:  # noqa: BLE001
        _hook_failed(event, exc)
        return None
    if result is None:  # a plain function: nothing to await
        return None
    return _finish(result, event) if inspect.isawaitable(result) else None


async def call_hook(hook: RequestHook, event: RequestEvent) -> None:
    pending = start_hook(hook, event)
    if pending is not None:
        await pending


async def _finish(result: Awaitable[None], event: RequestEvent) -> None:
    try:
        await result
    except Exception as exc:  # noqa: BLE001
        _hook_failed(event, exc)


def _hook_failed(event: RequestEvent, exc: Exception) -> None:
    _log.error("audit_hook.failed", jti=event.jti, error=type(exc).__name__)
