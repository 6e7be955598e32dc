# ruff: noqa: PLC0415
"""The API under test of the revocation benchmarks: one Starlette endpoint, run by uvicorn
in a process of its own (`python bench/protected_app.py MODE PORT KEYFILE STORE_URL`).

MODE: `open` (unprotected), `sdk` (JwtkeepMiddleware + Verifier with the verdict cache),
`sdk-nocache` (the same, `verdict_cache=False`), `pg` (the SDK check with a PostgreSQL
store and its NOTIFY feed), `sse` (IntrospectionAllowlist + the issuer's event stream:
STORE_URL is then the issuer URL, KEYFILE carries the client credentials and CA file).
KEYFILE holds the signing keys' public JWKs (a static key ring that drops a kid on a kid
event, as `JwksKeySource.withdraw` does) or, for `sse`, the JWKS/introspection settings.
"""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from jwtkeep.core.jose import load_key  # noqa: E402
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey  # noqa: E402

ISSUER = "https://auth.bench"
AUDIENCE = "bench-api"


class StaticKeys:
    def __init__(self, jwks: list[dict[str, Any]]) -> None:
        keys = [load_key(j["alg"], j["kid"], j) for j in jwks]
        self._ring = KeyRing(
            RingKey(kid=k.kid, alg=k.alg, status=KeyStatus.ACTIVE, created_at=float(i), key=k)
            for i, k in enumerate(keys)
        )

    async def ring(self) -> KeyRing:
        return self._ring

    async def ring_after_miss(self, kid: str) -> KeyRing:
        return self._ring

    def withdraw(self, kid: str) -> None:
        self._ring = KeyRing(k for k in self._ring.keys if k.kid != kid)


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def build(mode: str, keyfile: str, store_url: str) -> Any:
    app = Starlette(routes=[Route("/", hello)])
    if mode == "open":
        return app
    from jwtkeep.sdk import (
        IntrospectionAllowlist,
        JwksKeySource,
        JwtkeepMiddleware,
        StoreAllowlist,
        Verifier,
    )

    config = json.loads(Path(keyfile).read_text())
    if mode == "sse":
        http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=config["ca"]))
        verifier = Verifier(
            issuer=config["issuer"], audience=config["audience"],
            allowlist=IntrospectionAllowlist(store_url + "/oauth/introspect", config["client_id"],
                                             config["client_secret"], http),
            keys=JwksKeySource(jwks_url=store_url + "/.well-known/jwks.json", http_client=http),
        )  # fmt: skip
    elif mode == "pg":
        from jwtkeep.adapters.sql import Database

        database = Database.connect(store_url)
        store = database.tokens
        verifier = Verifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            allowlist=StoreAllowlist(store),
            keys=StaticKeys(config),
            revocations=store.revocation_feed(),
        )  # type: ignore[arg-type]
    else:
        verifier = Verifier.with_redis(
            issuer=ISSUER,
            audience=AUDIENCE,
            redis_url=store_url,
            keys=StaticKeys(config),  # type: ignore[arg-type]
            verdict_cache=mode != "sdk-nocache",
        )
    return JwtkeepMiddleware(app, verifier=verifier, on_request=None)  # no audit hook


if __name__ == "__main__":
    mode, port, keyfile, store_url = sys.argv[1:5]
    uvicorn.run(
        build(mode, keyfile, store_url),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
