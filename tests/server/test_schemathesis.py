"""Property-based API tests from the app's own OpenAPI document (schemathesis, in process).

Every operation gets generated requests, valid and invalid (a bounded number of examples);
for each response: no 5xx, the status code is one the document lists, the content type
and body match what it says. Bearer routes are called with a fresh, valid token (the
401 paths are covered by the other tests), so generated bodies reach the use cases.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from jwtkeep.runtime import build_runtime
from jwtkeep.server import create_app_from_settings
from jwtkeep.settings import Settings
from jwtkeep.usecases.registration import AppSpec, create_app, create_user
from tests.server.conftest import PASSWORD, PASSWORD_GRANTS, USERNAME, make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
async def seeded(
    template_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    shutil.copytree(template_data_dir, data_dir)
    unlimited = {
        "login_failures_per_address": 1_000_000, "login_failures_before_slowdown": 1_000_000,
        "address_failures_per_hour": 1_000_000, "address_attempts_per_minute": 1_000_000,
        "registrations_per_minute": 1_000_000,
    }  # fmt: skip
    config = make_settings(data_dir, allow_registration=True, **unlimited)
    runtime = await build_runtime(config)
    try:
        web = await create_app(
            runtime.context,
            AppSpec(name="web", audience="api", scopes=("read",), grants=PASSWORD_GRANTS),
        )
        await create_user(runtime.context, USERNAME, PASSWORD)
    finally:
        await runtime.close()
    return {"settings": config, "client_id": web.app.client_id}


@pytest.fixture(scope="module")
def api_app(seeded: dict[str, Any]) -> Iterator[FastAPI]:
    config: Settings = seeded["settings"]
    app = create_app_from_settings(config)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()  # runs the app's shutdown: closes its runtime


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


def fresh_token(app: FastAPI, client_id: str) -> str:
    with asgi.get_client(cast(Any, app)) as http:
        response = http.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": USERNAME,
                "password": PASSWORD,
                "client_id": client_id,
            },
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _cases() -> list[Any]:
    """(METHOD, path, mode) for every documented operation: positive data always, negative
    data where the operation takes input. Building the app does no I/O.

    (The schemathesis pytest plugin's lazy `from_fixture` loader does not work with
    pytest 9, so the cases are drawn with Hypothesis from `APIOperation.as_strategy`.)"""
    app = create_app_from_settings(make_settings(Path("unused"), allow_registration=True))
    cases = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            cases.append(pytest.param(method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append(pytest.param(method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_api_conforms(
    api_schema: Any,
    api_app: FastAPI,
    seeded: dict[str, Any],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]
    secured = bool(operation.definition.raw.get("security"))

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        headers: dict[str, str] = {}
        if secured and "authorization" not in {k.lower() for k in (case.headers or {})}:
            headers["Authorization"] = f"Bearer {fresh_token(api_app, seeded['client_id'])}"
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
