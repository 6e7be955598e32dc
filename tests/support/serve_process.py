"""Run a real `jwtkeep` process for end-to-end tests and benchmarks: the CLI, and
`jwtkeep serve` over TLS on a free loopback port with the certificate `init` made."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
    "jwtkeep_command",
    "run_cli",
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


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (uvicorn shuts down cleanly), then SIGKILL to the whole group if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
