"""JwtkeepMiddleware driven with raw ASGI messages: what an HTTP client library would
normalize away (dot segments, odd header bytes), WebSocket handshakes, and the property
that no Authorization header value ever produces a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtkeep.sdk import JwtkeepMiddleware, RequestEvent, Verifier
from tests.sdk.apps import fastapi_app, starlette_app
from tests.sdk.helpers import Minter, SetAllowlist

Builder = Callable[[Verifier, list[RequestEvent]], Any]
BUILDERS = [pytest.param(starlette_app, id="starlette"), pytest.param(fastapi_app, id="fastapi")]


def http_scope(path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"api.test"), *headers],
        "server": ("api.test", 80), "client": ("127.0.0.1", 1),
    }  # fmt: skip


async def call(
    app: Any, scope: dict[str, Any], inbound: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    pending = list(inbound)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


EMPTY_BODY = [{"type": "http.request", "body": b"", "more_body": False}]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("path", ["/docs/../admin/1", "/docs/./../admin/1", "//admin/1"])
async def test_dot_segments_and_double_slashes_do_not_reach_public_paths(
    build: Builder, verifier: Verifier, path: str
) -> None:
    sent = await call(build(verifier, []), http_scope(path, []), EMPTY_BODY)
    assert sent[0]["status"] == 401


@pytest.mark.parametrize("build", BUILDERS)
async def test_dot_segments_cannot_dodge_a_route_rule(
    build: Builder, verifier: Verifier, minter: Minter
) -> None:
    auth = [(b"authorization", f"Bearer {minter.token('orders:read')}".encode())]
    sent = await call(build(verifier, []), http_scope("/orders/../admin/1", auth), EMPTY_BODY)
    assert sent[0]["status"] == 403


async def test_chunked_form_body_is_scanned_and_replayed(
    verifier: Verifier, minter: Minter
) -> None:
    token = minter.token()
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    scope = {**http_scope("/orders/1", headers), "method": "POST"}
    chunks = [
        {"type": "http.request", "body": b"item=tea&acc", "more_body": True},
        {"type": "http.request", "body": b"ess_token=x", "more_body": False},
    ]
    sent = await call(starlette_app(verifier, []), scope, chunks)
    assert sent[0]["status"] == 400
    chunks[1]["body"] = b"ept=1"
    sent = await call(starlette_app(verifier, []), scope, chunks)
    assert sent[0]["status"] == 200
    assert b'"form":{"item":"tea","accept":"1"}' in sent[1]["body"]


async def test_large_form_bodies_are_passed_through_unscanned(
    verifier: Verifier, minter: Minter
) -> None:
    app = JwtkeepMiddleware(starlette_app(verifier, []), verifier=verifier, max_form_scan_bytes=16)
    headers = [
        (b"authorization", f"Bearer {minter.token()}".encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    scope = {**http_scope("/orders/1", headers), "method": "POST"}
    body = [{"type": "http.request", "body": b"note=" + b"x" * 100, "more_body": False}]
    sent = await call(app, scope, body)
    assert sent[0]["status"] == 200
    assert b"x" * 100 in sent[1]["body"]


def ws_scope(headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": "/ws",
        "raw_path": b"/ws", "query_string": query, "root_path": "",
        "headers": [(b"host", b"api.test"), *headers], "subprotocols": [],
        "server": ("api.test", 80), "client": ("127.0.0.1", 1),
    }  # fmt: skip


async def test_websocket_with_valid_token_is_accepted(
    verifier: Verifier, minter: Minter, events: list[RequestEvent]
) -> None:
    auth = [(b"authorization", f"Bearer {minter.token()}".encode())]
    sent = await call(
        starlette_app(verifier, events), ws_scope(auth), [{"type": "websocket.connect"}]
    )
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert minter.issued[-1].jti in sent[1]["text"]
    assert [(e.path, e.jti) for e in events] == [("/ws", minter.issued[-1].jti)]


@pytest.mark.parametrize(
    ("revoked", "down", "code"), [(False, False, 1008), (True, False, 1008), (False, True, 1013)]
)
async def test_websocket_refusals_close_before_accept(
    verifier: Verifier,
    minter: Minter,
    allowlist: SetAllowlist,
    revoked: bool,
    down: bool,
    code: int,
) -> None:
    token = minter.token()
    auth = [] if not (revoked or down) else [(b"authorization", f"Bearer {token}".encode())]
    if revoked:
        allowlist.revoke(token)
    allowlist.unavailable = down
    sent = await call(starlette_app(verifier, []), ws_scope(auth), [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.close", "code": code}]


async def test_websocket_query_token_refused_without_opt_in(
    verifier: Verifier, minter: Minter
) -> None:
    query = f"access_token={minter.token()}".encode()
    sent = await call(
        starlette_app(verifier, []), ws_scope([], query), [{"type": "websocket.connect"}]
    )
    assert sent == [{"type": "websocket.close", "code": 1008}]


header_values = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda s: b"Bearer " + s, st.binary(max_size=300)),
    st.builds(lambda s: ("Bearer " + s).encode("utf-8"), st.text(max_size=200)),
    st.just(b"Bearer " + b"a" * 10_000),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(header_values, min_size=1, max_size=2), query=st.binary(max_size=80))
async def test_no_authorization_header_value_ever_gives_500(
    verifier: Verifier, values: list[bytes], query: bytes
) -> None:
    headers = [(b"authorization", v) for v in values]
    for path in ("/orders/1", "/export/1"):
        sent = await call(starlette_app(verifier, []), http_scope(path, headers, query), EMPTY_BODY)
        assert sent[0]["status"] in (200, 400, 401), sent[0]
