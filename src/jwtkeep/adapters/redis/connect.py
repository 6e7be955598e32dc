"""From a `JWTKEEP_TOKEN_STORE_URL` to Redis clients: standalone, TLS, Sentinel, Cluster.

URL forms (credentials are optional and never appear in an error message):

    redis://[[user]:password@]host[:port][/db]        one server
    rediss://[[user]:password@]host[:port][/db]       one server over TLS (redis-py's URL
                                                      query options such as ssl_ca_certs)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]
                                                      the master Sentinel names; the
                                                      credentials are the master's
    redis+cluster://[[user]:password@]host:port[,host:port...]
                                                      a Redis Cluster (any seed nodes)

How commands travel: over plain TCP (redis://, Sentinel, Cluster) every command of the
store goes through one auto-pipelined connection per server (`multiplex.py`); over TLS
(rediss://) through redis-py's pool of SSL connections, a slower path, because the
multiplexer is not exercised against a TLS server here. redis-py's own clients answer
`ping`, find the Sentinel master, and keep the Cluster slot map; `pool_size` sizes their
connection pools (per node in a Cluster).

Every connection uses connect and read timeouts of `timeout` seconds and redis-py's
automatic retries are off (a refresh rotation sent twice would look like token reuse;
the store decides what may be sent again), so a dead or stuck Redis fails within about
`timeout` and the caller fails closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jwtkeep.adapters.redis.multiplex import PipelinedConnection
from jwtkeep.errors import ConfigurationError

__all__ = [
    "REDIS_PORT",
    "SENTINEL_PORT",
    "Connections",
    "Runner",
    "open_connections",
    "parse_hosts",
]

SENTINEL_PORT = 26379
REDIS_PORT = 6379

Runner = Callable[[bytes, Sequence[bytes], bool], Awaitable[Any]]
"""`run(routing_key, command, idempotent)`: one command, on the server that holds the key."""


@dataclass
class Connections:
    """What the store talks through.

    `run` sends every command of the store over the auto-pipelined connections
    (`multiplex.py`; one per server), except over TLS where redis-py's own connections are
    used. `client` is redis-py's client for the same server(s): it answers `ping`, and in a
    Cluster it follows MOVED/ASK redirections and keeps the slot map. `guard` bounds the
    concurrent `client` calls to `pool_size`, so a burst waits instead of failing.
    """

    client: Redis | RedisCluster
    run: Runner
    guard: asyncio.Semaphore
    closers: tuple[Callable[[], Awaitable[None]], ...]
    subscriber: Callable[[], Redis]
    """A fresh client for one revocation subscription (`feed.py`): standalone, the
    Sentinel's master, or in a Cluster the first seed node (a classic PUBLISH reaches
    the subscribers of every node)."""

    async def scan_hashes(self, pattern: bytes) -> AsyncIterator[bytes]:
        """Every hash key matching `pattern`, on every master (the key-leak drill, the
        sweep after a cut-off)."""
        async for key in self.client.scan_iter(match=pattern, count=1000, _type="HASH"):
            yield key

    async def ping(self) -> None:
        async with self.guard:
            await self.client.ping()

    async def close(self) -> None:
        for closer in self.closers:
            await closer()


def _retry_none() -> Retry:
    return Retry(NoBackoff(), 0)


def parse_hosts(text: str, default_port: int) -> list[tuple[str, int]]:
    """`host:port,host:port` (IPv6 in brackets) -> [(host, port)]."""
    hosts: list[tuple[str, int]] = []
    for item in text.split(","):
        host, port = item.strip(), default_port
        if host.startswith("["):
            closing = host.find("]")
            if closing < 0:
                raise ConfigurationError("token store URL: unclosed '[' in a host")
            rest, host = host[closing + 1 :], host[1:closing]
            if rest.startswith(":"):
                port = _port(rest[1:])
        elif ":" in host:
            host, _, port_text = host.rpartition(":")
            port = _port(port_text)
        if not host:
            raise ConfigurationError("token store URL: a host is missing")
        hosts.append((host, port))
    return hosts


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError("token store URL: a port is not a number from 1 to 65535")
    return int(text)


def _split(url: str, scheme: str) -> tuple[str | None, str | None, str, str]:
    """`scheme://[user[:password]@]hosts[/path]` -> (user, password, hosts, path)."""
    rest = url[len(scheme) :]
    if "?" in rest or "#" in rest:
        raise ConfigurationError(f"token store URL: {scheme} takes no query options")
    userinfo, _, location = rest.rpartition("@")
    hosts, _, path = location.partition("/")
    user: str | None = None
    password: str | None = None
    if userinfo:
        name, has_password, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if has_password else None
        if password is None:  # `redis+cluster://secret@host` means a password alone
            user, password = None, unquote(name)
    return user, password, hosts, path


def _auth(user: str | None, password: str | None) -> list[list[bytes]]:
    if password is None:
        return []
    if user is None:
        return [[b"AUTH", password.encode()]]
    return [[b"AUTH", user.encode(), password.encode()]]


def _select(db: int) -> list[list[bytes]]:
    return [[b"SELECT", b"%d" % db]] if db else []


def open_connections(url: str, *, pool_size: int, timeout: float) -> Connections:
    if pool_size < 1 or not timeout > 0:
        raise ConfigurationError("token store: pool_size must be >= 1 and timeout > 0")
    if url.startswith(("redis://", "rediss://")):
        return _standalone(url, pool_size, timeout)
    if url.startswith("redis+sentinel://"):
        return _sentinel(url, pool_size, timeout)
    if url.startswith("redis+cluster://"):
        return _cluster(url, pool_size, timeout)
    raise ConfigurationError("token store URL: not a redis URL")


def _standalone(url: str, pool_size: int, timeout: float) -> Connections:
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=_retry_none(),
        )
    except ValueError as exc:
        raise ConfigurationError("token store URL: not a valid redis URL") from exc
    client = Redis(connection_pool=pool)
    guard = asyncio.Semaphore(pool_size)

    def subscriber() -> Redis:
        return Redis.from_url(url, **_subscriber_options(timeout))

    if url.startswith("rediss://"):
        return Connections(client, _through(client, guard), guard, (client.aclose,), subscriber)
    kwargs = pool.connection_kwargs
    host, port = str(kwargs.get("host", "localhost")), int(kwargs.get("port", REDIS_PORT))

    async def address() -> tuple[str, int]:
        return host, port

    handshake = [*_auth(kwargs.get("username"), kwargs.get("password"))]
    handshake += _select(int(kwargs.get("db", 0)))
    link = PipelinedConnection(address, timeout=timeout, handshake=handshake)
    return Connections(client, _on(link), guard, (link.close, client.aclose), subscriber)


def _subscriber_options(timeout: float) -> dict[str, Any]:
    # The subscription reads with its own heartbeat deadline (feed.py); the socket
    # timeout only bounds one blocked read, never shorter than a heartbeat round.
    return {"socket_timeout": max(timeout, 1.0), "socket_connect_timeout": max(timeout, 1.0),
            "retry": _retry_none()}  # fmt: skip


def _through(client: Redis, guard: asyncio.Semaphore) -> Runner:
    """TLS: commands go through redis-py's SSL connections (see module docstring)."""

    async def run(key: bytes, command: Sequence[bytes], idempotent: bool) -> Any:
        name, *args = command
        async with guard:
            return await client.execute_command(name.decode(), *args)  # type: ignore[no-untyped-call]

    return run


