"""Fixtures for in-process HTTP tests of the jwtkeep server (reusable by other suites).

Everything is real: a `Runtime` from `jwtkeep.runtime.build_runtime` on a SQLite database
in a temp folder, the app from `jwtkeep.server.create_app`, requests through
`httpx.ASGITransport`. Argon2 runs with tiny parameters so the suite stays fast.

The data folder (migrated schema, master key, first signing key) is built once per
session and copied for each test, so every test gets an empty database of its own.

- `settings_overrides`: a dict of extra settings; override it in a test module, or
  parametrize it: `@pytest.mark.parametrize("settings_overrides", [{"allow_registration": True}])`.
- `settings`, `runtime`, `app` (lifespan running), `client` (base URL https://testserver).
- `metrics_client`: the metrics listener's app for `app` (`create_metrics_app`).
- `web_app`: a public app (scopes read, write; audience "api"; account access; the
  password and refresh grants); `service_app`: a confidential one (audience
  "service-api", `.client_secret` is set; also client credentials);
  `user`: "alice" with `PASSWORD`.
- `login(...)`: password grant for a user/app, returning the token response JSON; pass
  `scope=ACCOUNT_SCOPE` (or more) for a token the account routes accept.
- `bearer(token)`, `basic(client_id, secret)`: Authorization headers.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from jwtkeep.ports import User
from jwtkeep.runtime import Runtime, build_runtime, prepare_data_dir
from jwtkeep.server import create_app, create_metrics_app
from jwtkeep.settings import Settings, load_settings
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_user
from jwtkeep.usecases.registration import create_app as register_app
from tests.support.services import free_port

ISSUER = "https://auth.example.test"
PASSWORD = "correct horse battery staple"
USERNAME = "alice"
ACCOUNT_SCOPE = "read account"  # a web_app token that also reaches the account API
BASE_URL = "https://testserver"
# The password grant is an opt-in (RFC 9700 §2.4); these fixtures' apps opt in.
PASSWORD_GRANTS = ("password", "refresh_token")
SERVICE_GRANTS = ("password", "refresh_token", "client_credentials")
FAST_ARGON2: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 64,
    "argon2_parallelism": 1,
}

Login = Callable[..., Awaitable[dict[str, Any]]]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "issuer": ISSUER, **FAST_ARGON2}
    values.update(overrides)
    return load_settings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: each half form-urlencoded, then Base64."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they pass, never the developer's JWTKEEP_* variables."""
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("JWTKEEP_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
async def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated data folder with a master key and a signing key, built once."""
    data_dir = tmp_path_factory.mktemp("jwtkeep-template") / "data"
    settings = make_settings(data_dir)
    prepare_data_dir(settings)
    runtime = await build_runtime(settings, migrate=True)
    try:
        await runtime.context.keys.ensure_signing_key()
    finally:
        await runtime.close()
    return data_dir


@pytest.fixture
def data_dir(template_data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(template_data_dir, target)
    return target


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(data_dir: Path, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(data_dir, **settings_overrides)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = await build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    application = create_app(runtime)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def metrics_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_metrics_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


@pytest.fixture
async def web_app(runtime: Runtime) -> CreatedApp:
    spec = AppSpec(name="web", audience="api", scopes=("read", "write"), account_access=True,
                   grants=PASSWORD_GRANTS)  # fmt: skip
    return await register_app(runtime.context, spec)


@pytest.fixture
async def service_app(runtime: Runtime) -> CreatedApp:
    spec = AppSpec(
        name="service", audience="service-api", scopes=("read",), confidential=True,
        account_access=True, grants=SERVICE_GRANTS,
    )  # fmt: skip
    return await register_app(runtime.context, spec)


@pytest.fixture
async def user(runtime: Runtime) -> User:
    return await create_user(runtime.context, USERNAME, PASSWORD)


@pytest.fixture
def login(client: httpx.AsyncClient, web_app: CreatedApp, user: User) -> Login:
    async def password_grant(
        username: str = USERNAME,
        password: str = PASSWORD,
        app: CreatedApp | None = None,
        headers: dict[str, str] | None = None,
        **extra: str,
    ) -> dict[str, Any]:
        chosen = app or web_app
        form = {
            "grant_type": "password",
            "username": username,
            "password": password,
            "client_id": chosen.app.client_id,
            **extra,
        }
        if chosen.client_secret:
            form["client_secret"] = chosen.client_secret
        response = await client.post("/oauth/token", data=form, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return password_grant


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    return free_port()
