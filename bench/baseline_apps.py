# ruff: noqa: PLC0415
"""The baselines of bench/bench_throughput.py, each run in a process of its own.

    python bench/baseline_apps.py handrolled PORT KEYFILE REDIS_URL   (uvicorn, 1 worker)
    gunicorn -w 1 'bench.baseline_apps:flask_app()'                    (flask-jwt-extended)

- `handrolled`: what a team writes by hand: PyJWT `jwt.decode` (EdDSA public key, `aud`,
  `iss`, `exp` checked) and one `redis.asyncio` GET of the token's SHA-256 fingerprint,
  in a Starlette endpoint on uvicorn.
- `flask_app`: flask-jwt-extended with its documented Redis blocklist
  (flask-jwt-extended.readthedocs.io, "Blocklist and Token Revoking": a
  `token_in_blocklist_loader` that GETs the token's `jti` from Redis), HS256 (its
  default), on gunicorn's sync worker, the server its docs deploy with.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import jwt
import redis
import redis.asyncio as aredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ISSUER, AUDIENCE = "https://auth.bench", "bench-api"


def handrolled(keyfile: str, redis_url: str) -> Starlette:
    jwk = json.loads(Path(keyfile).read_text())[0]
    key = jwt.PyJWK(jwk).key
    client = aredis.Redis.from_url(redis_url)

    async def hello(request: Request) -> PlainTextResponse:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return PlainTextResponse("no token", status_code=401)
        token = header[7:]
        try:
            jwt.decode(token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return PlainTextResponse("bad token", status_code=401)
        if await client.get(b"h" + hashlib.sha256(token.encode()).digest()) is None:
            return PlainTextResponse("revoked", status_code=401)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", hello)])


def flask_app() -> Any:
    from flask import Flask
    from flask_jwt_extended import JWTManager, jwt_required

    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = os.environ["BENCH_FLASK_SECRET"]
    manager = JWTManager(app)
    blocklist = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])

    @manager.token_in_blocklist_loader
    def revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return blocklist.get(payload["jti"]) is not None

    @app.get("/")
    @jwt_required()
    def hello() -> str:
        return "ok"

    return app


def flask_tokens(secret: str, count: int) -> list[str]:
    from flask import Flask
    from flask_jwt_extended import JWTManager, create_access_token

    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = secret
    JWTManager(app)
    with app.app_context():
        return [create_access_token(identity=f"user-{i}") for i in range(count)]


if __name__ == "__main__":
    import uvicorn

    _, _mode, port, keyfile, redis_url = sys.argv
    uvicorn.run(
        handrolled(keyfile, redis_url),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