def _on(link: PipelinedConnection) -> Runner:
    async def run(key: bytes, command: Sequence[bytes], idempotent: bool) -> Any:
        return await link.execute(*command)

    return run


def _sentinel_url(url: str) -> tuple[str | None, str | None, str, str, int]:
    """-> (user, password, sentinel hosts, service name, db)"""
    user, password, hosts_text, path = _split(url, "redis+sentinel://")
    service, _, db_text = path.partition("/")
    if not service:
        raise ConfigurationError("token store URL: redis+sentinel:// needs /service_name")
    if db_text and not db_text.isdigit():
        raise ConfigurationError("token store URL: the Sentinel db must be a number")
    return user, password, hosts_text, service, int(db_text or 0)


def _must_be_master(replies: list[Any]) -> None:
    """The last handshake reply is ROLE's: refuse a server that is no longer the master
    (Sentinel may not have noticed a failover yet)."""
    role = replies[-1]
    if not role or role[0] != b"master":
        raise RedisConnectionError("the server Sentinel named is not a master")


def _sentinel(url: str, pool_size: int, timeout: float) -> Connections:
    user, password, hosts_text, service, db = _sentinel_url(url)
    timeouts = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        parse_hosts(hosts_text, SENTINEL_PORT), sentinel_kwargs=dict(timeouts), **timeouts
    )
    client = sentinel.master_for(
        service, db=db, username=user, password=password, max_connections=pool_size,
        retry=_retry_none(),
    )  # fmt: skip

    async def address() -> tuple[str, int]:
        host, port = await sentinel.discover_master(service)
        return str(host), int(port)

    handshake = [*_auth(user, password), *_select(db), [b"ROLE"]]
    link = PipelinedConnection(
        address, timeout=timeout, handshake=handshake, check_handshake=_must_be_master
    )

    async def close_sentinels() -> None:
        for node in sentinel.sentinels:
            await node.aclose()

    def subscriber() -> Redis:
        options = _subscriber_options(timeout)
        options.pop("retry")
        master: Redis = sentinel.master_for(
            service, db=db, username=user, password=password, retry=_retry_none(), **options
        )
        return master

    closers = (link.close, client.aclose, close_sentinels)
    return Connections(client, _on(link), asyncio.Semaphore(pool_size), closers, subscriber)


