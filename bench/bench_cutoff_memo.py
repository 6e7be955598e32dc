"""The revoke-everything cut-off read on every allowed check, against the remembered one.

    python bench/bench_cutoff_memo.py

`RedisTokenStore.is_allowed` for tokens that pass (the ones that need the cut-off), 50
concurrent checks at a time, in one process on asyncio's default loop: with no
subscription (the cut-off is read from `!cut` on every check) and with the store's
revocation subscription followed (`CutoffMemo` answers). Interleaved rounds, median of
each. Starts its own redis-server; writes bench/results/cutoff_memo.md.
"""

from __future__ import annotations

import asyncio
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402

from jwtkeep.adapters.redis import RedisTokenStore  # noqa: E402
from jwtkeep.core.fingerprint import Fingerprint  # noqa: E402
from jwtkeep.ports import AccessRecord  # noqa: E402
from jwtkeep.usecases.subscription import RevocationFollower, stop_following  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cutoff_memo.md"
ROUNDS, SECONDS, CONCURRENT = 3, 2.0, 50


async def checks_per_second(
    store: RedisTokenStore, records: list[AccessRecord], now: float
) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        answers = await asyncio.gather(*(
            store.is_allowed(r.fingerprint, r.sub, r.sid, now, issued_at=now - 10,
                             client_id=r.client_id)
            for r in records
        ))  # fmt: skip
        if not all(answers):
            raise RuntimeError("an allowlisted token was refused")
        done += len(records)
    return done / (time.perf_counter() - start)


async def measure(url: str) -> dict[str, list[float]]:
    store = RedisTokenStore.from_url(url, timeout=5.0)
    now = time.time()
    records = [
        AccessRecord(Fingerprint(secrets.token_bytes(32)), str(uuid.uuid4()), uuid.uuid4().hex,
                     uuid.uuid4().hex, "web", int(now) + 3600, "kid")
        for _ in range(CONCURRENT)
    ]  # fmt: skip
    for record in records:
        await store.add_access(record, now)
    follower = RevocationFollower(store.revocation_feed())
    rows: dict[str, list[float]] = {"read every time": [], "remembered (subscribed)": []}
    try:
        for _ in range(ROUNDS):
            rows["read every time"].append(await checks_per_second(store, records, now))
            task = asyncio.get_running_loop().create_task(follower.run())
            await follower.connected.wait()
            rows["remembered (subscribed)"].append(await checks_per_second(store, records, now))
            await stop_following(task)
    finally:
        await store.close()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisProcess(find_redis_server() or "redis-server", Path(tmp) / "redis")
        server.start()
        try:
            rows = asyncio.run(measure(server.url))
        finally:
            server.terminate()
    base = statistics.median(rows["read every time"])
    lines = [
        "# The cut-off, read or remembered (bench/bench_cutoff_memo.py)",
        "",
        f"`is_allowed` for allowlisted tokens, {CONCURRENT} concurrent, {ROUNDS} interleaved "
        f"rounds of {SECONDS:g} s, median; one process, asyncio's default loop, Python "
        f"{platform.python_version()}, a shared machine.",
        "",
        "| cut-off | checks/s | ratio |",
        "| --- | ---: | ---: |",
    ]
    for name, rates in rows.items():
        rate = statistics.median(rates)
        lines.append(f"| {name} | {rate:,.0f} | {rate / base:.2f}x |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
