"""Prometheus metrics: bounded labels, no token material; served by the metrics app (the
separate listener `jwtkeep serve` runs with JWTKEEP_METRICS_PORT), not the main app."""

from __future__ import annotations

import httpx

from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import ACCOUNT_SCOPE, USERNAME, Login, bearer


async def test_metrics_count_without_token_material(
    client: httpx.AsyncClient,
    metrics_client: httpx.AsyncClient,
    web_app: CreatedApp,
    login: Login,
) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    await client.delete("/auth/sessions/some-session-id", headers=bearer(tokens["access_token"]))
    await client.get("/no/such/path/for/metrics")
    await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": USERNAME,
            "password": "wrong password",
            "client_id": web_app.app.client_id,
        },
    )
    response = await metrics_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'jwtkeep_tokens_issued_total{grant_type="password"} 1.0' in text
    assert 'jwtkeep_token_errors_total{error="invalid_grant",grant_type="password"} 1.0' in text
    assert 'route="/auth/sessions/{sid}"' in text
    assert 'route="unmatched"' in text
    assert "some-session-id" not in text
    assert "/no/such/path" not in text
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        USERNAME,
        web_app.app.client_id,
    ):
        assert secret not in text


async def test_each_app_has_its_own_registry(
    metrics_client: httpx.AsyncClient, login: Login
) -> None:
    """A fresh app starts from zero (per-app CollectorRegistry, not the global one)."""
    text = (await metrics_client.get("/metrics")).text
    assert "jwtkeep_tokens_issued_total{" not in text


async def test_the_main_app_does_not_serve_metrics(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert "jwtkeep_http_requests" not in response.text


async def test_the_metrics_app_serves_only_metrics(metrics_client: httpx.AsyncClient) -> None:
    assert (await metrics_client.get("/oauth/token")).status_code == 404
    refused = await metrics_client.post("/metrics")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert refused.headers["x-content-type-options"] == "nosniff"
