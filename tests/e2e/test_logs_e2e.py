"""What a real `jwtkeep serve` writes when a request fails: never a secret, never a flood.

The server's fd 1 and 2 are files (tests.support.serve_process); every test reads all of
it. Unexpected exceptions are forced without faking jwtkeep: the test corrupts rows of the
server's own SQLite database with sqlite3 (a JSON column that no longer decodes, a text
column holding bytes) or makes a table refuse writes (a trigger), so the real code raises.
The client must get a generic 500 and the log one redacted, locals-free event of a few
KB. A client that hangs up in the middle of its password-grant body is one quiet line.
Both log formats (JWTKEEP_LOG_FORMAT=json and console).
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import httpx
import pytest

from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    SERVICE_GRANTS,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    serving,
)

pytestmark = pytest.mark.e2e
MAX_EVENT_BYTES = 8 * 1024
USERNAME = "rita"
NEW_PASSWORD = "e2e a brand new password for rita"
CORRUPT_AUDIT = (
    "CREATE TRIGGER test_corrupt_audit BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit table is corrupt'); END"
)


@dataclass
class Deployment:
    server: Server
    log_format: str
    apps: dict[str, dict[str, str]]
    password: str = PASSWORD
    secrets: set[str] = field(default_factory=set)

    @property
    def database(self) -> Path:
        return self.server.data_dir / "jwtkeep.db"

    def remember(self, *values: str) -> None:
        """A secret used in a request: it must never appear in the output."""
        for value in values:
            self.secrets.update({value, quote_plus(value), quote_plus(value, safe="")})

    def client(self) -> httpx.Client:
        return self.server.client()


def _create_app(env: dict[str, str], name: str, *extra: str) -> dict[str, str]:
    return create_app(env, name, f"https://api.{name}", "--scope", "read", *extra)


@pytest.fixture(scope="module", params=["json", "console"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp(f"logs-{request.param}") / "data"
    env = clean_environment(data_dir)
    env["JWTKEEP_LOG_FORMAT"] = request.param
    cli_ok(env, "init")
    apps = {
        "web": _create_app(env, "web", *PASSWORD_GRANT),
        # never used before its row is corrupted
        "fresh": _create_app(env, "fresh", *PASSWORD_GRANT),
        "machine": _create_app(env, "machine", "--confidential", *SERVICE_GRANTS),
    }
    create_user(env, USERNAME)
    with serving(data_dir, env) as server:
        deployment = Deployment(server, request.param, apps)
        deployment.remember(PASSWORD, NEW_PASSWORD, apps["machine"]["client_secret"])
        machine = f"{apps['machine']['client_id']}:{apps['machine']['client_secret']}"
        deployment.remember(base64.b64encode(machine.encode()).decode())
        yield deployment


@contextmanager
def corrupted(deployment: Deployment, damage: str, repair: str, *args: str) -> Iterator[None]:
    """Run `damage` on the server's database for the duration, then `repair`."""
    with sqlite3.connect(deployment.database, timeout=10, isolation_level=None) as db:
        db.execute(damage, args)
    try:
        yield
    finally:
        with sqlite3.connect(deployment.database, timeout=10, isolation_level=None) as db:
            db.execute(repair, args)


def login(deployment: Deployment) -> dict[str, str]:
    with deployment.client() as client:
        response = client.post("/oauth/token", data={
            "grant_type": "password", "client_id": deployment.apps["web"]["client_id"],
            "username": USERNAME, "password": deployment.password, "scope": "read account",
        })  # fmt: skip
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    deployment.remember(tokens["access_token"], tokens["refresh_token"])
    return tokens


def sid_of(deployment: Deployment, refresh_token: str) -> str:
    return refresh_token.removeprefix("jkrt_").split(".")[0]


def assert_one_quiet_failure(deployment: Deployment, before: int, response: httpx.Response) -> None:
    """A generic 500, one redacted event of a few KB, and no secret anywhere so far."""
    assert response.status_code == 500, response.text
    assert "Traceback" not in response.text
    output = deployment.server.output()
    assert_no_secret(deployment, output)
    written = output[before:]
    assert len(written) <= MAX_EVENT_BYTES, f"{len(written)} bytes for one failed request"
    text = written.decode()
    assert text.count("request.failed") == 1, text
    if deployment.log_format == "json":
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        (failure,) = [event for event in events if event["event"] == "request.failed"]
        assert failure["level"] == "error"
        assert "Traceback (most recent call last)" in failure["exception"]


def assert_no_secret(deployment: Deployment, output: bytes) -> None:
    text = output.decode(errors="replace")
    leaked = sorted(secret for secret in deployment.secrets if secret and secret in text)
    assert leaked == [], f"{len(leaked)} secrets in the server's output"
    # Frame locals are never rendered (rich and better-exceptions both print these).
    assert "locals" not in text.lower()
    assert "scope = {" not in text


def size(deployment: Deployment) -> int:
    return len(deployment.server.output())


def test_password_grant(deployment: Deployment) -> None:
    fresh = deployment.apps["fresh"]["client_id"]
    before = size(deployment)
    damage = "UPDATE apps SET scopes = '[\"read\", broken' WHERE client_id = ?"
    repair = "UPDATE apps SET scopes = '[\"read\"]' WHERE client_id = ?"
    with corrupted(deployment, damage, repair, fresh), deployment.client() as client:
        response = client.post("/oauth/token", data={
            "grant_type": "password", "client_id": fresh, "username": USERNAME,
            "password": deployment.password,
        })  # fmt: skip
    assert_one_quiet_failure(deployment, before, response)


