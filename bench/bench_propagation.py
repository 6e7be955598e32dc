# ruff: noqa: ASYNC221, B007, RUF046
"""Revocation propagation: how long until an SDK-protected API in another process refuses
a token that was just revoked at the issuer.

    python bench/bench_propagation.py [TRIALS] [redis|postgres|stream ...]

For each channel, TRIALS (default 200) times: issue a token, request the API twice (the
second answer comes from its verdict cache), then start the revoking call and, at the
same time, poll the API (HTTP/1.1 on loopback, keep-alive; one poll is ~0.3-1 ms, the
resolution of the numbers) until it answers 401. The time is taken from just before the
revoking call to the first 401, so it is the time until the API refuses the token, even
when the call itself goes on (the drill on Redis announces the kid, then scans every
user hash). The revoking call's own duration is reported beside it.
- Redis: logout (`end_session`, its Lua script publishes) and the key-leak drill
  (`revoke_signed_by`: kid event, then the token scan) at the store, API on
  `Verifier.with_redis`.
- PostgreSQL: the same two, NOTIFY in the transaction, API on the SQL store with its
  LISTEN feed.
- HTTPS stream: a real `jwtkeep serve` (SQLite default, TLS); the API uses
  `IntrospectionAllowlist` and `JwksKeySource`, and follows `/oauth/revocation-events`.
  Logout is RFC 7009 revocation over HTTPS at the issuer (the issuer wrote the event:
  its feed wakes at once). The drill is what `jwtkeep keys compromised` runs
  (`KeyManager.compromised`: the key's status, a new signing key, then the token store's
  `revoke_signed_by`) from this process on the issuer's SQLite file, so from another
  process, as the CLI would: the issuer notices the commit by its check of the WAL file
  (every 5 ms; the event table is polled every 20 ms anyway), then relays the event.
Every `keys compromised` row is timed from the drill's token-store step
(`revoke_signed_by`, which publishes the kid event), as on Redis and PostgreSQL where
that step is called alone; on the stream row the call column is the whole drill (key
status, new key, store step, audit).
Writes bench/results/propagation.md (only when every channel ran; naming channels runs
just those and prints their table).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from tests.support import postgres_server as pg  # noqa: E402
from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402
from tests.support.serve_process import (  # noqa: E402
    PASSWORD,
    PASSWORD_GRANT,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
)
from tests.support.services import free_port  # noqa: E402

from jwtkeep.adapters.sql import Database  # noqa: E402
from jwtkeep.core.access_token import issue_access_token  # noqa: E402
from jwtkeep.core.claims import AccessClaims  # noqa: E402
from jwtkeep.core.compact import parse_compact  # noqa: E402
from jwtkeep.core.fingerprint import fingerprint  # noqa: E402
from jwtkeep.core.jose import JoseKey, generate_key  # noqa: E402
from jwtkeep.ports import AccessRecord, Session, TokenStore  # noqa: E402
from jwtkeep.runtime import open_runtime, open_token_store  # noqa: E402
from jwtkeep.settings import load_settings  # noqa: E402
from jwtkeep.usecases.context import AuthContext  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "propagation.md"
ISSUER, AUDIENCE = "https://auth.bench", "bench-api"
APP = ROOT / "bench" / "protected_app.py"


def start_api(mode: str, keyfile: Path, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(APP), mode, str(port), str(keyfile), url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process, port
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{mode} API did not start") from None
            time.sleep(0.05)


Trial = tuple[float, float]  # ms until refused, ms the revoking call took


async def refused_after(client: httpx.AsyncClient, token: str, revoke: Awaitable[object],
                        start: list[float] | None = None) -> Trial:  # fmt: skip
    """Start `revoke` and poll the API with `token` meanwhile: ms from just before the
    call (or from `start[0]`, if the call sets it: when its revoking step begins) to the
    first 401, and ms the whole call took."""
    headers = {"Authorization": f"Bearer {token}"}
    done: list[float] = []

    async def call() -> None:
        await revoke
        done.append(time.perf_counter())

    t0 = time.perf_counter()
    task = asyncio.create_task(call())
    while (await client.get("/", headers=headers)).status_code == 200:
        if time.perf_counter() - t0 > 10:
            task.cancel()
            raise RuntimeError("never refused")
    refused = time.perf_counter()
    await task
    return (refused - (start or [t0])[0]) * 1000, (done[0] - t0) * 1000


async def accepted_twice(client: httpx.AsyncClient, token: str) -> None:
    for _ in range(2):
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.status_code


async def login(store: TokenStore, key: JoseKey) -> tuple[str, AccessClaims]:
    now = time.time()
    sub, sid = str(uuid.uuid4()), uuid.uuid4().hex
    claims = AccessClaims(iss=ISSUER, sub=sub, aud=AUDIENCE, exp=int(now) + 600, nbf=int(now),
                          iat=int(now), jti=uuid.uuid4().hex, client_id="web", scope="read",
                          sid=sid)  # fmt: skip
    token = issue_access_token(claims, key)
    session = Session(sid, sub, "web", "read", now, now, now + 3600, now + 7200)
    record = AccessRecord(fingerprint(token), sub, sid, claims.jti, "web", claims.exp, key.kid)
    await store.start_session(session, None, record, now)
    return token, claims


async def store_trials(store: TokenStore, port: int, keys: list[JoseKey], trials: int
                       ) -> dict[str, list[Trial]]:  # fmt: skip
    out: dict[str, list[Trial]] = {"logout": [], "keys compromised": []}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await asyncio.sleep(1.0)  # the API's subscription is up
        for i in range(trials):
            token, claims = await login(store, keys[0])
            await accepted_twice(client, token)
            revoke = store.end_session(claims.sub, claims.sid)
            out["logout"].append(await refused_after(client, token, revoke))
        for i in range(trials):
            token, _ = await login(store, keys[1 + i])
            await accepted_twice(client, token)
            revoke = store.revoke_signed_by(keys[1 + i].kid, time.time())
            out["keys compromised"].append(await refused_after(client, token, revoke))
    return out


def write_keys(folder: Path, keys: list[JoseKey]) -> Path:
    path = folder / "keys.json"
    path.write_text(json.dumps([k.public_jwk() for k in keys]))
    return path


async def redis_channel(folder: Path, keys: list[JoseKey], trials: int) -> dict[str, list[Trial]]:
    executable = find_redis_server()
    assert executable, "no redis-server"
    redis = RedisProcess(executable, folder / "redis")
    redis.start()
    api, port = start_api("sdk", write_keys(folder, keys), redis.url)
    store = await open_token_store(redis.url, io_timeout=2.0)
    try:
        return await store_trials(store, port, keys, trials)
    finally:
        await store.close()
        api.terminate()
        api.wait()
        redis.terminate()


async def postgres_channel(folder: Path, keys: list[JoseKey], trials: int
                           ) -> dict[str, list[Trial]]:  # fmt: skip
    bin_dir = pg._bin_dir()
    assert bin_dir, "no PostgreSQL"
    base = pg._prepare_dir()
    port = pg._start(bin_dir, base)
    server = pg.PostgresServer(bin_dir=bin_dir, host="127.0.0.1", port=port, user="postgres")
    url = server.url(server.take_empty_database())
    database = Database.connect(url)
    await database.migrate()
    api, api_port = start_api("pg", write_keys(folder, keys), url)
    try:
        return await store_trials(database.tokens, api_port, keys, trials)
    finally:
        await database.close()
        api.terminate()
        api.wait()
        stop_pg = ["-D", str(base / "data"), "-m", "immediate", "-w", "stop"]
        subprocess.run(pg._as_owner([str(bin_dir / "pg_ctl"), *stop_pg]), check=False,
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def timed_revoke(ctx: AuthContext, start: list[float]) -> Callable[[str], Awaitable[int]]:
    """The drill's token-store step, noting in `start` when it begins."""

    async def revoke(kid: str) -> int:
        start.append(time.perf_counter())
        return await ctx.store.revoke_signed_by(kid, ctx.clock())

    return revoke


