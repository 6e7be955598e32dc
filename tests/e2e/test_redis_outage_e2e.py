"""A real `jwtkeep serve` on a real Redis token store, with Redis killed mid-traffic.

DESIGN "Contract: the token store": with the store unreachable, verification fails
closed (503 with Retry-After, never a 500, never a token accepted unchecked) and the
token endpoint issues nothing; when Redis is back, service resumes without restarting
jwtkeep. With AOF persistence (docs/operations.md), tokens issued before the outage are
accepted again afterwards; a Redis that comes back empty logs everyone out instead.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    serving,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@dataclass
class Stack:
    server: Server
    redis: RedisProcess
    client_id: str


@pytest.fixture(params=["aof", "empty"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, redis_executable: str) -> Iterator[Stack]:
    persistence = ("--appendonly", "yes", "--appendfsync", "always")
    redis = RedisProcess(redis_executable, tmp_path / "redis", None,
                         *(persistence if request.param == "aof" else ()))  # fmt: skip
    redis.start()
    env = clean_environment(tmp_path / "data")
    env["JWTKEEP_TOKEN_STORE_URL"] = redis.url
    try:
        cli_ok(env, "init")
        client_id = create_app(env, "web", "https://api.web", *PASSWORD_GRANT)["client_id"]
        create_user(env, "uma")
        with serving(tmp_path / "data", env) as server:
            yield Stack(server, redis, client_id)
    finally:
        redis.terminate()


def login(client: httpx.Client, client_id: str) -> httpx.Response:
    return client.post("/oauth/token", data={
        "grant_type": "password", "client_id": client_id, "username": "uma", "password": PASSWORD,
        "scope": "account",  # the token is used on /userinfo, the account API
    })  # fmt: skip


class Traffic:
    """Requests /userinfo with one token in a loop and tallies what comes back."""

    def __init__(self, server: Server, token: str) -> None:
        self.server, self.token = server, token
        self.seen: Counter[int] = Counter()
        self.retry_after_missing = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with self.server.client() as client:
            for _ in range(20_000):  # bounded
                if self._stop.is_set():
                    return
                response = client.get("/userinfo", headers=headers)
                self.seen[response.status_code] += 1
                if response.status_code == 503 and not response.headers.get("retry-after"):
                    self.retry_after_missing += 1


def wait_for(predicate: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_redis_killed_mid_traffic_fails_closed_then_recovers(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    with stack.server.client() as client:
        token = login(client, stack.client_id).json()["access_token"]
        with Traffic(stack.server, token) as traffic:
            wait_for(lambda: traffic.seen[200] >= 20)
            assert stack.redis.process is not None
            stack.redis.process.send_signal(signal.SIGKILL)
            stack.redis.process.wait(timeout=10)
            wait_for(lambda: traffic.seen[503] >= 20)
            during = login(client, stack.client_id)
            assert during.status_code == 503
            assert "access_token" not in during.text
            assert client.get("/readyz").status_code == 503
            stack.redis.start()  # same port; jwtkeep is not restarted
            wait_for(lambda: client.get("/readyz").status_code == 200)
            after = login(client, stack.client_id)
            assert after.status_code == 200
            fresh = after.json()["access_token"]
            assert (
                client.get("/userinfo", headers={"Authorization": f"Bearer {fresh}"}).status_code
                == 200
            )
            old = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code
    assert not {code for code in traffic.seen if code >= 500} - {503}, traffic.seen
    assert traffic.retry_after_missing == 0
    if request.node.callspec.params["stack"] == "aof":
        assert old == 200  # persisted: the outage did not log anyone out
    else:
        assert old == 401  # came back empty: every earlier token is refused (documented)
