"""DESIGN "Contract: the token store", end to end: after real HTTP flows against a real
`jwtkeep serve` on PostgreSQL + Redis (tests/e2e/conftest.py), no raw access token,
refresh token, client secret or password is in PostgreSQL (every row of every table, as
text), in Redis (every key and value), in the data folder or in the server's output.

Self-checks make the scan able to fail: a planted username must be found in PostgreSQL
and a planted User-Agent (kept as given by the session) in Redis.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.e2e.conftest import Deployment
from tests.support.at_rest import postgres_dump, redis_dump, stored_forms
from tests.support.serve_process import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

PASSWORD = "frank's first passphrase, long"
NEW_PASSWORD = "frank's second passphrase, longer"


def token(client: httpx.Client, deployment: Deployment, **fields: str) -> dict[str, str]:
    """A grant at the token endpoint as the public app `web`; it must succeed."""
    response = client.post("/oauth/token", data={"client_id": deployment.web_client_id, **fields})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_no_raw_secret_in_postgres_redis_files_or_output(deployment: Deployment) -> None:
    username = "frank-" + secrets.token_hex(6)
    planted_agent = "planted-agent-" + secrets.token_urlsafe(18)
    made = run_cli(deployment.server.env, "user", "create", username, "--password-stdin",
                   stdin=PASSWORD)  # fmt: skip
    assert made.returncode == 0, made.stderr
    svc = httpx.BasicAuth(deployment.svc_client_id, deployment.svc_client_secret)
    # `account`: the flows below call the account API (/auth/password, /auth/logout).
    password = {"grant_type": "password", "username": username, "scope": "read account"}
    with deployment.server.client() as client:
        client.headers["User-Agent"] = planted_agent
        first = token(client, deployment, **password, password=PASSWORD)
        second = token(client, deployment, grant_type="refresh_token",
                       refresh_token=first["refresh_token"])  # fmt: skip
        machine = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=svc)
        assert machine.status_code == 200, machine.text
        seen = client.post("/oauth/introspect", data={"token": second["access_token"]}, auth=svc)
        assert seen.json()["active"] is True
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        changed = client.post("/auth/password", headers=bearer(second), json=change)
        assert changed.status_code == 204, changed.text
        third = token(client, deployment, **password, password=NEW_PASSWORD)
        revoked = client.post("/oauth/revoke", data={"client_id": deployment.web_client_id,
                                                     "token": third["refresh_token"]})  # fmt: skip
        assert revoked.status_code == 200, revoked.text
        fourth = token(client, deployment, **password, password=NEW_PASSWORD)
        assert client.post("/auth/logout", headers=bearer(fourth)).status_code == 204
        live = token(client, deployment, **password, password=NEW_PASSWORD)

    issued = {
        "client secret": deployment.svc_client_secret, "password": PASSWORD,
        "new password": NEW_PASSWORD, "client-credentials token": machine.json()["access_token"],
    }  # fmt: skip
    for name, tokens in [("first", first), ("second", second), ("third", third),
                         ("fourth", fourth), ("live", live)]:  # fmt: skip
        issued[f"{name} access token"] = tokens["access_token"]
        issued[f"{name} refresh token"] = tokens["refresh_token"]

    in_postgres = await postgres_dump(deployment.database_url)
    contents = redis_dump([deployment.redis_url])
    in_redis = b"\n".join([*contents, *(v for values in contents.values() for v in values)])
    files = {str(p): p.read_bytes() for p in deployment.server.data_dir.rglob("*") if p.is_file()}
    places = {"postgres": in_postgres, "redis": in_redis, **files,
              "server output": deployment.server.output()}  # fmt: skip
    for where, content in places.items():
        assert stored_forms(content, issued) == [], f"in {where}"
    # The scan sees what the server wrote, so the assertions above can fail.
    assert stored_forms(in_postgres, {"username": username}) == ["username (raw)"]
    assert stored_forms(in_redis, {"agent": planted_agent}) == ["agent (raw)"]
