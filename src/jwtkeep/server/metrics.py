"""Prometheus metrics on a per-app `CollectorRegistry` (two apps in one process, as in the
tests, never share counters).

They are not served by the main app: `MetricsEndpoint` is the app of a separate listener
that `jwtkeep serve` runs only when `JWTKEEP_METRICS_PORT` is set (on
`JWTKEEP_METRICS_HOST`, loopback by default), so the public listener never shows the
server's traffic to anyone who asks (OWASP ASVS v4.0 V14.3: no unintended disclosure).

Labels are bounded and never carry request data: the route *template*
(`/auth/sessions/{sid}`, not the sid), a known method or `other`, the status code, the
grant type from a fixed list, the RFC 6749 error code. No token, fingerprint, user id,
client id, username or IP is ever a label value (DESIGN.md: no token material in metrics).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE_LATEST", "METRICS_PATH", "Metrics", "MetricsEndpoint",
           "MetricsMiddleware", "grant_label"]  # fmt: skip

METRICS_PATH = "/metrics"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_GRANTS = frozenset({"authorization_code", "password", "refresh_token", "client_credentials"})


def grant_label(grant_type: str | None) -> str:
    return grant_type if grant_type in _GRANTS else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "jwtkeep_http_requests", "HTTP requests answered",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "jwtkeep_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], registry=self.registry,
        )  # fmt: skip
        self.tokens_issued = Counter(
            "jwtkeep_tokens_issued", "Access tokens issued by the token endpoint",
            ["grant_type"], registry=self.registry,
        )  # fmt: skip
        self.token_errors = Counter(
            "jwtkeep_token_errors", "Token endpoint refusals by RFC 6749 error code",
            ["grant_type", "error"], registry=self.registry,
        )  # fmt: skip
        self.login_throttled = Counter(
            "jwtkeep_login_throttled", "Attempts refused by brute-force protection",
            ["action"], registry=self.registry,
        )  # fmt: skip
        self.login_slowdown = Histogram(
            "jwtkeep_login_slowdown_seconds",
            "Delays before password checks of accounts under attack (brute-force slowdown)",
            ["action"], buckets=(0.5, 1, 2, 4, 8, 16, 30), registry=self.registry,
        )  # fmt: skip
        self.store_unavailable = Counter(
            "jwtkeep_store_unavailable", "Requests refused with 503 (store unreachable)",
            registry=self.registry,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            route = _route(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class MetricsEndpoint:
    """The metrics listener's app: `GET /metrics` (or HEAD); 404 elsewhere, 405 otherwise."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response: Response
        if scope["path"] != METRICS_PATH:
            response = PlainTextResponse("Not Found", status_code=404)
        elif scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        else:
            response = Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)
        await response(scope, receive, send)
