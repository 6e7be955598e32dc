"""Helpers for the CLI tests: run `jwtkeep` in-process and look at the real state."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from jwtkeep.cli.main import app
from jwtkeep.core.clock import system_random
from jwtkeep.errors import InvalidToken
from jwtkeep.runtime import Runtime, open_runtime
from jwtkeep.settings import Settings, load_settings
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from tests.support.redis_server import CORRECTNESS_TIMEOUT

T = TypeVar("T")

FAST_ARGON2 = {
    "JWTKEEP_ARGON2_TIME_COST": "1",
    "JWTKEEP_ARGON2_MEMORY_KIB": "64",
    "JWTKEEP_ARGON2_PARALLELISM": "1",
}
PASSWORD = "correct horse battery staple"


class Cli:
    """Run `jwtkeep ARGS...`; a command may fail, but never with an unhandled exception."""

    def __init__(self, data_dir: Path) -> None:
        self.runner = CliRunner()
        self.data_dir = data_dir

    def __call__(self, *args: str, input: str | bytes | None = None) -> Result:
        result = self.runner.invoke(app, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"unhandled exception: {result.exception!r}") from (
                result.exception
            )
        assert "Traceback" not in result.output
        return result

    def ok(self, *args: str, input: str | bytes | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def settings(self) -> Settings:
        return load_settings()

    def with_runtime(self, action: Callable[[Runtime], Awaitable[T]]) -> T:
        async def body() -> T:
            async with open_runtime(self.settings()) as runtime:
                return await action(runtime)

        return asyncio.run(body())


def isolate_environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    for name in list(os.environ):
        if name.startswith("JWTKEEP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("JWTKEEP_DATA_DIR", str(data_dir))
    for name, value in FAST_ARGON2.items():
        monkeypatch.setenv(name, value)
    # These tests check answers, not timeouts: a pause of this long-lived test process (or
    # of the shared machine) must not turn a call to the Redis token store into a
    # StoreUnavailable (a connect did, once in CI, at the 0.25 s default).
    monkeypatch.setenv("JWTKEEP_STORE_TIMEOUT", str(CORRECTNESS_TIMEOUT))


def one_json(result: Result) -> Any:
    """Standard output must be exactly one JSON value."""
    return json.loads(result.stdout)


def login(cli: Cli, client_id: str, username: str, *, sid_bytes: bytes | None = None) -> str:
    """A real login (the password grant use case); the new access token. `sid_bytes`: the
    random bytes the session id is made of (the first 16 the login draws)."""

    async def action(runtime: Runtime) -> str:
        app = await runtime.context.apps.app_by_client_id(client_id)
        assert app is not None
        info = RequestInfo(ip="127.0.0.1", user_agent="tests")
        if sid_bytes is not None:
            runtime.context.random = _first_draw(sid_bytes)
        response = await password_grant(runtime.context, app, username, PASSWORD, None, info)
        return response.access_token

    return cli.with_runtime(action)


def _first_draw(first: bytes) -> Callable[[int], bytes]:
    """A random source whose first draw is `first`; system randomness after it."""
    draws = iter([first])

    def random(n: int) -> bytes:
        value = next(draws, None) or system_random(n)
        assert len(value) == n
        return value

    return random


def verifies(cli: Cli, token: str) -> bool:
    """Whether the runtime's verifier (signature, claims and allowlist) accepts `token`."""

    async def action(runtime: Runtime) -> bool:
        try:
            await runtime.verifier.verify(token)
        except InvalidToken:
            return False
        return True

    return cli.with_runtime(action)
