"""No active signing key is an outage of the issuer: 503 with Retry-After on
/oauth/token and one log line that says the fix, never a 500 (it was an unhandled
LookupError before)."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from jwtkeep.core.keyring import KeyStatus
from jwtkeep.errors import NoSigningKey
from jwtkeep.ports import KeyChange, User
from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import PASSWORD, USERNAME


async def test_no_active_key_is_a_503_with_retry_after_and_a_clear_log_line(
    runtime: Runtime, client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # What no use case allows any more, forced underneath it: every key withdrawn.
    kids = [key.kid for key in await runtime.database.keys.list_keys()]
    await runtime.database.keys.change_keys(
        lambda _: KeyChange(statuses=dict.fromkeys(kids, KeyStatus.RETIRED))
    )
    await runtime.context.keys.reload()
    form = {"grant_type": "password", "username": USERNAME, "password": PASSWORD,
            "client_id": web_app.app.client_id}  # fmt: skip

    with capture_logs() as logs:
        response = await client.post("/oauth/token", data=form)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(NoSigningKey.retry_after_seconds)
    assert response.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in response.json()
    lines = [line for line in logs if line["event"] == "signing.no_active_key"]
    assert len(lines) == 1
    assert lines[0]["log_level"] == "error"
    assert lines[0]["reason"] == "no active signing key: run `jwtkeep keys rotate`"
    assert not [line for line in logs if line["event"] == "request.failed"]


async def test_a_token_is_issued_again_once_a_key_is_rotated_in(
    runtime: Runtime, client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    kids = [key.kid for key in await runtime.database.keys.list_keys()]
    await runtime.database.keys.change_keys(
        lambda _: KeyChange(statuses=dict.fromkeys(kids, KeyStatus.RETIRED))
    )
    await runtime.context.keys.rotate()
    form = {"grant_type": "password", "username": USERNAME, "password": PASSWORD,
            "client_id": web_app.app.client_id}  # fmt: skip
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
