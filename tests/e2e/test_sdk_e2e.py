"""The SDK against a real `jwtkeep serve` over TLS (tests/e2e/conftest.py `deployment`).

No fake endpoint anywhere: the Verifier's keys come from the server's JWKS
(`JwksKeySource`), its allowlist is the server's RFC 7662 introspection endpoint
(`IntrospectionAllowlist`, authenticating as the confidential app `svc`), and the tokens
are real ones from the password grant. Every HTTP exchange goes over TLS to the
certificate `jwtkeep init` made, and is counted with httpx event hooks.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from jwtkeep.core.compact import b64url_decode
from jwtkeep.errors import StoreUnavailable
from jwtkeep.sdk import IntrospectionAllowlist, JwksKeySource, Verifier
from jwtkeep.sdk.event_stream import EVENTS_PATH
from tests.e2e.conftest import AUDIENCE, Deployment
from tests.support.refusals import refused_for

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

ROTATION_TIMEOUT = 30.0  # the server reloads its key ring every second


@dataclass
class Sdk:
    verifier: Verifier
    keys: JwksKeySource
    allowlist: IntrospectionAllowlist
    requests: list[str] = field(default_factory=list)  # "METHOD path" of every SDK call


def kid_of(token: str) -> str:
    kid: str = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))["kid"]
    return kid


async def sdk_for(deployment: Deployment, secret: str) -> AsyncIterator[Sdk]:
    server = deployment.server
    context = ssl.create_default_context(cafile=str(server.cert))
    requests: list[str] = []

    async def record(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    async with httpx.AsyncClient(verify=context, event_hooks={"request": [record]}) as http:
        keys = JwksKeySource(jwks_url=f"{server.url}/.well-known/jwks.json", http_client=http,
                             min_refresh_interval=0.0)  # fmt: skip
        allowlist = IntrospectionAllowlist(
            f"{server.url}/oauth/introspect", deployment.svc_client_id, secret, http
        )
        verifier = Verifier(issuer=deployment.issuer, audience=AUDIENCE, allowlist=allowlist,
                            keys=keys)  # fmt: skip
        try:
            yield Sdk(verifier, keys, allowlist, requests)
        finally:
            await verifier.aclose()  # its event stream ends before the HTTP client closes


@pytest.fixture
async def sdk(deployment: Deployment) -> AsyncIterator[Sdk]:
    async for built in sdk_for(deployment, deployment.svc_client_secret):
        yield built


async def test_a_real_token_verifies_with_the_real_jwks_and_introspection(
    deployment: Deployment, sdk: Sdk
) -> None:
    with deployment.server.client() as client:
        tokens = deployment.login(client)
    claims = await sdk.verifier.verify(tokens["access_token"])
    assert (claims.sub, claims.aud, claims.iss) == (deployment.user_id, AUDIENCE,
                                                    deployment.issuer)  # fmt: skip
    assert claims.client_id == deployment.web_client_id
    # Both clients really went to the server: the JWKS once, introspection once (the
    # revocation event stream, opened by the first verify in the background, aside).
    calls = [call for call in sdk.requests if call != f"GET {EVENTS_PATH}"]
    assert calls == ["GET /.well-known/jwks.json", "POST /oauth/introspect"]


async def test_after_logout_the_introspection_path_refuses_the_token(
    deployment: Deployment, sdk: Sdk
) -> None:
    with deployment.server.client() as client:
        # `account`: /auth/logout is the account API's (aud [AUDIENCE, issuer]); `svc`,
        # granted AUDIENCE, may still introspect it: it is one of its API's users' tokens.
        tokens = deployment.login(client, scope="read account")
        assert (await sdk.verifier.verify(tokens["access_token"])).sub == deployment.user_id
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.post("/auth/logout", headers=bearer).status_code == 204
    # Signature and claims are still fine; only the server's allowlist says no.
    with refused_for("^not in the allowlist"):
        await sdk.verifier.verify(tokens["access_token"])
    assert sdk.requests.count("POST /oauth/introspect") == 2


async def test_a_wrong_client_secret_is_an_outage_not_a_refusal(deployment: Deployment) -> None:
    # The introspection client really authenticates: with a wrong secret the server
    # answers 401 invalid_client, which the SDK reports as the allowlist being
    # unavailable (fail closed, 503), never as "this token is fine" or "revoked".
    with deployment.server.client() as client:
        tokens = deployment.login(client)
    async for wrong in sdk_for(deployment, deployment.svc_client_secret + "x"):
        with pytest.raises(StoreUnavailable, match="introspection answered 401"):
            await wrong.verifier.verify(tokens["access_token"])


async def test_keys_rotate_is_picked_up_on_a_kid_miss(deployment: Deployment, sdk: Sdk) -> None:
    with deployment.server.client() as client:
        before = deployment.login(client)["access_token"]
        assert (await sdk.verifier.verify(before)).sub == deployment.user_id
        new_kid = deployment.cli("keys", "rotate", "--now")["kid"]  # unpublished: a kid miss
        assert kid_of(before) != new_kid
        deadline = time.monotonic() + ROTATION_TIMEOUT
        while kid_of(after := deployment.login(client)["access_token"]) != new_kid:
            assert time.monotonic() < deadline, "the server never signed with the new key"
            time.sleep(0.5)
    assert sdk.requests.count("GET /.well-known/jwks.json") == 1
    # The cached JWKS does not know the new kid: one reload, then the token verifies.
    claims = await sdk.verifier.verify(after)
    assert claims.sub == deployment.user_id
    assert sdk.requests.count("GET /.well-known/jwks.json") == 2
    assert new_kid in [key.kid for key in (await sdk.keys.ring()).keys]
    # The old key is retiring, not gone: its tokens still verify.
    assert (await sdk.verifier.verify(before)).sub == deployment.user_id
