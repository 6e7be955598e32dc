"""End to end: a real `jwtkeep serve` process over TLS, driven by the real CLI and httpx.

The server runs as a subprocess on a free loopback port with the certificate
`jwtkeep init` generated; the client trusts only that certificate. After the login /
userinfo / logout flow, nothing on disk or in the server's output may contain the
access token, the refresh token or the password (DESIGN "Contract: the token store").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.at_rest import stored_forms
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    STARTUP_TIMEOUT,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    run_cli,
    serving,
    start_server,
    stop,
)
from tests.support.services import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    env = clean_environment(data_dir)
    cli_ok(env, "init")
    with serving(data_dir, env) as served:
        yield served


@dataclass
class Flow:
    client_id: str
    user_id: str
    responses: dict[str, httpx.Response] = field(default_factory=dict)
    token: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def flow(server: Server) -> Flow:
    """Create an app and a user with the CLI, then log in, read, log out over HTTPS."""
    app = create_app(server.env, "e2e", "https://api.e2e", "--scope", "read", *PASSWORD_GRANT)
    result = Flow(app["client_id"], create_user(server.env, "erin", PASSWORD + "\n"))
    with server.client() as client:
        login = client.post("/oauth/token", data={
            "grant_type": "password", "client_id": result.client_id, "username": "erin",
            "password": PASSWORD, "scope": "read account",
        })  # fmt: skip
        result.responses["login"] = login
        result.token = login.json() if login.status_code == 200 else {}
        bearer = {"Authorization": f"Bearer {result.token.get('access_token', '')}"}
        result.responses["userinfo"] = client.get("/userinfo", headers=bearer)
        result.responses["logout"] = client.post("/auth/logout", headers=bearer)
        result.responses["userinfo_after"] = client.get("/userinfo", headers=bearer)
        result.responses["refresh_after"] = client.post("/oauth/token", data={
            "grant_type": "refresh_token", "client_id": result.client_id,
            "refresh_token": result.token.get("refresh_token", ""),
        })  # fmt: skip
    return result


def test_banner_tells_a_newcomer_what_to_do(server: Server) -> None:
    banner = server.stdout.read_text()
    assert server.url in banner
    assert "issuer:  https://localhost:" in banner
    assert f"--cacert {server.cert.resolve()}" in banner
    # The tour's token must reach the account API: it asks for the `account` scope.
    assert "scope=read account" in banner
    for step in ("app create", "user create", "/oauth/token", "/userinfo", "/auth/logout"):
        assert step in banner


def test_login_over_tls(flow: Flow) -> None:
    login = flow.responses["login"]
    assert login.status_code == 200, login.text
    assert login.headers["cache-control"] == "no-store"
    assert flow.token["token_type"] == "Bearer"
    assert flow.token["refresh_token"]
    assert "server" not in login.headers  # server_header=False


def test_userinfo_then_logout_then_refused(flow: Flow) -> None:
    userinfo = flow.responses["userinfo"]
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == flow.user_id
    assert flow.responses["logout"].status_code == 204
    after = flow.responses["userinfo_after"]
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    refresh = flow.responses["refresh_after"]
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


def test_no_secret_reaches_the_disk_or_the_logs(server: Server, flow: Flow) -> None:
    # On SQLite (this server's store); PostgreSQL and Redis: tests/e2e/test_at_rest_e2e.py.
    secrets = {
        "access token": flow.token["access_token"],
        "refresh token": flow.token["refresh_token"],
        "password": PASSWORD,
    }
    # Every file in the data folder: jwtkeep.db and its -wal/-shm, keys, TLS.
    files = {str(p): p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file()}
    # The database is jwtkeep.db and its write-ahead log: a row stays in the log until a
    # checkpoint, which waits while the server holds a connection (its key schedule does).
    database = b"".join(
        content for name, content in files.items() if name.endswith(("jwtkeep.db", "-wal"))
    )
    # The scan sees what the server wrote (the user's id and name), so it can fail.
    assert stored_forms(database, {"user id": flow.user_id, "username": "erin"}) == [
        "user id (raw)", "username (raw)"]  # fmt: skip
    files["server stdout+stderr"] = server.output()
    for where, content in files.items():
        assert stored_forms(content, secrets) == [], f"in {where}"


def test_the_port_speaks_only_tls(server: Server) -> None:
    with httpx.Client(timeout=5) as client, pytest.raises(httpx.TransportError):
        client.get(f"http://127.0.0.1:{server.port}/healthz")


def test_insecure_http_is_refused_off_loopback(tmp_path: Path) -> None:
    env = clean_environment(tmp_path / "data")
    result = run_cli(env, "serve", "--host", "0.0.0.0", "--port", str(free_port()),
                     "--insecure-http")  # fmt: skip
    assert result.returncode == 2
    assert "--insecure-http is refused on 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_insecure_http_on_loopback_serves_plain_http(server: Server) -> None:
    plain = start_server(server.data_dir, server.env, "--insecure-http")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{plain.port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                if plain.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(plain.output().decode(errors="replace"))
                time.sleep(0.1)
        assert response.status_code == 200
        assert "OFF (--insecure-http" in plain.stdout.read_text()
    finally:
        stop(plain.process)
