"""pytest plugin: a real PostgreSQL 15 for the test session (CONVENTIONS "Tests").

`postgres_server` (session) runs initdb + pg_ctl in a temporary directory on a free
loopback port, as the `postgres` user when we are root (initdb refuses root), with
durability off for speed and trust authentication (loopback only, throwaway data).
`fresh_postgres_url` (function, synchronous) hands each test an empty database of its own
(created, or emptied after an earlier test). Missing binaries: `service_missing` (skip
loudly; fail in CI).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.services import free_port, service_missing

__all__ = ["PostgresServer", "fresh_postgres_url", "postgres_server", "running_postgres"]

_BIN_DIRS = ("/usr/lib/postgresql/15/bin",)
_SERVER_FLAGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c listen_addresses=127.0.0.1"
)
_START_ATTEMPTS = 3


# Emptying a database is ~10x faster than CREATE DATABASE (which copies a template and
# checkpoints), so finished test databases are emptied and handed out again.
_EMPTY_DATABASE_SQL = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid();
DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
"""


@dataclass
class PostgresServer:
    bin_dir: Path
    host: str
    port: int
    user: str
    _empty_databases: list[str] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> None:
        """Run a client tool (createdb, dropdb, psql) against this server over TCP."""
        connection = ["-h", self.host, "-p", str(self.port), "-U", self.user]
        subprocess.run(
            [str(self.bin_dir / tool), *connection, *args],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def take_empty_database(self) -> str:
        """The name of a database with nothing in it (an emptied one if there is one)."""
        if self._empty_databases:
            return self._empty_databases.pop()
        name = f"jwtkeep_test_{next(self._numbers)}"
        self.run("createdb", "--template=template0", name)
        return name

    @contextmanager
    def borrow_database(self) -> Iterator[str]:
        """The URL of an empty database for the block; given back after it."""
        name = self.take_empty_database()
        try:
            yield self.url(name)
        finally:
            self.give_back(name)

    def give_back(self, name: str) -> None:
        """Empty the database (ending its connections) for the next test, or drop it."""
        try:
            self.run("psql", "-d", name, "-v", "ON_ERROR_STOP=1", "-c", _EMPTY_DATABASE_SQL)
        except subprocess.CalledProcessError:
            self.run("dropdb", "--force", "--if-exists", name)
        else:
            self._empty_databases.append(name)


def _bin_dir() -> Path | None:
    candidates = [Path(d) for d in _BIN_DIRS]
    found = shutil.which("pg_ctl")
    if found:
        candidates.insert(0, Path(found).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _as_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres` then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _prepare_dir() -> Path:
    # Not pytest's tmp_path: its parent is 0700 root, which the postgres user cannot enter.
    base = Path(tempfile.mkdtemp(prefix="jwtkeep-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            service_missing("PostgreSQL (a `postgres` system user to run it as, since we are root)")
            raise AssertionError("unreachable") from None
        os.chown(base, owner.pw_uid, owner.pw_gid)
    return base


def _start(bin_dir: Path, base: Path) -> int:
    data = base / "data"
    initdb = ["-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"]
    subprocess.run(
        _as_owner([str(bin_dir / "initdb"), *initdb, "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    for _ in range(_START_ATTEMPTS):  # the free port may be taken before we bind it
        port = free_port()
        pg_ctl = ["-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60", "start"]
        options = ["-o", f"{_SERVER_FLAGS} -p {port} -k {base}"]
        started = subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), *pg_ctl, *options]),
            check=False,
            capture_output=True,
            timeout=90,
        )
        if started.returncode == 0:
            return port
    log = (base / "server.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"PostgreSQL did not start:\n{log}")


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for as long as the block runs (also used by bench/)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        service_missing("PostgreSQL (initdb/pg_ctl)")
        raise AssertionError("unreachable")  # service_missing never returns
    base = _prepare_dir()
    try:
        port = _start(bin_dir, base)
        try:
            yield PostgresServer(bin_dir=bin_dir, host="127.0.0.1", port=port, user="postgres")
        finally:
            stop = ["-D", str(base / "data"), "-m", "immediate", "-w", "stop"]
            subprocess.run(
                _as_owner([str(bin_dir / "pg_ctl"), *stop]),
                check=False,
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL to an empty database for this test (synchronous on purpose: async fixtures
    may call `request.getfixturevalue` for it)."""
    with postgres_server.borrow_database() as url:
        yield url
