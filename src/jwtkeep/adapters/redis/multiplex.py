"""One auto-pipelined Redis connection shared by every concurrent caller: the hot path.

Why: the allowlist check runs on every request (DESIGN "Contract: the token store"). A
pooled redis-py call costs far more client CPU than the round trip itself; here every
command issued during one event-loop turn is written with a single `send`, and the
replies (which Redis returns in order) are matched to their callers by position, parsed
by hiredis. bench/bench_redis.py measures it against plain `redis.asyncio`.

Failing closed: a Redis that sends nothing for `timeout` seconds while a reply is due, a
reset, a protocol error or a refused connection fails every waiting call with a redis-py
`ConnectionError`/`TimeoutError` (the store turns them into `StoreUnavailable`), and the
broken connection is dropped; the next call connects again, so the store recovers by
itself when Redis is back. Nothing here retries a command.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["AddressResolver", "PipelinedConnection", "pack_command", "reply_error"]

AddressResolver = Callable[[], Awaitable[tuple[str, int]]]


def pack_command(*args: bytes) -> bytes:
    """RESP2 multi-bulk encoding of one command."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def reply_error(message: str) -> ResponseError:
    """A Redis error reply as redis-py's exception (NOSCRIPT gets its own class, so a
    script can be loaded and sent again; MOVED/ASK keep their prefix for the router)."""
    if message.startswith("NOSCRIPT "):
        return NoScriptError(message)
    return ResponseError(message)


class _Link(asyncio.Protocol):
    """One TCP connection: requests out in batches, replies back in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        self._pending: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._last_reply_at = 0.0
        self._suspect = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport has the same methods but is no asyncio.Transport subclass.
        self._transport = cast("asyncio.Transport", transport)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise RedisConnectionError("connection closed")
        future: asyncio.Future[Any] = self.loop.create_future()
        sent_at = self.loop.time()
        self._pending.append((future, sent_at))
        self._outbox.append(packed)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(sent_at + self.timeout, self._watch)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or self._transport is None:
            return
        batch, self._outbox = self._outbox, []
        self._transport.write(b"".join(batch))

    def data_received(self, data: bytes) -> None:
        self._last_reply_at = self.loop.time()
        self._reader.feed(data)
        try:
            reply = self._reader.gets()
            while reply is not False:
                self._deliver(reply)
                reply = self._reader.gets()
        except hiredis.ProtocolError:
            self.abort(RedisConnectionError("Redis protocol error"))

    def _deliver(self, reply: Any) -> None:
        if not self._pending:
            raise hiredis.ProtocolError("a reply nobody asked for")
        future, _ = self._pending.popleft()
        if future.done():  # the caller was cancelled; the reply is dropped
            return
        if isinstance(reply, hiredis.ReplyError):
            future.set_exception(reply_error(str(reply)))
        else:
            future.set_result(reply)

    def _watch(self) -> None:
        """Abort when Redis has sent nothing for `timeout` seconds while a request waits.

        Counted from the later of the oldest request and the last bytes received: a Redis
        that keeps answering is alive, however long our own requests queue. And before
        aborting, look once more right after the event loop's next poll for I/O (asyncio
        and uvloop run socket reads before due timers): if our loop was merely too busy to
        read replies that had already arrived, they are seen then.
        """
        self._watchdog = None
        if self.closed or not self._pending:
            self._suspect = False
            return
        silent_since = max(self._pending[0][1], self._last_reply_at)
        if self.loop.time() - silent_since < self.timeout:
            self._suspect = False
            self._watchdog = self.loop.call_at(silent_since + self.timeout, self._watch)
        elif not self._suspect:
            self._suspect = True
            self._watchdog = self.loop.call_later(0, self._watch)
        else:
            self.abort(RedisTimeoutError(f"no reply from Redis within {self.timeout}s"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(RedisConnectionError("connection to Redis lost"))

    def abort(self, error: Exception) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._fail_all(error)

    def _fail_all(self, error: Exception) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._pending:
            future, _ = self._pending.popleft()
            if not future.done():
                future.set_exception(error)


class PipelinedConnection:
    """A self-healing, auto-pipelined connection to one Redis server.

    `resolve` gives the address to connect to (fixed, or asked of Sentinel each time);
    `handshake` commands (AUTH, SELECT, ROLE) run first on every new connection, and
    `check_handshake` may refuse their replies (e.g. a Sentinel-named server that is no
    longer a master).
    """

    def __init__(
        self,
        resolve: AddressResolver,
        *,
        timeout: float,
        handshake: Sequence[Sequence[bytes]] = (),
        check_handshake: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._resolve = resolve
        self._timeout = timeout
        self._handshake = [pack_command(*command) for command in handshake]
        self._check_handshake = check_handshake
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None

    async def execute(self, *args: bytes) -> Any:
        link = self._link
        if link is None or link.closed or link.loop is not asyncio.get_running_loop():
            link = await self._connected()
        return await link.send(pack_command(*args))

    async def _connected(self) -> _Link:
        loop = asyncio.get_running_loop()
        pending = self._connecting
        if pending is not None and pending.get_loop() is loop and not pending.done():
            return await asyncio.shield(pending)
        self._drop()
        self._connecting = loop.create_future()
        try:
            link = await self._open(loop)
        except BaseException as exc:
            shared = exc if isinstance(exc, Exception) else RedisConnectionError("cancelled")
            self._connecting.set_exception(shared)
            self._connecting.exception()  # marked as retrieved; waiters re-raise it
            self._connecting = None
            raise
        self._link = link
        self._connecting.set_result(link)
        return link

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Link:
        try:
            async with asyncio.timeout(self._timeout):
                host, port = await self._resolve()
                _, link = await loop.create_connection(
                    lambda: _Link(loop, self._timeout), host, port
                )
        except TimeoutError as exc:
            raise RedisTimeoutError("timed out connecting to Redis") from exc
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc.strerror}") from exc
        try:
            replies = [await link.send(packed) for packed in self._handshake]
            if self._check_handshake is not None:
                self._check_handshake(replies)
        except BaseException:
            link.abort(RedisConnectionError("handshake refused"))
            raise
        return link

    def _drop(self) -> None:
        link, self._link = self._link, None
        if link is not None and not link.closed:
            # A link of another (maybe closed) event loop cannot be closed from here; its
            # socket goes with that loop.
            with contextlib.suppress(RuntimeError):
                link.abort(RedisConnectionError("connection replaced"))

    async def close(self) -> None:
        self._drop()
        await asyncio.sleep(0)  # let the transport finish closing
