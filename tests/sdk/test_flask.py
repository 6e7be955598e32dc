"""The Flask extension through Flask's test client: same rules and codes as the ASGI
middleware, verification on the extension's private event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtkeep.sdk import RequestEvent, Verifier
from jwtkeep.sdk.flask import Jwtkeep, require_scopes
from tests.sdk.authorization_values import (
    empty_bearer,
    malformed_bearer,
    other_scheme,
    well_formed_bearer,
)
from tests.sdk.helpers import JwksEndpoint, Minter, SetAllowlist, other_key


def create_app(verifier: Verifier, events: list[RequestEvent], **options: Any) -> Flask:
    app = Flask(__name__)
    options.setdefault("on_request", events.append)
    jwtkeep = Jwtkeep(
        app,
        verifier=verifier,
        routes=["DELETE /orders/*=orders:admin", "GET /reports/*=reports:read"],
        public_paths=["/health"],
        token_in_query_paths=["GET /export/*"],
        **options,
    )

    @app.route("/orders/<oid>", methods=["GET", "POST", "DELETE"])
    def orders(oid: str) -> Any:
        body = {"jti": g.jwtkeep.jti, "loop": threading.current_thread().name}
        if request.method == "POST":
            body["form"] = request.form.to_dict()
        return body, 200, {"Cache-Control": "public, max-age=60"}

    @app.get("/reports/<rid>")
    def reports(rid: str) -> Any:
        return {"jti": g.jwtkeep.jti}

    @app.get("/export/<eid>")
    def export(eid: str) -> Any:
        return {"jti": g.jwtkeep.jti}, 200, {"Cache-Control": "public, max-age=60"}

    @app.post("/orders/<oid>/ship")
    @jwtkeep.require_scopes("orders:ship")
    def ship(oid: str) -> Any:
        return {"shipped": oid}

    @app.get("/health")
    def health() -> str:
        return "ok" if g.get("jwtkeep") is None else "claims?"

    return app


@pytest.fixture
def flask_app(verifier: Verifier, events: list[RequestEvent]) -> Iterator[Flask]:
    app = create_app(verifier, events)
    yield app
    app.extensions["jwtkeep"].loop.close()


@pytest.fixture
def client(flask_app: Flask) -> FlaskClient:
    return flask_app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = response.get_json()
    return data


def assert_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert body(response)["error"] == error
    assert body(response)["error_description"]


def test_header_token_gives_claims_in_g_and_an_audit_event(
    client: FlaskClient, minter: Minter, events: list[RequestEvent]
) -> None:
    response = client.get("/orders/7", headers=bearer(minter.token()))
    assert response.status_code == 200
    claims = minter.issued[-1]
    assert body(response)["jti"] == claims.jti
    assert body(response)["loop"] != "jwtkeep-sdk-loop"  # the view runs on the request thread
    assert [(e.jti, e.sub, e.method, e.path, e.status) for e in events] == [
        (claims.jti, claims.sub, "GET", "/orders/7", 200)
    ]


def test_missing_and_foreign_schemes_get_a_bare_challenge(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = client.get("/orders/7", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="jwtkeep"'


def test_revoked_and_forged_tokens_are_401(
    client: FlaskClient, minter: Minter, allowlist: SetAllowlist
) -> None:
    revoked = minter.token()
    allowlist.revoke(revoked)
    for token in (revoked, minter.token(key=other_key())):
        response = client.get("/orders/7", headers=bearer(token))
        assert_error(response, 401, "invalid_token")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_route_rule_and_decorator_scopes_are_403(
    client: FlaskClient, minter: Minter, events: list[RequestEvent]
) -> None:
    token = minter.token("orders:read")
    assert_error(client.delete("/orders/7", headers=bearer(token)), 403, "insufficient_scope")
    response = client.post("/orders/7/ship", headers=bearer(token))
    assert_error(response, 403, "insufficient_scope")
    assert 'scope="orders:ship"' in response.headers["WWW-Authenticate"]
    assert [e.status for e in events] == [403, 403]
    shipper = minter.token("orders:read orders:ship")
    assert client.post("/orders/7/ship", headers=bearer(shipper)).json == {"shipped": "7"}


def test_head_is_held_to_get_rules(client: FlaskClient, minter: Minter) -> None:
    assert client.head("/reports/1", headers=bearer(minter.token())).status_code == 403


def test_query_and_form_tokens_are_400(client: FlaskClient, minter: Minter) -> None:
    token = minter.token()
    assert_error(client.get(f"/orders/7?access_token={token}"), 400, "invalid_request")
    response = client.post("/orders/7", data={"access_token": token}, headers=bearer(token))
    assert_error(response, 400, "invalid_request")


def test_form_stays_readable_by_the_view(client: FlaskClient, minter: Minter) -> None:
    response = client.post("/orders/7", data={"item": "tea"}, headers=bearer(minter.token()))
    assert response.status_code == 200
    assert body(response)["form"] == {"item": "tea"}


def test_opted_in_route_takes_the_query_token_and_forbids_caching(
    client: FlaskClient, minter: Minter, events: list[RequestEvent], allowlist: SetAllowlist
) -> None:
    token = minter.token()
    response = client.get(f"/export/1?access_token={token}")
    assert response.status_code == 200
    assert response.headers.getlist("Cache-Control") == ["no-store"]
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert events[-1].token_in_query is True
    assert events[-1].path == "/export/1"
    allowlist.revoke(token)
    refused = client.get(f"/export/1?access_token={token}")
    assert_error(refused, 401, "invalid_token")
    assert refused.headers["Cache-Control"] == "no-store"


def test_public_path(client: FlaskClient, events: list[RequestEvent]) -> None:
    assert client.get("/health").get_data(as_text=True) == "ok"
    # Werkzeug does not remove dot segments; the extension matches the resolved path.
    assert client.get("/health/../orders/7").status_code == 401
    assert events == []


def test_outage_is_503_with_retry_after(
    client: FlaskClient, minter: Minter, allowlist: SetAllowlist, jwks: JwksEndpoint
) -> None:
    token = minter.token()
    allowlist.unavailable = True
    response = client.get("/orders/7", headers=bearer(token))
    assert_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"] == "2"
    allowlist.unavailable = False
    assert client.get("/orders/7", headers=bearer(token)).status_code == 200


def test_protect_all_false_protects_only_decorated_views(
    verifier: Verifier, minter: Minter
) -> None:
    app = Flask(__name__)
    jwtkeep = Jwtkeep(app, verifier=verifier, protect_all=False)

    @app.get("/open")
    def open_view() -> str:
        return "open"

    @app.get("/closed")
    @require_scopes("orders:read")
    def closed_view() -> Any:
        return {"sub": g.jwtkeep.sub}

    client = app.test_client()
    try:
        assert client.get("/open").status_code == 200
        assert client.get("/closed").status_code == 401
        response = client.get("/closed", headers=bearer(minter.token()))
        assert response.json == {"sub": minter.issued[-1].sub}
    finally:
        jwtkeep.loop.close()


def test_async_audit_hook_runs_on_the_private_loop(verifier: Verifier, minter: Minter) -> None:
    seen: list[tuple[str, str]] = []

    async def hook(event: RequestEvent) -> None:
        seen.append((event.jti, threading.current_thread().name))

    app = create_app(verifier, [], on_request=hook)
    try:
        assert app.test_client().get("/orders/1", headers=bearer(minter.token())).status_code == 200
    finally:
        app.extensions["jwtkeep"].loop.close()
    assert seen == [(minter.issued[-1].jti, "jwtkeep-sdk-loop")]


FUZZ = settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])


# Arbitrary header values, split by the one answer each must get (never a 500).
@FUZZ
@given(value=other_scheme)
def test_no_bearer_credentials_get_the_bare_challenge(client: FlaskClient, value: str) -> None:
    response = client.get("/orders/1", headers={"Authorization": value})
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="jwtkeep"'


@FUZZ
@given(value=well_formed_bearer)
def test_a_well_formed_bearer_that_is_no_token_is_invalid_token(
    client: FlaskClient, value: str
) -> None:
    assert_error(client.get("/orders/1", headers={"Authorization": value}), 401, "invalid_token")


@FUZZ
@given(value=st.one_of(malformed_bearer, empty_bearer))
def test_a_malformed_bearer_credential_is_invalid_request(client: FlaskClient, value: str) -> None:
    response = client.get("/orders/1", headers={"Authorization": value})
    assert_error(response, 400, "invalid_request")
