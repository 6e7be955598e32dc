"""Each of the core's reasons to refuse a token (`jwtkeep.errors.TokenError`: malformed,
bad signature, unknown key, wrong claims) gives the route's one answer on every route
that reads a token, never a 500: `/userinfo` 401 `invalid_token` with the same challenge
whatever the reason (RFC 6750 §3.1, no oracle), introspection `{"active": false}` (RFC
7662 §2.2), revocation 200 (RFC 7009 §2.2), the refresh grant 400 `invalid_grant`, and
RP-initiated logout's page 400.

The tokens are made from a real access token and, where the claims must be wrong behind a
good signature, signed with the server's own key (from its runtime)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from jwtkeep.core.keyring import KeyRing
from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import ACCOUNT_SCOPE, Login, basic, bearer

INVALID_TOKEN_CHALLENGE = (
    'Bearer realm="jwtkeep", error="invalid_token", error_description="The access token is invalid"'
)


def _segment(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=="))
    return decoded


class Crafter:
    """Variants of one real access token."""

    def __init__(self, token: str, ring: KeyRing) -> None:
        self.header_segment, self.payload_segment, self.signature_segment = token.split(".")
        self.header = _decode(self.header_segment)
        self.payload = _decode(self.payload_segment)
        self.key = ring.signer(time.time())

    def with_header(self, header: dict[str, Any] | bytes) -> str:
        return f"{_segment(header)}.{self.payload_segment}.{self.signature_segment}"

    def with_signature(self, signature: bytes) -> str:
        return f"{self.header_segment}.{self.payload_segment}.{_segment(signature)}"

    def signed(self, **claims: Any) -> str:
        """Well signed by the server's own key, with these claims changed."""
        payload = json.dumps({**self.payload, **claims}).encode()
        return self.key.sign({"typ": "at+jwt"}, payload)

    def signed_raw(self, payload: bytes) -> str:
        return self.key.sign({"typ": "at+jwt"}, payload)


# (id, the reason logged, how to make it); each reaches a different core error.
VARIANTS: list[tuple[str, str, Callable[[Crafter], str]]] = [
    ("MalformedToken-duplicate-header", "malformed: duplicate JSON member",
     lambda c: c.with_header(b'{"alg":"EdDSA","alg":"EdDSA","typ":"at+jwt","kid":"k"}')),
    ("MalformedToken-typ", "malformed: typ", lambda c: c.with_header({**c.header, "typ": "JWT"})),
    ("MalformedToken-crit", "malformed:", lambda c: c.with_header({**c.header, "crit": ["x"]})),
    ("MalformedToken-payload", "claims: duplicate JSON member",
     lambda c: c.signed_raw(b'{"sub": "a", "sub": "b"}')),
    ("UnknownKeyId", "unknown or withdrawn kid",
     lambda c: c.with_header({**c.header, "kid": "no-such-kid"})),
    ("alg-mismatch", "alg does not match the key",
     lambda c: c.with_header({**c.header, "alg": "HS256"})),
    ("SignatureInvalid", "bad signature", lambda c: c.with_signature(b"\x00" * 64)),
    ("ClaimError-expired", "claims: expired", lambda c: c.signed(exp=int(time.time()) - 600)),
    ("ClaimError-audience", "claims: wrong audience", lambda c: c.signed(aud="elsewhere")),
    ("ClaimError-sub", "claims: sub is not a canonical UUID", lambda c: c.signed(sub="alice")),
]  # fmt: skip


@pytest.fixture
async def crafter(login: Login, runtime: Runtime) -> Crafter:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    return Crafter(token, await runtime.context.keys.ring())


@pytest.mark.parametrize(("make", "reason"), [(v[2], v[1]) for v in VARIANTS],
                         ids=[v[0] for v in VARIANTS])  # fmt: skip
async def test_a_refused_token_gets_the_routes_answer_never_a_500(
    client: httpx.AsyncClient,
    crafter: Crafter,
    service_app: CreatedApp,
    make: Callable[[Crafter], str],
    reason: str,
) -> None:
    token = make(crafter)
    assert len(token) < 4096  # within the token limit: the core error is what refuses it

    with capture_logs() as logs:
        userinfo = await client.get("/userinfo", headers=bearer(token))
    assert userinfo.status_code == 401, userinfo.text
    assert userinfo.json()["error"] == "invalid_token"
    assert userinfo.headers["www-authenticate"] == INVALID_TOKEN_CHALLENGE
    # The reason is logged (so the intended core error was reached), never sent.
    reasons = [e["reason"] for e in logs if e["event"] == "token.rejected"]
    assert any(r.startswith(reason) for r in reasons), reasons
    assert reason not in userinfo.text

    auth = basic(service_app.app.client_id, service_app.client_secret or "")
    introspect = await client.post("/oauth/introspect", data={"token": token}, headers=auth)
    assert (introspect.status_code, introspect.json()) == (200, {"active": False})

    revoke = await client.post("/oauth/revoke", data={"token": token}, headers=auth)
    assert revoke.status_code == 200, revoke.text

    refresh = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}, headers=auth
    )
    assert refresh.status_code == 400, refresh.text
    assert refresh.json()["error"] == "invalid_grant"

    logout = await client.get("/logout", params={"id_token_hint": token})
    assert logout.status_code == 400, logout.text
    assert logout.headers["content-type"].startswith("text/html")


async def test_a_refused_token_request_logs_why_without_the_credentials(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    """The client learns `invalid_client` / `invalid_grant` and a generic sentence; the
    operator's log says which check refused it, and never holds what was sent."""
    wrong_secret = "jkcs_" + "x" * 40
    bad_client = basic(service_app.app.client_id, wrong_secret)
    good_client = basic(service_app.app.client_id, service_app.client_secret or "")
    unknown_refresh = "jkrt_" + "y" * 40
    with capture_logs() as logs:
        secret = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   headers=bad_client)  # fmt: skip
        grant = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": unknown_refresh},
            headers=good_client,
        )
    assert (secret.status_code, secret.json()["error"]) == (401, "invalid_client")
    assert (grant.status_code, grant.json()["error"]) == (400, "invalid_grant")
    refusals = [
        (e["route"], e["error"], e["reason"]) for e in logs if e["event"] == "oauth.refused"
    ]
    assert refusals[0] == ("/oauth/token", "invalid_client", "bad client secret")
    assert refusals[1][:2] == ("/oauth/token", "invalid_grant")
    assert refusals[1][2] not in grant.text  # the reason is for the operator only
    assert len(refusals) == 2
    assert wrong_secret not in repr(logs)
    assert unknown_refresh not in repr(logs)
