"""Run a real `jwtkeep` process for end-to-end tests and benchmarks: the CLI, and
`jwtkeep serve` over TLS on a free loopback port with the certificate `init` made.

The set-up the end-to-end tests share: `cli_ok` / `cli_json` (a command that must
succeed), `create_app` and `create_user` (the real CLI, `--json`), `serving` (a server
started, healthy, stopped when the block ends), `issuer_of` and `password_grant`."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.services import free_port

__all__ = [
    "FAST_ARGON2",
    "PASSWORD",
    "PASSWORD_GRANT",
    "SERVICE_GRANTS",
    "STARTUP_TIMEOUT",
    "Server",
    "clean_environment",
    "cli_json",
    "cli_ok",
    "create_app",
    "create_user",
    "issuer_of",
    "jwtkeep_command",
    "new_master_key",
    "password_grant",
    "replica_environments",
    "run_cli",
    "serving",
    "start_server",
    "stop",
    "wait_until_healthy",
]

PASSWORD = "e2e correct horse battery staple"
# `jwtkeep app create` flags for apps these tests log in to with the password grant (an
# opt-in, RFC 9700 §2.4), and for a confidential app that also uses client credentials.
PASSWORD_GRANT = ("--grant", "password", "--grant", "refresh_token")
SERVICE_GRANTS = (*PASSWORD_GRANT, "--grant", "client_credentials")
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


def new_master_key() -> str:
    """A random `JWTKEEP_MASTER_KEY`: 32 bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def replica_environments(
    root: Path, shared: dict[str, str], names: tuple[str, ...] = ("a", "b")
) -> list[dict[str, str]]:
    """One data folder per replica (`root/NAME`), each with `jwtkeep init` run, on the
    `shared` settings (the database, the token store, the master key, ...)."""
    envs = []
    for name in names:
        env = clean_environment(root / name)
        env.update(shared)
        cli_ok(env, "init")
        envs.append(env)
    return envs


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jwtkeep_command(), *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def cli_ok(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`jwtkeep ARGS...`, which must succeed (its standard error says why not)."""
    result = run_cli(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result


def cli_json(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    """The one JSON value a successful `jwtkeep ARGS...` printed."""
    return json.loads(cli_ok(env, *args, stdin=stdin).stdout)


def create_app(env: dict[str, str], name: str, audience: str, *flags: str) -> dict[str, str]:
    """`jwtkeep app create NAME --audience AUDIENCE FLAGS... --json`: the client id (and
    the secret of a confidential app)."""
    created: dict[str, str] = cli_json(env, "app", "create", name, "--audience", audience,
                                       *flags, "--json")  # fmt: skip
    return created


def create_user(env: dict[str, str], username: str, password_stdin: str = PASSWORD) -> str:
    """`jwtkeep user create USERNAME --password-stdin --json`: the user's id."""
    user_id: str = cli_json(env, "user", "create", username, "--password-stdin", "--json",
                            stdin=password_stdin)["id"]  # fmt: skip
    return user_id


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
            raise RuntimeError(f"jwtkeep serve exited with {server.process.returncode}:\n"
                        f"{server.output().decode(errors='replace')}")  # fmt: skip
        try:
            with server.client() as client:
                if client.get(url).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jwtkeep serve not healthy after {STARTUP_TIMEOUT}s")
        time.sleep(0.1)


@contextmanager
def serving(data_dir: Path, env: dict[str, str], *args: str) -> Iterator[Server]:
    """`jwtkeep serve ARGS...` for the block: started, healthy, then stopped."""
    server = start_server(data_dir, env, *args)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        stop(server.process)


def issuer_of(server: Server, document: str = "oauth-authorization-server") -> str:
    """The `issuer` of the server's metadata (RFC 8414, or `openid-configuration`)."""
    with server.client() as client:
        issuer: str = client.get(f"/.well-known/{document}").json()["issuer"]
    return issuer


def password_grant(
    client: httpx.Client, client_id: str, username: str, *, scope: str | None = None,
    password: str = PASSWORD, secret: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A password grant at the token endpoint, which must succeed: the token response."""
    form = {"grant_type": "password", "client_id": client_id, "username": username,
            "password": password}  # fmt: skip
    if scope is not None:
        form["scope"] = scope
    if secret is not None:
        form["client_secret"] = secret
    response = client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (uvicorn shuts down cleanly), then SIGKILL to the whole group if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
