"""The allowlist straight against the issuer's real Redis token store (no fakes):
issued -> accepted, revoked -> 401, never issued -> 401, Redis down -> 503, back -> 200."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports import AccessRecord, TokenStore
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk import JwksKeySource, JwtkeepMiddleware, StoreAllowlist, Verifier
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.refusals import refused_for

pytestmark = pytest.mark.redis


@pytest.fixture
def clock() -> FixedClock:
    # The store's TTLs are real Redis expiries: use the real time, frozen for the test.
    return FixedClock(now=float(int(time.time())))


async def issue(store: TokenStore, minter: Minter, scope: str = "orders:read") -> str:
    """What the issuer does: mint, then allowlist the fingerprint before handing it out."""
    token = minter.token(scope, allowlisted=False)
    claims = minter.issued[-1]
    record = AccessRecord(
        fingerprint=fingerprint(token), sub=claims.sub, sid=claims.sid, jti=claims.jti,
        client_id=claims.client_id, exp=claims.exp,
    )  # fmt: skip
    await store.add_access(record, minter.clock())
    return token


def verifier_for(store: TokenStore, keys: JwksKeySource, clock: FixedClock) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=AUDIENCE, allowlist=StoreAllowlist(store), keys=keys, clock=clock
    )


async def test_store_allowlist_accepts_issued_and_refuses_revoked(
    fresh_redis_url: str, minter: Minter, key_source: JwksKeySource, clock: FixedClock
) -> None:
    store = await open_token_store(fresh_redis_url)
    try:
        verifier = verifier_for(store, key_source, clock)
        token = await issue(store, minter)
        assert (await verifier.verify(token)).jti == minter.issued[-1].jti
        claims = minter.issued[-1]
        assert await store.remove_access(fingerprint(token), claims.sub, claims.sid)
        with refused_for("not in the allowlist"):
            await verifier.verify(token)
        # Validly signed but never recorded (e.g. minted with a leaked key): refused.
        with refused_for("not in the allowlist"):
            await verifier.verify(minter.token(allowlisted=False))
    finally:
        await store.close()


async def test_verifier_with_redis(
    fresh_redis_url: str, minter: Minter, key_source: JwksKeySource, clock: FixedClock
) -> None:
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=fresh_redis_url, keys=key_source, clock=clock
    )
    store = await open_token_store(fresh_redis_url)
    try:
        token = await issue(store, minter)
        assert (await verifier.verify(token)).sub == minter.issued[-1].sub
    finally:
        await store.close()
        await verifier.aclose()


async def test_redis_down_fails_closed_with_503_and_recovers(
    restartable_redis: Any, minter: Minter, key_source: JwksKeySource, clock: FixedClock
) -> None:
    store = await open_token_store(restartable_redis.url)
    try:
        verifier = verifier_for(store, key_source, clock)
        app = JwtkeepMiddleware(_ok_app, verifier=verifier, on_request=lambda _e: None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            token = await issue(store, minter)
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/", headers=headers)).status_code == 200
            restartable_redis.stop()
            with pytest.raises(StoreUnavailable):
                await verifier.verify(token)
            down = await client.get("/", headers=headers)
            assert down.status_code == 503
            assert down.headers["retry-after"]
            restartable_redis.start()  # empty after the crash: nothing is persisted
            # Pooled connections may each fail once after the restart (503, fail closed,
            # checked above); wait until the store answers again, then each answer is one.
            await until_available(store.ping)
            # The token issued before the crash is gone with the data: refused, not let in.
            refused = await client.get("/", headers=headers)
            assert refused.status_code == 401, refused.text
            token = await issue(store, minter)
            headers = {"Authorization": f"Bearer {token}"}
            # It works again without anyone restarting the API.
            statuses = [(await client.get("/", headers=headers)).status_code for _ in range(5)]
            assert statuses == [200] * 5
    finally:
        await store.close()


async def until_available(step: Any, attempts: int = 5) -> Any:
    """Run `step` until the store answers (a reconnect may fail once per pooled socket)."""
    for _ in range(attempts - 1):
        try:
            return await step()
        except StoreUnavailable:
            continue
    return await step()


async def _ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
