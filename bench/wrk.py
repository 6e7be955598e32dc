"""The one wrk runner of the benchmarks (Debian's `wrk`: `apt-get install -y wrk`).

`run` starts wrk against one URL, optionally with a Lua script and extra headers, and
reads back requests/s and the failures wrk reports: non-2xx/3xx responses, socket
timeouts, and the script's own lines (`status <code> <count>`, `starved <count>`; see
`STATUS_LUA` in bench_server.py) when it prints them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["STATUS_LUA", "WrkResult", "pinned", "require_wrk", "run"]

# Prepended to a script: counts every response by status and prints `status <code>
# <count>` (and `starved <count>`, for scripts that set it) when wrk is done; `run` reads
# them back. A script may define `on_response(status, body)`.
STATUS_LUA = r"""
local threads = {}
statuses = {}
starved = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if on_response then on_response(status, body) end
end

function done(summary, latency, requests)
  local total = {}
  local dry = 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
    dry = dry + thread:get("starved")
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
  io.write(string.format("starved %d\n", dry))
end
"""


@dataclass(frozen=True)
class WrkResult:
    rate: float  # requests/s
    non_2xx: int  # non-2xx/3xx responses (wrk's own count, or the script's statuses)
    timeouts: int
    starved: int  # the script's requests made without a live token (refresh chains)
    statuses: dict[int, int] = field(default_factory=dict)
    output: str = ""

    @property
    def failed(self) -> int:
        return self.non_2xx + self.timeouts + self.starved


def pinned(cpus: Collection[int] | None) -> Callable[[], None] | None:
    """A `preexec_fn` that runs the child on `cpus` only (None: no pinning)."""
    if not cpus:
        return None
    chosen = set(cpus)

    def pin() -> None:
        os.sched_setaffinity(0, chosen)

    return pin


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")


def run(
    url: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 1,
    script: str | None = None,
    headers: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    latency: bool = False,
    cpus: Collection[int] | None = None,
) -> WrkResult:
    """One wrk run; `script` is Lua source (written to a temporary file); `cpus`: the
    CPUs wrk may run on (none: any)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--latency"] if latency else []
    for header in headers:
        argv += ["-H", header]
    path = None
    if script is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
            file.write(script)
        path = file.name
        argv += ["-s", path]
    try:
        result = subprocess.run(
            [*argv, url], env={**os.environ, **(env or {})}, capture_output=True, text=True,
            timeout=seconds + 60, check=True, preexec_fn=pinned(cpus),
        )  # fmt: skip
    finally:
        if path is not None:
            os.unlink(path)
    out = result.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out + result.stderr
    statuses = {int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    if statuses:
        non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    else:
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        non_2xx = int(bad.group(1)) if bad else 0
    timeouts = re.search(r"timeout (\d+)", out)
    starved = re.search(r"^starved (\d+)$", out, re.M)
    return WrkResult(
        rate=float(rate.group(1)),
        non_2xx=non_2xx,
        timeouts=int(timeouts.group(1)) if timeouts else 0,
        starved=int(starved.group(1)) if starved else 0,
        statuses=statuses,
        output=out,
    )
