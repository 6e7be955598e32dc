"""JwtkeepMiddleware through httpx.ASGITransport, against a Starlette and a FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest

from jwtkeep.sdk import RequestEvent, Verifier
from tests.sdk.apps import fastapi_app, starlette_app
from tests.sdk.helpers import JwksEndpoint, Minter, SetAllowlist, other_key

BARE_CHALLENGE = 'Bearer realm="jwtkeep"'


@pytest.fixture(params=["starlette", "fastapi"])
async def client(
    request: pytest.FixtureRequest, verifier: Verifier, events: list[RequestEvent]
) -> AsyncIterator[httpx.AsyncClient]:
    build = starlette_app if request.param == "starlette" else fastapi_app
    transport = httpx.ASGITransport(app=build(verifier, events))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_description"]


async def test_header_token_reaches_the_app_with_claims(
    client: httpx.AsyncClient, minter: Minter, events: list[RequestEvent]
) -> None:
    token = minter.token()
    response = await client.get("/orders/1", headers=bearer(token))
    assert response.status_code == 200
    claims = minter.issued[-1]
    assert response.json() == {"sub": claims.sub, "jti": claims.jti, "scope": claims.scope}
    assert response.headers["cache-control"] == "public, max-age=600"  # app's own, untouched
    assert events == [
        RequestEvent(
            jti=claims.jti, sub=claims.sub, client_id="web-app", sid=claims.sid,
            method="GET", path="/orders/1", status=200, token_in_query=False,
        )
    ]  # fmt: skip


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient, minter: Minter) -> None:
    response = await client.get("/orders/1", headers={"Authorization": f"bEaReR {minter.token()}"})
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Negotiate abc"])
async def test_no_bearer_credentials_get_a_bare_challenge(
    client: httpx.AsyncClient, authorization: str | None, events: list[RequestEvent]
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/orders/1", headers=headers)
    assert_error(response, 401, "unauthorized")
    # RFC 6750 §3.1: no error code when the request had no bearer credentials.
    assert response.headers["www-authenticate"] == BARE_CHALLENGE
    assert events == []


async def test_malformed_bearer_is_400(client: httpx.AsyncClient, minter: Minter) -> None:
    token = minter.token()
    response = await client.get("/orders/1", headers={"Authorization": f"Bearer {token} {token}"})
    assert_error(response, 400, "invalid_request")
    two = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await client.get("/orders/1", headers=two)
    assert_error(response, 400, "invalid_request")


async def test_revoked_token_is_401_invalid_token(
    client: httpx.AsyncClient, minter: Minter, allowlist: SetAllowlist, events: list[RequestEvent]
) -> None:
    token = minter.token()
    assert (await client.get("/orders/1", headers=bearer(token))).status_code == 200
    allowlist.revoke(token)  # logout
    response = await client.get("/orders/1", headers=bearer(token))
    assert_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert len(events) == 1  # only the verified request is audited


async def test_forged_token_is_401(client: httpx.AsyncClient, minter: Minter) -> None:
    for key in (other_key("kid-1"), other_key("kid-unknown")):
        response = await client.get("/orders/1", headers=bearer(minter.token(key=key)))
        assert_error(response, 401, "invalid_token")


async def test_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/1", headers=bearer("abc.def.ghi"))
    assert_error(response, 401, "invalid_token")


async def test_route_rule_scope_missing_is_403(
    client: httpx.AsyncClient, minter: Minter, events: list[RequestEvent]
) -> None:
    token = minter.token("orders:read")
    response = await client.delete("/orders/1", headers=bearer(token))
    assert_error(response, 403, "insufficient_scope")
    assert 'scope="orders:admin"' in response.headers["www-authenticate"]
    assert [(e.jti, e.status) for e in events] == [(minter.issued[-1].jti, 403)]
    admin = minter.token("orders:read orders:admin")
    assert (await client.delete("/orders/1", headers=bearer(admin))).status_code == 200


async def test_head_cannot_dodge_a_get_rule(client: httpx.AsyncClient, minter: Minter) -> None:
    token = minter.token("orders:read")
    assert (await client.head("/reports/1", headers=bearer(token))).status_code == 403
    allowed = minter.token("reports:read")
    assert (await client.head("/reports/1", headers=bearer(allowed))).status_code == 200


async def test_wildcard_method_rule(client: httpx.AsyncClient, minter: Minter) -> None:
    token = minter.token("orders:read")
    assert (await client.post("/admin/1", headers=bearer(token))).status_code == 403
    admin = minter.token("admin")
    assert (await client.post("/admin/1", headers=bearer(admin))).status_code == 200


async def test_query_token_refused_without_opt_in(
    client: httpx.AsyncClient, minter: Minter
) -> None:
    token = minter.token()
    response = await client.get("/orders/1", params={"access_token": token})
    assert_error(response, 400, "invalid_request")
    # Even with a valid header as well: one method only, and no token in URLs.
    response = await client.get("/orders/1", params={"access_token": token}, headers=bearer(token))
    assert_error(response, 400, "invalid_request")


async def test_form_body_token_refused(client: httpx.AsyncClient, minter: Minter) -> None:
    token = minter.token()
    response = await client.post("/orders/1", data={"access_token": token})
    assert_error(response, 400, "invalid_request")
    response = await client.post("/orders/1", data={"access_token": token}, headers=bearer(token))
    assert_error(response, 400, "invalid_request")


async def test_form_body_is_replayed_to_the_app(client: httpx.AsyncClient, minter: Minter) -> None:
    token = minter.token()
    response = await client.post(
        "/orders/1", data={"item": "tea", "qty": "2"}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.json()["form"] == {"item": "tea", "qty": "2"}


async def test_opted_in_route_accepts_query_token_and_forbids_caching(
    client: httpx.AsyncClient, minter: Minter, events: list[RequestEvent]
) -> None:
    token = minter.token()
    response = await client.get("/export/1", params={"access_token": token})
    assert response.status_code == 200
    assert response.json()["jti"] == minter.issued[-1].jti
    assert response.headers.get_list("cache-control") == ["no-store"]  # app's replaced
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert events[-1].token_in_query is True
    assert events[-1].path == "/export/1"  # the path only: never the query with the token


async def test_opted_in_route_errors_also_forbid_caching(
    client: httpx.AsyncClient, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    both = await client.get("/export/1", params={"access_token": token}, headers=bearer(token))
    assert_error(both, 400, "invalid_request")
    allowlist.revoke(token)
    revoked = await client.get("/export/1", params={"access_token": token})
    assert_error(revoked, 401, "invalid_token")
    for response in (both, revoked):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_opted_in_route_still_takes_the_header(
    client: httpx.AsyncClient, minter: Minter
) -> None:
    response = await client.get("/export/1", headers=bearer(minter.token()))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=600"


async def test_public_paths_need_no_token(
    client: httpx.AsyncClient, events: list[RequestEvent]
) -> None:
    assert (await client.get("/health")).text == "ok"
    docs = await client.get("/docs/intro", headers={"Authorization": "Bearer not-checked"})
    assert docs.json() == {"sub": None}
    assert (await client.post("/docs/intro")).status_code == 401  # only GET is public
    assert events == []


async def test_allowlist_outage_is_503_with_retry_after(
    client: httpx.AsyncClient, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    allowlist.unavailable = True
    response = await client.get("/orders/1", headers=bearer(token))
    assert_error(response, 503, "temporarily_unavailable")
    assert int(response.headers["retry-after"]) > 0
    allowlist.unavailable = False  # recovers by itself
    assert (await client.get("/orders/1", headers=bearer(token))).status_code == 200


async def test_jwks_outage_is_503(
    client: httpx.AsyncClient, minter: Minter, jwks: JwksEndpoint
) -> None:
    jwks.status = 500
    response = await client.get("/orders/1", headers=bearer(minter.token()))
    assert_error(response, 503, "temporarily_unavailable")


async def test_handler_crash_is_audited_as_500(
    client: httpx.AsyncClient, minter: Minter, events: list[RequestEvent]
) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        await client.get("/boom", headers=bearer(minter.token()))
    assert [(e.path, e.status) for e in events] == [("/boom", 500)]


async def test_audit_hook_failure_does_not_break_the_response(
    verifier: Verifier, minter: Minter
) -> None:
    def broken(_event: RequestEvent) -> None:
        raise ValueError("hook bug")

    app = starlette_app(verifier, [], on_request=broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        assert (await client.get("/orders/1", headers=bearer(minter.token()))).status_code == 200


async def test_async_audit_hook_is_awaited(verifier: Verifier, minter: Minter) -> None:
    seen: list[str] = []

    async def hook(event: RequestEvent) -> None:
        seen.append(event.jti)

    app = starlette_app(verifier, [], on_request=hook)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        await client.get("/orders/1", headers=bearer(minter.token()))
    assert seen == [minter.issued[-1].jti]


async def test_lifespan_passes_through(verifier: Verifier) -> None:
    app = starlette_app(verifier, [])
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_no_audit_hook_still_applies_the_whole_policy(
    verifier: Verifier, minter: Minter
) -> None:
    """`on_request=None`: no hook and no status tracking, the app is called straight; the
    claims still reach it, route rules still refuse, and a token-in-URL response is still
    made uncacheable (its send is still wrapped)."""
    app = starlette_app(verifier, [], on_request=None)
    app.user_middleware[0].kwargs["on_request"] = None  # the helper defaults to a list hook
    token = minter.token()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        ok = await client.get("/orders/1", headers=bearer(token))
        again = await client.get("/orders/1", headers=bearer(token))  # a cache hit, if any
        refused = await client.delete("/orders/1", headers=bearer(token))
        in_url = await client.get("/export/1", params={"access_token": minter.token()})
    assert ok.status_code == again.status_code == 200
    assert ok.json()["jti"] == again.json()["jti"] == minter.issued[0].jti
    assert refused.status_code == 403
    assert in_url.status_code == 200
    assert in_url.headers["cache-control"] == "no-store"
