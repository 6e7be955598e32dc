"""The HTTP/1.1 listener `jwtkeep serve` runs: uvicorn's httptools protocol, with limits.

uvicorn alone accepts a request header of any size (httptools buffers it whole) and waits
for ever for headers or a body sent a byte at a time (slowloris): one client could hold
memory and connections without end. This protocol adds, per connection:

- a bound on the request line plus headers (`max_header_bytes`, counted before the bytes
  reach the parser, so at most that much is ever buffered) and on their number
  (`max_headers`): over either, 431 Request Header Fields Too Large and the connection
  closes (RFC 6585 §5; RFC 9110 §5.4: a server may bound header size and refuse beyond it);
- a total deadline for the request headers (`request_header_timeout`, from the connection's
  start or the request's first byte: bytes trickling in do not extend it), then 408 Request
  Timeout and close (RFC 9110 §15.5.9); a deadline for the body once the headers are in
  (`request_body_timeout`), then close; uvicorn's own keep-alive timeout between requests;
- on every response the listener writes itself (400 for a malformed request, 408, 431) the
  same security headers as the app's (`jwtkeep.server.middleware.security_headers`), and
  `Connection: close` (RFC 9112 §9.6).

`ListenerServer` is uvicorn's `Server` with one change: `loop.create_server` gets
`ssl_handshake_timeout`, so a TCP connection that never finishes (or never starts) its TLS
handshake is closed after `tls_handshake_timeout`; and it can run companion servers (the
metrics listener) on the same loop, started and stopped with it.

Why httptools and not h11 (which has a header-size bound of its own): h11 answers an
oversized header with 400, not 431, and is the slower, pure-Python parser (uvicorn
prefers httptools when installed). Counting bytes until the headers complete costs a
comparison per read; wrk on /healthz showed no difference beyond the run-to-run noise.

Stray bytes that start no request (CRLFs, which RFC 9112 §2.2 lets a server ignore) cancel
uvicorn's keep-alive timer; here they start the header deadline, so they keep nothing open.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from jwtkeep.errors import JwtkeepError
from jwtkeep.server.middleware import CACHE_CONTROL_NO_STORE, security_headers
from jwtkeep.settings import Settings

__all__ = ["LimitedHttpProtocol", "ListenerLimits", "ListenerServer", "protocol_class"]

_log = structlog.get_logger("jwtkeep.server")


@dataclass(frozen=True)
class ListenerLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ListenerLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers,
            header_timeout=settings.request_header_timeout,
            body_timeout=settings.request_body_timeout,
        )  # fmt: skip


class _HeadersTooLarge(JwtkeepError):
    """Raised in a parser callback to abort parsing; answered with 431."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header bounds and request deadlines."""

    limits: ClassVar[ListenerLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0  # bytes of the current request's line and headers so far
        self._header_count = 0
        self._headers_started = False  # a request has begun; its headers are not complete
        self._body_pending = False  # headers complete, the body is not
        self._refusal: tuple[int, str] | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # The connection: deadlines
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # The first request's headers are due from the start (an idle connection closes).
        self._header_timer = self.loop.call_later(
            self.limits.header_timeout, self._headers_timed_out
        )

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while not self._body_pending:
            room = self.limits.max_header_bytes - self._header_bytes
            if len(data) <= room:
                self._header_bytes += len(data)
                break
            if room == 0:  # the headers have used their bytes and are still not complete
                self._refuse(431, "Request header fields too large.")
                return
            # Feed only what fits; whatever follows is counted once the parser has run.
            head, data = data[:room], data[room:]
            self._header_bytes += len(head)
            super().data_received(head)
            if self.transport.is_closing():
                return
        super().data_received(data)
        if not self.transport.is_closing():
            self._arm_deadlines()

    def _arm_deadlines(self) -> None:
        """After the parser ran: start the deadline of whatever is now incomplete."""
        if self._body_pending:
            if self._body_timer is None:
                self._body_timer = self.loop.call_later(
                    self.limits.body_timeout, self._body_timed_out
                )
        elif self._header_timer is None and (
            self._headers_started or self.cycle is None or self.cycle.response_complete
        ):
            # Headers begun, or bytes (even stray CRLFs) that cancelled uvicorn's
            # keep-alive timer on an idle connection: the headers are due from now.
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._headers_timed_out
            )

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        _log.info("listener.timeout", phase="headers", after=self.limits.header_timeout)
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(408, "Request headers not received in time.")
        else:  # a response is still being written: do not interleave another
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            _log.info("listener.timeout", phase="body", after=self.limits.body_timeout)
            self.transport.close()

    # Parser callbacks (within `feed_data`)
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._headers_started = True
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, "Too many request header fields.")
            # httptools turns a callback's exception into HttpParserCallbackError, which
            # uvicorn answers with `send_400_response` (below: our 431).
            raise _HeadersTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._headers_started = False
        self._body_pending = True
        self._header_bytes = 0
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # The listener's own answers
    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a framing error, with the security headers (or our 431)."""
        status, text = self._refusal or (400, msg)
        self._refuse(status, text)

    def _refuse(self, status: int, text: str) -> None:
        """Write a complete plain-text answer and close (RFC 9112 §9.6 `Connection: close`)."""
        if status != 400:  # uvicorn already logged its 400
            _log.info("listener.refused", status=status, reason=text)
        body = text.encode("ascii")
        headers = [
            *self.server_state.default_headers,
            *((n.lower().encode(), v.encode()) for n, v in self._security_headers()),
            (b"cache-control", CACHE_CONTROL_NO_STORE.encode()),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in headers)]
        self.transport.write(b"".join([*lines, b"\r\n", body]))
        self.transport.close()

    def _security_headers(self) -> list[tuple[str, str]]:
        return security_headers(over_tls=self.scheme == "https")


def protocol_class(limits: ListenerLimits) -> type[LimitedHttpProtocol]:
    """A protocol class bound to `limits`, for `uvicorn.Config(http=...)`."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})


class ListenerServer(uvicorn.Server):
    """uvicorn's `Server`, with a TLS handshake deadline and companion servers."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        handshake_timeout: float,
        companions: Sequence[ListenerServer] = (),
    ) -> None:
        super().__init__(config)
        self.handshake_timeout = handshake_timeout
        self.companions = tuple(companions)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's host/port startup, plus `ssl_handshake_timeout`: an unfinished
        handshake holds a socket and a TLS state, so it gets a deadline too."""
        if sockets is not None:
            raise NotImplementedError("jwtkeep binds its own host and port")
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state,
                app_state=self.lifespan.state, _loop=_loop,
            )  # fmt: skip

        tls: dict[str, Any] = {}
        if config.ssl is not None:
            tls = {"ssl": config.ssl, "ssl_handshake_timeout": self.handshake_timeout}
        try:
            server = await asyncio.get_running_loop().create_server(
                create_protocol, host=config.host, port=config.port, backlog=config.backlog, **tls
            )
        except OSError as exc:
            uvicorn.server.logger.error(exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers = [server]
        self._log_started_message(server.sockets)
        for companion in self.companions:
            await companion.start_alongside()
        self.started = True

    async def start_alongside(self) -> None:
        """Start as a companion on the running loop (its host's signals and main loop)."""
        if not self.config.loaded:
            self.config.load()
        self.lifespan = self.config.lifespan_class(self.config)
        await self.startup()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for companion in self.companions:
            if companion.started:
                await companion.shutdown()
        await super().shutdown(sockets)