def test_client_credentials_grant(deployment: Deployment) -> None:
    machine = deployment.apps["machine"]
    before = size(deployment)
    damage = "UPDATE apps SET extra_claims = '{broken' WHERE client_id = ?"
    repair = "UPDATE apps SET extra_claims = '{}' WHERE client_id = ?"
    with corrupted(deployment, damage, repair, machine["client_id"]), deployment.client() as c:
        response = c.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(machine["client_id"], machine["client_secret"]))  # fmt: skip
    assert_one_quiet_failure(deployment, before, response)


def test_refresh_token_grant(deployment: Deployment) -> None:
    tokens = login(deployment)
    before = size(deployment)
    sid = sid_of(deployment, tokens["refresh_token"])
    damage = "UPDATE sessions SET scope = X'ff00ff' WHERE sid = ?"
    repair = "UPDATE sessions SET scope = 'account read' WHERE sid = ?"
    with corrupted(deployment, damage, repair, sid), deployment.client() as client:
        response = client.post("/oauth/token", data={
            "grant_type": "refresh_token", "client_id": deployment.apps["web"]["client_id"],
            "refresh_token": tokens["refresh_token"],
        })  # fmt: skip
    assert_one_quiet_failure(deployment, before, response)


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_userinfo(deployment: Deployment) -> None:
    tokens = login(deployment)
    before = size(deployment)
    damage = "UPDATE users SET username = X'ff00ff' WHERE username = 'rita'"
    repair = "UPDATE users SET username = 'rita' WHERE username = X'ff00ff'"
    with corrupted(deployment, damage, repair), deployment.client() as client:
        response = client.get("/userinfo", headers=bearer(tokens))
    assert_one_quiet_failure(deployment, before, response)


def test_list_sessions(deployment: Deployment) -> None:
    tokens = login(deployment)
    before = size(deployment)
    sid = sid_of(deployment, tokens["refresh_token"])
    damage = "UPDATE sessions SET user_agent = X'ff00ff' WHERE sid = ?"
    repair = "UPDATE sessions SET user_agent = 'tests' WHERE sid = ?"
    with corrupted(deployment, damage, repair, sid), deployment.client() as client:
        response = client.get("/auth/sessions", headers=bearer(tokens))
    assert_one_quiet_failure(deployment, before, response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/auth/logout"), ("POST", "/auth/logout-all"), ("DELETE", "/auth/sessions/SID")],
)
def test_session_endings(deployment: Deployment, method: str, path: str) -> None:
    tokens = login(deployment)
    before = size(deployment)
    path = path.replace("SID", sid_of(deployment, tokens["refresh_token"]))
    repair = "DROP TRIGGER test_corrupt_audit"
    with corrupted(deployment, CORRUPT_AUDIT, repair), deployment.client() as client:
        response = client.request(method, path, headers=bearer(tokens))
    assert_one_quiet_failure(deployment, before, response)


def test_password_change(deployment: Deployment) -> None:
    tokens = login(deployment)
    before = size(deployment)
    body = {"current_password": deployment.password, "new_password": NEW_PASSWORD}
    repair = "DROP TRIGGER test_corrupt_audit"
    with corrupted(deployment, CORRUPT_AUDIT, repair), deployment.client() as client:
        response = client.post("/auth/password", json=body, headers=bearer(tokens))
    # The change itself was committed before the audit insert failed.
    deployment.password = NEW_PASSWORD
    assert_one_quiet_failure(deployment, before, response)


def _wait_for(deployment: Deployment, marker: bytes, before: int) -> bytes:
    deadline = time.monotonic() + 30
    while marker not in deployment.server.output()[before:]:
        if time.monotonic() > deadline:
            return deployment.server.output()[before:]
        time.sleep(0.05)
    time.sleep(0.3)  # anything uvicorn might still write about that connection
    return deployment.server.output()[before:]


def test_client_disconnect_in_the_middle_of_the_body(deployment: Deployment) -> None:
    server = deployment.server
    body = urlencode({
        "grant_type": "password", "client_id": deployment.apps["web"]["client_id"],
        "username": USERNAME, "password": deployment.password,
    }).encode()  # fmt: skip
    basic = base64.b64encode(b"web:" + deployment.password.encode()).decode()
    deployment.remember(basic)
    head = (
        f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Authorization: Basic {basic}\r\n"
        f"Content-Length: {len(body) + 500}\r\n\r\n"
    ).encode()
    context = ssl.create_default_context(cafile=str(server.cert))
    before = size(deployment)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(head + body)
        time.sleep(0.3)  # let the server read the partial body before the hang-up
    written = _wait_for(deployment, b"request.client_disconnected", before)
    text = written.decode(errors="replace")
    assert text.count("request.client_disconnected") == 1, text
    assert "Traceback" not in text
    assert "Exception in ASGI application" not in text
    assert len(written) <= 2048, f"{len(written)} bytes for one hang-up"
    disconnect_lines = [line for line in text.splitlines() if "client_disconnected" in line]
    assert len(disconnect_lines) == 1
    assert_no_secret(deployment, server.output())
