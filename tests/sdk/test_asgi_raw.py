"""JwtkeepMiddleware driven with raw ASGI messages: what an HTTP client library would
normalize away (dot segments, odd header bytes), WebSocket handshakes, and the property
that no Authorization header value ever produces a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtkeep.sdk import JwtkeepMiddleware, RequestEvent, Verifier
from tests.sdk.apps import fastapi_app, starlette_app
from tests.sdk.authorization_values import (
    empty_bearer,
    malformed_bearer,
    other_scheme,
    well_formed_bearer,
)
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


FUZZ = settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
PATHS = ("/orders/1", "/export/1")  # a route without, and one with, the query opt-in


def challenge(sent: list[dict[str, Any]]) -> tuple[int, str]:
    """The status and the error it names: the `WWW-Authenticate` challenge of a 401
    (bare or with `error=`), the JSON body's `error` of a 400."""
    status: int = sent[0]["status"]
    if status == 400:
        error: str = json.loads(sent[1]["body"])["error"]
        return status, error
    return status, dict(sent[0]["headers"])[b"www-authenticate"].decode("latin-1")


async def answers(verifier: Verifier, values: list[bytes], query: bytes = b"") -> list[Any]:
    headers = [(b"authorization", v) for v in values]
    app = starlette_app(verifier, [])
    return [challenge(await call(app, http_scope(p, headers, query), EMPTY_BODY)) for p in PATHS]


# Arbitrary Authorization values as raw bytes (what no HTTP client library would send),
# split by the one answer each must get; none is ever a 500.
def latin1(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return strategy.map(lambda text: text.encode("latin-1"))


@FUZZ
@given(value=st.one_of(latin1(other_scheme), st.binary(max_size=300).filter(
    lambda raw: raw.strip(b" \t").partition(b" ")[0].lower() != b"bearer"
)))  # fmt: skip
async def test_no_bearer_credentials_get_the_bare_challenge(
    verifier: Verifier, value: bytes
) -> None:
    for status, header in await answers(verifier, [value]):
        assert (status, header) == (401, 'Bearer realm="jwtkeep"')


@FUZZ
@given(value=st.one_of(latin1(well_formed_bearer), st.just(b"Bearer " + b"a" * 10_000)))
async def test_a_well_formed_or_oversized_bearer_is_invalid_token(
    verifier: Verifier, value: bytes
) -> None:
    for status, header in await answers(verifier, [value]):
        assert status == 401
        assert 'error="invalid_token"' in header


@FUZZ
@given(value=latin1(st.one_of(malformed_bearer, empty_bearer)))
async def test_a_malformed_bearer_credential_is_invalid_request(
    verifier: Verifier, value: bytes
) -> None:
    for answer in await answers(verifier, [value]):
        assert answer == (400, "invalid_request")


@FUZZ
@given(values=st.lists(st.binary(max_size=300), min_size=2, max_size=3))
async def test_repeated_authorization_headers_are_invalid_request(
    verifier: Verifier, values: list[bytes]
) -> None:
    for answer in await answers(verifier, values):
        assert answer == (400, "invalid_request")


@FUZZ
@given(query=st.binary(max_size=80).filter(lambda q: b"access" not in q and b"%" not in q))
async def test_a_query_without_a_token_changes_nothing(verifier: Verifier, query: bytes) -> None:
    for status, header in await answers(verifier, [], query):
        assert (status, header) == (401, 'Bearer realm="jwtkeep"')
