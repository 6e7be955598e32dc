# ruff: noqa: PLC0415, E501, RUF028
"""Requests per second of one endpoint: unprotected, behind the SDK, and two baselines.

    python bench/bench_throughput.py

One command, one run, interleaved rounds (BENCH_ROUNDS, default 5); every ratio is over the same round's
unprotected endpoint. Load from wrk (Debian's `wrk`, `apt-get install -y wrk`), 1 thread,
50 connections, keep-alive; each server one process (uvicorn, uvloop, httptools; gunicorn
sync worker for Flask). On a machine with two CPUs or more, every server runs on the first
and wrk on the second (BENCH_PIN=0: no pinning), so the scheduler never puts the two on
one core for part of a run. Rows:
- unprotected: the Starlette endpoint alone, sent the very request the SDK rows get (the
  same `Authorization` header): the ratio is the SDK's cost, not the header's;
- unprotected, no Authorization header: the same, without it (for comparison);
- SDK, repeat token: JwtkeepMiddleware + `Verifier.with_redis`, the same token every
  request (verdict cache hits), with `on_request=None` (no audit hook);
- SDK, first sight: the same server, a new pre-issued token on every request (a wrk Lua
  script cycles through a fresh list each round): full check, then cached;
- hand-rolled: PyJWT decode + one redis.asyncio GET (bench/baseline_apps.py);
- flask-jwt-extended with its documented Redis blocklist (gunicorn, 1 sync worker).
Then, with two CPUs or more, paired runs (BENCH_PAIRED rounds, default 5): the unprotected
endpoint and the SDK's repeat token loaded *at the same time*, both servers sharing the
server CPU and two wrk (25 connections each) the other, so whatever slows the machine
during a run slows both sides alike; with an A/A control (two unprotected servers paired
the same way) that shows the method's own bias. A cross-check of the interleaved ratio on
a noisy machine, not a replacement: the target is judged on the interleaved rounds.
Also the verdict cache's memory per entry (tracemalloc, 20,000 entries).
Writes bench/results/throughput.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import redis  # noqa: E402
from bench.wrk import STATUS_LUA, pinned, require_wrk  # noqa: E402
from bench.wrk import run as wrk_run  # noqa: E402
from tests.support.redis_server import RedisProcess, find_redis_server  # noqa: E402
from tests.support.services import free_port  # noqa: E402

from jwtkeep.core.access_token import issue_access_token  # noqa: E402
from jwtkeep.core.claims import AccessClaims  # noqa: E402
from jwtkeep.core.fingerprint import fingerprint  # noqa: E402
from jwtkeep.core.jose import generate_key  # noqa: E402
from jwtkeep.core.verdicts import VerdictCache  # noqa: E402
from jwtkeep.ports import AccessRecord  # noqa: E402
from jwtkeep.runtime import open_token_store  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "throughput.md"
ISSUER, AUDIENCE = "https://auth.bench", "bench-api"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))  # median of rounds: 5 damps one noisy round
PAIRED_ROUNDS = int(os.environ.get("BENCH_PAIRED", "5"))
SECONDS, CONNECTIONS = 4, 50
_CPUS = sorted(os.sched_getaffinity(0))
PIN = os.environ.get("BENCH_PIN", "1") != "0" and len(_CPUS) >= 2
SERVER_CPUS, WRK_CPUS = ({_CPUS[0]}, {_CPUS[1]}) if PIN else (None, None)
FRESH_PER_ROUND = 40_000
PY = sys.executable
CYCLE_LUA = """
local tokens, i = {}, 0
for line in io.lines("%s") do tokens[#tokens + 1] = line end
request = function()
  i = i + 1
  return wrk.format(nil, "/", {Authorization = "Bearer " .. tokens[(i - 1) %% #tokens + 1]})
end
"""


def wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.05)


def spawn(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in argv]
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=pinned(SERVER_CPUS))  # noqa: PLW1509 (one thread)  # fmt: skip
    wait_up(port, process)
    return process, port


def wrk(
    port: int, header: str | None = None, script: Path | None = None
) -> tuple[float, dict[str, int]]:
    """Requests/s, and the failed responses by status ("non-2xx" where wrk alone counted
    them: only a script with `STATUS_LUA` names the statuses)."""
    result = wrk_run(f"http://127.0.0.1:{port}/", connections=CONNECTIONS, seconds=SECONDS,
                     script=script.read_text() if script else None,
                     headers=[header] if header else [], latency=True,
                     cpus=WRK_CPUS)  # fmt: skip
    failed = {str(s): n for s, n in result.statuses.items() if not 200 <= s < 300}
    if not result.statuses and result.non_2xx:
        failed = {"non-2xx": result.non_2xx}
    if result.timeouts:
        failed["timeout"] = result.timeouts
    return result.rate, failed


def mint(key, now: int) -> tuple[str, AccessRecord]:  # type: ignore[no-untyped-def]
    claims = AccessClaims(iss=ISSUER, sub=str(uuid.uuid4()), aud=AUDIENCE, exp=now + 1800,
                          nbf=now, iat=now, jti=uuid.uuid4().hex, client_id="web",
                          scope="read", sid=uuid.uuid4().hex)  # fmt: skip
    token = issue_access_token(claims, key)
    return token, AccessRecord(fingerprint(token), claims.sub, claims.sid, claims.jti, "web",
                               claims.exp, key.kid)  # fmt: skip


async def allowlist(url: str, records: list[AccessRecord], tokens: list[str]) -> None:
    store = await open_token_store(url, io_timeout=5.0)
    now = time.time()
    for start in range(0, len(records), 500):
        await asyncio.gather(*(store.add_access(r, now) for r in records[start : start + 500]))
    await store.close()
    with redis.Redis.from_url(url) as client, client.pipeline(transaction=False) as pipe:
        for token in tokens:  # the hand-rolled app's own allowlist: one key per token
            pipe.set(b"h" + fingerprint(token), b"1", ex=1800)
        pipe.execute()


def cache_bytes_per_entry(key) -> float:  # type: ignore[no-untyped-def]
    # A silence bound longer than the measurement: tracemalloc slows the puts, and a
    # cache whose subscription looks silent keeps nothing (which would measure ~0).
    cache = VerdictCache(max_entries=1_000_000, max_bytes=10**10, silence=3600.0)
    cache.restart()
    from jwtkeep.core.claims import AccessClaims as Claims

    entries = 20_000
    claims = [Claims(iss=ISSUER, sub=str(uuid.uuid4()), aud=AUDIENCE, exp=2_000_000_000,
                     nbf=0, iat=0, jti=secrets.token_urlsafe(16), client_id="web",
                     scope="read write", sid=secrets.token_urlsafe(16))
              for _ in range(entries)]  # fmt: skip
    fps = [secrets.token_bytes(32) for _ in range(entries)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for fp, c in zip(fps, claims, strict=True):
        cache.put(fp, c, key.kid, cache.generation)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(cache) == entries, "the cache kept fewer entries than were put"
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # The claims themselves are built by the verifier anyway; counted too for honesty.
    claims_size = sum(sys.getsizeof(c) + sum(sys.getsizeof(getattr(c, f)) for f in
                      ("sub", "sid", "jti", "client_id", "scope")) for c in claims)  # fmt: skip
    return (grown + claims_size) / entries


def main() -> None:
    require_wrk()
    key = generate_key("EdDSA", "bench-kid")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        redis_server = RedisProcess(find_redis_server() or "redis-server", folder / "redis")
        redis_server.start()
        url = redis_server.url
        keyfile = folder / "keys.json"
        keyfile.write_text(json.dumps([key.public_jwk()]))
        now = int(time.time())
        minted = [mint(key, now) for _ in range(1 + ROUNDS * FRESH_PER_ROUND)]
        tokens = [t for t, _ in minted]
        asyncio.run(allowlist(url, [r for _, r in minted], tokens))
        scripts = []
        for r in range(ROUNDS):
            names = folder / f"tokens-{r}.txt"
            names.write_text(
                "\n".join(tokens[1 + r * FRESH_PER_ROUND : 1 + (r + 1) * FRESH_PER_ROUND])
            )
            script = folder / f"cycle-{r}.lua"
            script.write_text(STATUS_LUA + CYCLE_LUA % names)  # failures by status
            scripts.append(script)
        secret = secrets.token_urlsafe(32)
        from bench.baseline_apps import flask_tokens

        flask_token = flask_tokens(secret, 1)[0]
        app = str(ROOT / "bench" / "protected_app.py")
        servers = {
            "open": spawn([PY, app, "open", "{port}", str(keyfile), url]),
            "sdk": spawn([PY, app, "sdk", "{port}", str(keyfile), url]),
            "handrolled": spawn(
                [
                    PY,
                    str(ROOT / "bench" / "baseline_apps.py"),
                    "handrolled",
                    "{port}",
                    str(keyfile),
                    url,
                ]
            ),  # fmt: skip
            "flask": spawn(
                [
                    PY,
                    "-m",
                    "gunicorn",
                    "-w",
                    "1",
                    "-b",
                    "127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                    "bench.baseline_apps:flask_app()",
                ],
                {"BENCH_FLASK_SECRET": secret, "BENCH_REDIS_URL": url},
            ),  # fmt: skip
        }
        if PIN:  # the paired runs' A/A control
            servers["open2"] = spawn([PY, app, "open", "{port}", str(keyfile), url])
        time.sleep(1.5)  # subscriptions up
        bearer = f"Authorization: Bearer {tokens[0]}"
        rows: dict[str, list[tuple[float, float, dict[str, int]]]] = {}
        try:
            for r in range(ROUNDS):
                base, _ = wrk(servers["open"][1], bearer)
                runs = {
                    "unprotected": (base, {}),
                    "unprotected, no Authorization header": wrk(servers["open"][1]),
                    "SDK, repeat token (cache hit)": wrk(servers["sdk"][1], bearer),
                    "SDK, first sight (new token each request)": wrk(servers["sdk"][1],
                                                                      script=scripts[r]),
                    "hand-rolled PyJWT + Redis GET": wrk(servers["handrolled"][1], bearer),
                    "flask-jwt-extended + Redis blocklist": wrk(
                        servers["flask"][1], f"Authorization: Bearer {flask_token}"),
                }  # fmt: skip
                for name, (rate, failed) in runs.items():
                    rows.setdefault(name, []).append((rate, rate / base, failed))
                ratios = ", ".join(f"{rate / base:.2f}" for rate, _ in runs.values())
                print(f"round {r + 1}/{ROUNDS}: {base:,.0f} req/s unprotected; ratios {ratios}",
                      file=sys.stderr)  # fmt: skip
            pairs = paired_rounds(servers, bearer) if PIN and PAIRED_ROUNDS > 0 else {}
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()
            redis_server.terminate()
    per_entry = cache_bytes_per_entry(key)
    text = table(rows, per_entry, pairs)
    RESULTS.write_text(text)
    print(text)


def _failures(runs: list[tuple[float, float, dict[str, int]]]) -> str:
    """The failed responses of every round, e.g. `0` or `97 (503: 97)`."""
    total: dict[str, int] = {}
    for _, _, failed in runs:
        for status, count in failed.items():
            total[status] = total.get(status, 0) + count
    if not total:
        return "0"
    return f"{sum(total.values())} ({', '.join(f'{s}: {n}' for s, n in sorted(total.items()))})"


def paired_rounds(
    servers: dict[str, tuple[subprocess.Popen[bytes], int]], bearer: str
) -> dict[str, list[float]]:
    """Each round: the SDK's repeat token and, as the control, a second unprotected server,
    each loaded at the same time as the unprotected one; the ratio of the two rates."""
    pairs: dict[str, list[float]] = {"SDK, repeat token": [], "A/A control": []}
    for r in range(PAIRED_ROUNDS):
        for name, other in (("SDK, repeat token", "sdk"), ("A/A control", "open2")):
            base, rate = at_once(servers["open"][1], servers[other][1], bearer)
            pairs[name].append(rate / base)
        print(f"paired round {r + 1}/{PAIRED_ROUNDS}: "
              + ", ".join(f"{name} {ratios[-1]:.3f}" for name, ratios in pairs.items()),
              file=sys.stderr)  # fmt: skip
    return pairs


def at_once(port_a: int, port_b: int, header: str) -> tuple[float, float]:
    """Both endpoints under wrk over the same seconds (half the connections each)."""
    rates: dict[int, float] = {}

    def load(port: int) -> None:
        result = wrk_run(f"http://127.0.0.1:{port}/", connections=CONNECTIONS // 2,
                         seconds=SECONDS, headers=[header], cpus=WRK_CPUS)  # fmt: skip
        if result.non_2xx:
            raise RuntimeError(f"{result.non_2xx} failed responses in a paired run")
        rates[port] = result.rate

    threads = [threading.Thread(target=load, args=(port,)) for port in (port_a, port_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(rates) != 2:
        raise RuntimeError("a paired wrk run failed")
    return rates[port_a], rates[port_b]


def table(
    rows: dict[str, list[tuple[float, float, dict[str, int]]]],
    per_entry: float,
    pairs: dict[str, list[float]],
) -> str:
    median = {name: statistics.median(r for _, r, _ in runs) for name, runs in rows.items()}
    lines = [
        "# Throughput behind the SDK (bench/bench_throughput.py)",
        "",
        f"wrk, 1 thread, {CONNECTIONS} connections, {SECONDS} s per run, {ROUNDS} interleaved "
        f"rounds; ratio = requests/s over the same round's unprotected endpoint, sent the "
        f"same request (median of rounds). Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; "
        + (
            "each server pinned to one CPU, wrk to another (Redis and other work unpinned)."
            if PIN
            else "nothing pinned: wrk, the servers and Redis share the CPUs."
        ),
        "",
        "| endpoint | req/s (median) | ratio vs unprotected | non-2xx |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, runs in rows.items():
        rate = statistics.median(r for r, _, _ in runs)
        lines.append(f"| {name} | {rate:,.0f} | {median[name]:.2f}x | {_failures(runs)} |")
    repeat = median["SDK, repeat token (cache hit)"]
    each = ", ".join(f"{r:.2f}" for _, r, _ in rows["SDK, repeat token (cache hit)"])
    lines += ["", f"Rounds of the repeat row: {each}."]
    first = median["SDK, first sight (new token each request)"]
    hand = median["hand-rolled PyJWT + Redis GET"]
    flask = median["flask-jwt-extended + Redis blocklist"]
    if pairs:
        lines += [
            "",
            f"Paired runs ({PAIRED_ROUNDS} rounds of {SECONDS} s; each row and the unprotected "
            f"endpoint loaded at the same time, both servers on one CPU, {CONNECTIONS // 2} "
            "connections each): ratio over the unprotected endpoint of the same run.",
            "",
            "| paired with unprotected | ratio (median) | rounds |",
            "| --- | ---: | --- |",
        ]
        for name, ratios in pairs.items():
            each = ", ".join(f"{x:.2f}" for x in ratios)
            lines.append(f"| {name} | {statistics.median(ratios):.2f}x | {each} |")
    lines += [
        "",
        "| target | value | |",
        "| --- | ---: | --- |",
        f"| repeat token >= 0.85x unprotected | {repeat:.2f}x | {'met' if repeat >= 0.85 else 'MISSED'} |",
        f"| first sight >= hand-rolled | {first / hand:.2f}x hand-rolled | {'met' if first >= hand else 'MISSED'} |",
        f"| repeat >= 3x flask-jwt-extended | {repeat / flask:.2f}x | {'met' if repeat >= 3 * flask else 'MISSED'} |",
        "",
        f"Verdict cache memory: about {per_entry:,.0f} bytes per entry (tracemalloc over "
        "20,000 entries, the claims object included).",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
