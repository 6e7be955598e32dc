"""End to end: a real `jwtkeep serve` process over TLS, driven by the real CLI and httpx.

The server runs as a subprocess on a free loopback port with the certificate
`jwtkeep init` generated; the client trusts only that certificate. After the login /
userinfo / logout flow, nothing on disk or in the server's output may contain the
access token, the refresh token or the password (DESIGN "Contract: the token store").
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.services import free_port

pytestmark = pytest.mark.e2e

PASSWORD = "e2e correct horse battery staple"
STARTUP_TIMEOUT = 60.0
FAST_ARGON2 = {
    "JWTKEEP_ARGON2_TIME_COST": "1",
    "JWTKEEP_ARGON2_MEMORY_KIB": "64",
    "JWTKEEP_ARGON2_PARALLELISM": "1",
}


def jwtkeep_command() -> list[str]:
    """The installed console script if there is one (what users run), else the module."""
    script = Path(sys.executable).parent / "jwtkeep"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jwtkeep.cli"]


def clean_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKEEP_")}
    env.update(FAST_ARGON2, JWTKEEP_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jwtkeep_command(), *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    env: dict[str, str]
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def cert(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cert))
        return httpx.Client(base_url=self.url, verify=context, timeout=10)

    def output(self) -> bytes:
        return self.stdout.read_bytes() + self.stderr.read_bytes()


def start_server(data_dir: Path, env: dict[str, str], *args: str) -> Server:
    port = free_port()
    logs = data_dir.parent
    stdout, stderr = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*jwtkeep_command(), "serve", "--port", str(port), *args],
            env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server(process, port, data_dir, env, stdout, stderr)


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url = f"{server.url}/healthz"
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"jwtkeep serve exited with {server.process.returncode}:\n"
                        f"{server.output().decode(errors='replace')}")  # fmt: skip
        try:
            with server.client() as client:
                if client.get(url).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"jwtkeep serve not healthy after {STARTUP_TIMEOUT}s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (uvicorn shuts down cleanly), then SIGKILL to the whole group if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    env = clean_environment(data_dir)
    init = run_cli(env, "init")
    assert init.returncode == 0, init.stderr
    served = start_server(data_dir, env)
    try:
        wait_until_healthy(served)
        yield served
    finally:
        stop(served.process)


@dataclass
class Flow:
    client_id: str
    user_id: str
    responses: dict[str, httpx.Response] = field(default_factory=dict)
    token: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def flow(server: Server) -> Flow:
    """Create an app and a user with the CLI, then log in, read, log out over HTTPS."""
    app = run_cli(server.env, "app", "create", "e2e", "--audience", "https://api.e2e",
                  "--scope", "read", "--json")  # fmt: skip
    assert app.returncode == 0, app.stderr
    user = run_cli(server.env, "user", "create", "erin", "--password-stdin", "--json",
                   stdin=PASSWORD + "\n")  # fmt: skip
    assert user.returncode == 0, user.stderr
    result = Flow(json.loads(app.stdout)["client_id"], json.loads(user.stdout)["id"])
    with server.client() as client:
        login = client.post("/oauth/token", data={
            "grant_type": "password", "client_id": result.client_id, "username": "erin",
            "password": PASSWORD, "scope": "read",
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
    access, refresh = flow.token["access_token"], flow.token["refresh_token"]
    refresh_secret = refresh.rsplit(".", 1)[-1]  # the part that is not the session id
    secrets = {
        "access token": access.encode(),
        "access token signature": access.rsplit(".", 1)[-1].encode(),
        "refresh token": refresh.encode(),
        "refresh token secret": refresh_secret.encode(),
        "password": PASSWORD.encode(),
    }
    # Every file in the data folder: jwtkeep.db and its -wal/-shm, keys, TLS.
    files = {str(p): p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file()}
    assert any(name.endswith("jwtkeep.db") for name in files)
    files["server stdout+stderr"] = server.output()
    for where, content in files.items():
        for what, secret in secrets.items():
            assert secret not in content, f"the {what} is in {where}"


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
