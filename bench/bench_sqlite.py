"""The SQLite token store alone: how its transactions reach sqlite3 (the options measured).

    python bench/bench_sqlite.py

In-process, no HTTP: `SqlTokenStore.is_allowed`, `SqlUserRepository.get_user` and
`SqlTokenStore.rotate_refresh` on a SQLite file in WAL mode, 16 concurrent callers on
uvloop (what `jwtkeep serve` runs), `SECONDS` per row, best of `ROUNDS` interleaved
rounds. Options:

- `writer thread + reader thread`: what jwtkeep ships (`adapters/sql/engine.py`), each
  transaction one hop to its thread; writes queue on the writer thread;
- `inline on the event loop`: the same transactions run on the loop thread, blocking it
  (a reference: no hop at all, but a slow disk or a busy database would stall every
  request of the process, so not an option for the server).

aiosqlite (one hop per statement, BEGIN and COMMIT included), which jwtkeep used before,
is not installed any more; its figures from the same machine are in bench/README.md.
Writes bench/results/sqlite.md.
"""

from __future__ import annotations

import asyncio
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.contract.builders import NOW, Login, access_for, log_in, new_fp  # noqa: E402

from jwtkeep.adapters.sql import Database, engine  # noqa: E402
from jwtkeep.ports import RotationOutcome  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sqlite.md"
CALLERS = 16
SECONDS = 2.0
ROUNDS = 3
OPTIONS = ("writer thread + reader thread", "inline on the event loop")
OPERATIONS = ("is_allowed", "get_user", "rotate_refresh")


def _inline_run(self: Any, work: Any, *, write: bool) -> Any:
    async def run() -> Any:
        return self._transaction(work, "IMMEDIATE" if write else "DEFERRED", time.monotonic())

    return run()


async def measure(option: str, folder: Path, best: dict[tuple[str, str], float]) -> None:
    runner = engine._SqliteRunner
    original = runner.run
    if option.startswith("inline"):
        runner.run = _inline_run  # type: ignore[method-assign,assignment]
    database = Database.connect(f"sqlite:///{folder / 'bench.db'}", pool_size=50, timeout=5)
    try:
        await database.migrate()
        store = database.tokens
        logins = [await log_in(store) for _ in range(CALLERS)]
        current = {login.sid: login.refresh_fp for login in logins}

        async def rotate(login: Login) -> None:
            new = new_fp()
            presented = current[login.sid]
            assert presented is not None
            outcome = await store.rotate_refresh(
                login.user_id, login.sid, presented, new,
                access_for(login.user_id, login.sid), NOW, 3600,
            )  # fmt: skip
            assert outcome is RotationOutcome.ROTATED
            current[login.sid] = new

        async def allowed(login: Login) -> None:
            fp = login.access.fingerprint
            assert await store.is_allowed(fp, login.user_id, login.sid, NOW)

        async def user(login: Login) -> None:
            await database.users.get_user(login.user_id)

        calls: dict[str, Callable[[Login], Awaitable[None]]] = {
            "is_allowed": allowed, "get_user": user, "rotate_refresh": rotate}  # fmt: skip
        for name, call in calls.items():
            rate = await run_for(call, logins)
            best[(option, name)] = max(best.get((option, name), 0.0), rate)
    finally:
        await database.close()
        runner.run = original  # type: ignore[method-assign]


async def run_for(call: Callable[[Login], Awaitable[None]], logins: list[Login]) -> float:
    done = 0
    deadline = time.perf_counter() + SECONDS

    async def worker(login: Login) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(login)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(login) for login in logins))
    return done / (time.perf_counter() - started)


def report(best: dict[tuple[str, str], float], seconds: float) -> str:
    lines = [
        "# SQLite store: how transactions reach sqlite3", "",
        f"`python bench/bench_sqlite.py` on {platform.machine()}, Python "
        f"{platform.python_version()}, uvloop; took {seconds:.0f} s. {CALLERS} concurrent "
        f"callers, best of {ROUNDS} interleaved rounds of {SECONDS:.0f} s. Operations/s.", "",
        "| option | " + " | ".join(OPERATIONS) + " |",
        "| --- | " + " | ".join("---:" for _ in OPERATIONS) + " |",
    ]  # fmt: skip
    for option in OPTIONS:
        cells = " | ".join(f"{best[(option, op)]:,.0f}" for op in OPERATIONS)
        lines.append(f"| {option} | {cells} |")
    return "\n".join(lines) + "\n"


async def main() -> None:
    started = time.perf_counter()
    best: dict[tuple[str, str], float] = {}
    for round_ in range(ROUNDS):
        for option in OPTIONS:
            with tempfile.TemporaryDirectory(prefix=f"jwtkeep-bench-{round_}-") as folder:
                await measure(option, Path(folder), best)
    text = report(best, time.perf_counter() - started)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    uvloop.run(main())
