"""One private event loop in a daemon thread, for synchronous frameworks (Flask, WSGI).

The Verifier is async and its clients (httpx, async Redis) belong to the loop they were
first used on. A sync framework therefore must not call `asyncio.run` per request (a new
loop each time would strand those clients); instead every coroutine is submitted to one
long-lived loop with `asyncio.run_coroutine_threadsafe` and the request thread waits for
the result, with a timeout (a hung dependency must not hang the worker: it becomes
`StoreUnavailable`, 503).

The loop is started lazily and restarted in a forked child (a pre-fork server such as
gunicorn with `--preload` copies the object but not the thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from jwtkeep.errors import StoreUnavailable

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """Runs coroutines on a private loop owned by this object."""

    def __init__(self, *, timeout: float = 10.0, name: str = "jwtkeep-sdk-loop") -> None:
        self.timeout = timeout
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the private loop and wait; StoreUnavailable on timeout."""
        future = asyncio.run_coroutine_threadsafe(coro, self._running_loop())
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise StoreUnavailable("token verification timed out") from None

    def close(self) -> None:
        """Stop the loop and join the thread (idempotent)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None and self._pid == os.getpid():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=self._name, daemon=True
                )
                self._pid = os.getpid()
                self._thread.start()
            return self._loop