def _cluster(url: str, pool_size: int, timeout: float) -> Connections:
    user, password, hosts_text, path = _split(url, "redis+cluster://")
    if path:
        raise ConfigurationError("token store URL: redis+cluster:// takes no path (db 0 only)")
    client = RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in parse_hosts(hosts_text, REDIS_PORT)],
        username=user,
        password=password,
        max_connections=pool_size,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=_retry_none(),
    )
    guard = asyncio.Semaphore(pool_size)
    router = _ClusterRouter(client, guard, timeout, _auth(user, password))
    seed_host, seed_port = parse_hosts(hosts_text, REDIS_PORT)[0]

    def subscriber() -> Redis:
        return Redis(host=seed_host, port=seed_port, username=user, password=password,
                     **_subscriber_options(timeout))  # fmt: skip

    return Connections(client, router.run, guard, (router.close, client.aclose), subscriber)


class _ClusterRouter:
    """One pipelined connection per master, chosen from redis-py's slot map.

    A MOVED/ASK reply (the command did not run) sends that one command through redis-py's
    cluster client, which follows the redirection and updates its slot map for the calls
    after it. So does a lost or stuck node, for idempotent commands only: redis-py then
    refreshes the map too (a failover), and a rotation is never sent twice.
    """

    def __init__(
        self,
        cluster: RedisCluster,
        guard: asyncio.Semaphore,
        timeout: float,
        handshake: list[list[bytes]],
    ) -> None:
        self._cluster = cluster
        self._guard = guard
        self._timeout = timeout
        self._handshake = handshake
        self._links: dict[str, PipelinedConnection] = {}

    async def run(self, key: bytes, command: Sequence[bytes], idempotent: bool) -> Any:
        await self._cluster.initialize()  # a no-op unless the slot map must be (re)read
        node = self._cluster.get_node_from_key(key)  # type: ignore[arg-type]
        if node is None:
            return await self._slow(command)
        link = self._links.get(node.name) or self._link_for(node.name, node.host, int(node.port))
        try:
            return await link.execute(*command)
        except ResponseError as exc:
            if not str(exc).startswith(("MOVED ", "ASK ")):
                raise
        except (RedisConnectionError, RedisTimeoutError, OSError):
            if not idempotent:
                raise
        return await self._slow(command)

    async def _slow(self, command: Sequence[bytes]) -> Any:
        name, *args = command
        async with self._guard:
            return await self._cluster.execute_command(name.decode(), *args)

    def _link_for(self, name: str, host: str, port: int) -> PipelinedConnection:
        async def address() -> tuple[str, int]:
            return host, port

        link = PipelinedConnection(address, timeout=self._timeout, handshake=self._handshake)
        self._links[name] = link
        return link

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()
        self._links.clear()
