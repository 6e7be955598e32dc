"""The HTTPS revocation event stream end to end: a real `jwtkeep serve` on the SQLite
default, an SDK verifier through `IntrospectionAllowlist` (which follows
`/oauth/revocation-events` and keeps a verdict cache by it).

A token is verified (introspection) and then answered from the cache; logout at the
issuer reaches the verifier through the stream and the token is refused; the key-leak
drill from the CLI (another process, same SQLite file) reaches it too. A public client
and a wrong secret get no stream. Waits are bounded polls, never timing assertions.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from jwtkeep.sdk import IntrospectionAllowlist, JwksKeySource, Verifier
from tests.support.refusals import refused_for
from tests.support.serve_process import (
    PASSWORD_GRANT,
    SERVICE_GRANTS,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    issuer_of,
    password_grant,
    run_cli,
    serving,
)

pytestmark = [pytest.mark.e2e]

AUDIENCE = "https://api.stream"
WAIT = 10.0


@dataclass
class Issuer:
    server: Server
    client_id: str
    secret: str
    public_id: str
    issuer: str


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    data_dir = tmp_path_factory.mktemp("stream") / "data"
    env = clean_environment(data_dir)
    cli_ok(env, "init")
    svc = create_app(env, "svc", AUDIENCE, "--confidential", *SERVICE_GRANTS)
    web = create_app(env, "web", "https://api.other", *PASSWORD_GRANT)
    create_user(env, "sam")
    with serving(data_dir, env) as server:
        yield Issuer(server, svc["client_id"], svc["client_secret"], web["client_id"],
                     issuer_of(server))  # fmt: skip


def log_in(issuer: Issuer) -> str:
    with issuer.server.client() as client:
        tokens = password_grant(client, issuer.client_id, "sam", secret=issuer.secret)
    token: str = tokens["access_token"]
    return token


def logout(issuer: Issuer, token: str) -> None:
    with issuer.server.client() as client:
        form = {"token": token}
        response = client.post("/oauth/revoke", data=form,
                               auth=(issuer.client_id, issuer.secret))  # fmt: skip
    assert response.status_code == 200, response.text


async def until_seen(verifier: Verifier, seen: int) -> None:
    async with asyncio.timeout(WAIT):
        while verifier.follower is not None and verifier.follower.events_seen == seen:
            await asyncio.sleep(0.005)


async def test_the_sdk_follows_the_stream(issuer: Issuer) -> None:
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(issuer.server.cert)))
    server = issuer.server
    verifier = Verifier(
        issuer=issuer.issuer, audience=AUDIENCE,
        allowlist=IntrospectionAllowlist(f"{server.url}/oauth/introspect", issuer.client_id,
                                         issuer.secret, http),
        keys=JwksKeySource(jwks_url=f"{server.url}/.well-known/jwks.json", http_client=http),
    )  # fmt: skip
    try:
        async with asyncio.timeout(WAIT):
            await verifier.wait_subscribed()
        assert verifier.cache is not None
        assert verifier.follower is not None
        token, other = log_in(issuer), log_in(issuer)
        await verifier.verify(token)
        await verifier.verify(other)
        assert len(verifier.cache) == 2
        seen = verifier.follower.events_seen
        await asyncio.to_thread(logout, issuer, token)  # RFC 7009 at the issuer
        await until_seen(verifier, seen)
        with refused_for("not in the allowlist"):
            await verifier.verify(token)
        assert len(verifier.cache) == 1  # exactly that token was dropped

        seen = verifier.follower.events_seen
        kid = json.loads(run_cli(server.env, "keys", "list", "--json").stdout)[0]["kid"]
        drill = await asyncio.to_thread(run_cli, server.env, "keys", "compromised", kid)
        assert drill.returncode == 0, drill.stderr
        await until_seen(verifier, seen)
        with refused_for("unknown or withdrawn kid"):
            await verifier.verify(other)
    finally:
        await verifier.aclose()
        await http.aclose()


@pytest.mark.parametrize("who", ["public", "wrong secret", "nobody"])
def test_only_confidential_clients_get_the_stream(issuer: Issuer, who: str) -> None:
    auth = {"public": (issuer.public_id, ""), "wrong secret": (issuer.client_id, "jkcs_nope"),
            "nobody": None}[who]  # fmt: skip
    with issuer.server.client() as client:
        response = client.get("/oauth/revocation-events", auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
