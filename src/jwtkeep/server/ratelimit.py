"""Brute-force protection for password checks (OWASP ASVS V2.2.1, RFC 6749 §4.3.2: "the
authorization server MUST protect the endpoint against brute force attacks").

Every attempt that would check a password (the password grant, `POST /auth/password`) and
every self-registration (which hashes one) is counted twice, in a moving window of one
minute: once for the account (username, or user id) and once for the client IP. Over
`settings.login_attempts_per_minute` on either count, the attempt is refused with 429 and
`Retry-After` before any password is checked. Account keys are SHA-256 digests, so the
limiter's storage holds no usernames.

Storage: memory (one process) by default; the Redis named by `settings.token_store_url`
when that is a Redis URL, so every replica counts together. If the limiter's storage
cannot be reached, the attempt is refused with 503 (fail closed): an unreachable counter
must never open the gate to unlimited guessing.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from jwtkeep.errors import InvalidRequest, StoreUnavailable
from jwtkeep.settings import Settings

__all__ = ["NAMESPACE", "LoginLimiter", "TooManyAttempts", "limiter_storage_uri"]

NAMESPACE = "jwtkeep-attempts"


class TooManyAttempts(InvalidRequest):
    """429 (RFC 6585 §4) with `Retry-After`, in the RFC 6749 §5.2 shape: RFC 6749 has no
    throttling code, so the generic `invalid_request` (see docs/http-api.md)."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many attempts; try again later.", reason="rate limited")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def limiter_storage_uri(token_store_url: str | None) -> tuple[str, dict[str, float | str | bool]]:
    """The `limits` async storage URI (and options) for a jwtkeep token-store URL."""
    if token_store_url is None or not token_store_url.startswith(("redis", "rediss")):
        return "async+memory://", {}
    parts = urlsplit(token_store_url)
    if parts.scheme == "redis+sentinel":
        # jwtkeep: redis+sentinel://host:port[,host:port]/service[/db]; limits wants the
        # service as the whole path and the db as an option.
        segments = [s for s in parts.path.split("/") if s]
        options: dict[str, float | str | bool] = {}
        if len(segments) > 1 and segments[1].isdigit():
            options["db"] = int(segments[1])
        service = segments[0] if segments else ""
        return f"async+redis+sentinel://{parts.netloc}/{service}", options
    return f"async+{token_store_url}", {}


def _storage(settings: Settings) -> Storage:
    uri, options = limiter_storage_uri(settings.token_store_url)
    if uri == "async+memory://":
        return MemoryStorage()
    options |= {"socket_timeout": settings.store_timeout,
                "socket_connect_timeout": settings.store_timeout}  # fmt: skip
    storage = storage_from_string(uri, implementation="redispy", wrap_exceptions=True, **options)
    assert isinstance(storage, Storage)
    return storage


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LoginLimiter:
    def __init__(
        self, storage: Storage, per_minute: int, on_throttled: Callable[[str], None] | None = None
    ) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(per_minute, 1, namespace=NAMESPACE)
        self._on_throttled = on_throttled

    @classmethod
    def from_settings(
        cls, settings: Settings, on_throttled: Callable[[str], None] | None = None
    ) -> LoginLimiter:
        return cls(_storage(settings), settings.login_attempts_per_minute, on_throttled)

    async def hit(self, action: str, *, account: str | None, ip: str) -> None:
        """Count one `action` attempt; raise TooManyAttempts over the limit, or
        StoreUnavailable if the counts cannot be reached."""
        keys = [(action, "ip", ip or "unknown")]
        if account is not None:
            keys.append((action, "account", _digest(account)))
        for key in keys:
            retry_after = await self._over_limit(key)
            if retry_after is not None:
                if self._on_throttled is not None:
                    self._on_throttled(action)
                raise TooManyAttempts(retry_after)

    async def _over_limit(self, key: tuple[str, ...]) -> int | None:
        """Count one hit; None if allowed, else the seconds until the window frees up."""
        try:
            if await self._limiter.hit(self._item, *key):
                return None
            stats = await self._limiter.get_window_stats(self._item, *key)
        except Exception as exc:  # fail closed, whatever the storage raised
            raise StoreUnavailable(
                f"rate limit storage unavailable ({type(exc).__name__})"
            ) from exc
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        """Close the Redis client, if any (the memory storage needs nothing)."""
        bridge = getattr(self._storage, "bridge", None)
        client = bridge.get_connection() if bridge is not None else None
        closer = getattr(client, "aclose", None)
        if closer is not None:
            await closer()