async def stream_channel(folder: Path, trials: int) -> dict[str, list[Trial]]:
    data = folder / "issuer" / "data"
    env = clean_environment(data)
    # A password login per trial, all from one address: more than the hash-flooding
    # ceiling of 300 password checks a minute (docs/settings.md), not what is measured.
    env["JWTKEEP_ADDRESS_ATTEMPTS_PER_MINUTE"] = "100000"
    assert run_cli(env, "init").returncode == 0
    svc = json.loads(run_cli(env, "app", "create", "svc", "--audience", AUDIENCE,
                             "--confidential", *PASSWORD_GRANT, "--json").stdout)  # fmt: skip
    run_cli(env, "user", "create", "bo", "--password-stdin", stdin=PASSWORD)
    server = start_server(data, env)
    wait_until_healthy(server)
    with server.client() as c:
        issuer = c.get("/.well-known/oauth-authorization-server").json()["issuer"]
    config = folder / "sse.json"
    config.write_text(json.dumps({"ca": str(server.cert), "issuer": issuer, "audience": AUDIENCE,
                                  "client_id": svc["client_id"],
                                  "client_secret": svc["client_secret"]}))  # fmt: skip
    api, port = start_api("sse", config, server.url)
    logout, drill = "logout (RFC 7009 over HTTPS)", "keys compromised (another process)"
    out: dict[str, list[Trial]] = {logout: [], drill: []}
    form = {"grant_type": "password", "username": "bo", "password": PASSWORD,
            "client_id": svc["client_id"], "client_secret": svc["client_secret"]}  # fmt: skip
    auth = (svc["client_id"], svc["client_secret"])
    tls = ssl.create_default_context(cafile=str(server.cert))
    try:
        async with (
            httpx.AsyncClient(base_url=server.url, verify=tls, timeout=10) as issuer_client,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
            open_runtime(load_settings(data_dir=data)) as runtime,
        ):
            await asyncio.sleep(1.5)

            async def new_token() -> str:
                response = await issuer_client.post("/oauth/token", data=form)
                token: str = response.json()["access_token"]
                await accepted_twice(client, token)
                return token

            for _ in range(trials):
                token = await new_token()
                revoke = issuer_client.post("/oauth/revoke", data={"token": token}, auth=auth)
                out[logout].append(await refused_after(client, token, revoke))
            ctx = runtime.context
            for _ in range(trials):
                token = await new_token()
                start: list[float] = []
                # What `jwtkeep keys compromised` runs (usecases/key_withdrawal.py).
                drill_call = ctx.keys.compromised(parse_compact(token).kid, actor="cli:bench",
                                                  revoke=timed_revoke(ctx, start))  # fmt: skip
                out[drill].append(await refused_after(client, token, drill_call, start))
    finally:
        api.terminate()
        api.wait()
        stop(server.process)
    return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def table(results: dict[str, dict[str, list[Trial]]], trials: int) -> str:
    lines = [
        "# Revocation propagation (bench/bench_propagation.py)",
        "",
        f"{trials} trials per row; ms from just before the revoking call to the first 401 "
        "from an SDK-protected API in another process, polled over loopback HTTP while the "
        "call runs (one poll is the resolution). The last column is how long the revoking "
        "call itself took (median). "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with other work).",
        "",
        "| channel | revocation | p50 ms | p99 ms | max ms | target p99 < 50 ms | call p50 ms |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for channel, rows in results.items():
        for name, pairs in rows.items():
            values = [refused for refused, _ in pairs]
            call = statistics.median(took for _, took in pairs)
            p99 = quantile(values, 0.99)
            lines.append(f"| {channel} | {name} | {statistics.median(values):.1f} | {p99:.1f} "
                         f"| {max(values):.1f} | {'met' if p99 < 50 else 'MISSED'} "
                         f"| {call:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


async def main(trials: int, channels: list[str]) -> None:
    keys = [generate_key("EdDSA", f"k{i:04d}-{uuid.uuid4().hex[:6]}") for i in range(trials + 1)]
    results: dict[str, dict[str, list[Trial]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "redis" in channels:
            results["Redis (pub/sub)"] = await redis_channel(folder, keys, trials)
        if "postgres" in channels:
            results["PostgreSQL (NOTIFY)"] = await postgres_channel(folder, keys, trials)
        if "stream" in channels:
            results["HTTPS stream (SSE)"] = await stream_channel(folder, trials)
    text = table(results, trials)
    if set(channels) == set(CHANNELS):
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    print(text)


CHANNELS = ("redis", "postgres", "stream")

if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, sys.argv[2:] or [*CHANNELS]))
