"""The ways to build the app: from a runtime, from settings (lifespan), uvicorn's factory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jwtkeep.ports import KeyChange
from jwtkeep.runtime import open_runtime
from jwtkeep.server import UVICORN_OPTIONS, app_factory, create_app_from_settings
from tests.server.conftest import BASE_URL, FAST_ARGON2, ISSUER, make_settings


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def test_app_from_settings_builds_and_closes_its_runtime(data_dir: Path) -> None:
    app = create_app_from_settings(make_settings(data_dir))
    async with _client(app) as http:
        before = await http.get("/.well-known/jwks.json")
        assert before.status_code == 503  # not started: fail closed, never half-configured
        assert (await http.get("/readyz")).status_code == 503
        async with app.router.lifespan_context(app):
            assert (await http.get("/readyz")).status_code == 200
            assert len((await http.get("/.well-known/jwks.json")).json()["keys"]) == 1
        assert (await http.get("/readyz")).status_code == 503


async def test_app_factory_reads_the_environment(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "jwtkeep.toml"
    config.write_text(f'issuer = "{ISSUER}/from-file"\nallow_registration = true\n')
    monkeypatch.setenv("JWTKEEP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("JWTKEEP_CONFIG", str(config))
    for name, value in FAST_ARGON2.items():
        monkeypatch.setenv(f"JWTKEEP_{name.upper()}", str(value))
    app = app_factory()
    async with app.router.lifespan_context(app), _client(app) as http:
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["issuer"] == f"{ISSUER}/from-file"
        assert (await http.post("/users", json={})).status_code == 400  # mounted: registration on


def test_uvicorn_options_are_valid_and_safe(data_dir: Path) -> None:
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(create_app_from_settings(make_settings(data_dir)), **UVICORN_OPTIONS)
    assert config.server_header is False  # no Server header
    assert config.proxy_headers is False  # X-Forwarded-For only via settings.trusted_proxies


async def test_the_served_app_runs_the_key_rotation_schedule(data_dir: Path) -> None:
    # Before issue 9 nothing rotated keys on a schedule: a key could sign for years.
    settings = make_settings(data_dir, key_rotation_days=1)
    async with open_runtime(settings) as runtime:
        (old,) = await runtime.database.keys.list_keys()
        aged = dataclasses.replace(old, activates_at=runtime.context.clock() - 2 * 86400)
        await runtime.database.keys.change_keys(lambda _: KeyChange(replace=(aged,)))
    app = create_app_from_settings(settings)
    async with app.router.lifespan_context(app), _client(app) as http:
        kids = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
        assert len(kids) == 2  # the next key is published, before it signs
        assert (await http.get("/readyz")).status_code == 200
    async with open_runtime(settings) as runtime:
        ring = await runtime.context.keys.ring()
        assert ring.signer(runtime.context.clock()).kid == old.kid  # not yet its time
        events = await runtime.context.audit.query(limit=10)
    (event,) = [e for e in events if e.event == "key.rotated"]
    assert event.actor == "scheduler"
    assert event.detail["kid"] in kids - {old.kid}
