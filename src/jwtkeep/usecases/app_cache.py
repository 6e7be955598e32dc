"""A short-lived in-memory cache of registered apps, in front of the app repository.

Every token request authenticates its client (RFC 6749 §2.3), so the lookup by
`client_id` is on the hot path of the token endpoint. A change made here (`app update`
of scopes, redirect URIs, grants...; `rotate-secret`, `disable`, `delete`) drops the
cached copy at once; the TTL (5 s) bounds how long a change made by another process (the
CLI, another replica) takes to reach this one. The tokens of a disabled or deleted app
end in the token store at once, whatever any cache holds. Only found apps are cached: an
unknown `client_id` is looked up each time (no negative caching an attacker could fill).
"""

from __future__ import annotations

from jwtkeep.core.clock import Clock, system_clock
from jwtkeep.ports import App, AppRepository

__all__ = ["MAX_CACHED_APPS", "CachedApps"]

MAX_CACHED_APPS = 10_000


class CachedApps:
    """An `AppRepository` that remembers `app_by_client_id` answers for `ttl` seconds."""

    def __init__(self, inner: AppRepository, ttl: float = 5.0, clock: Clock = system_clock):
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, App]] = {}

    async def add_app(self, app: App) -> None:
        await self._inner.add_app(app)

    async def list_apps(self) -> list[App]:
        return await self._inner.list_apps()

    async def replace_app(self, app: App) -> None:
        self._cache.pop(app.client_id, None)
        await self._inner.replace_app(app)

    async def delete_app(self, app_id: str) -> bool:
        self._cache.clear()  # by id: which client_id it had is not known here
        return await self._inner.delete_app(app_id)

    async def app_by_client_id(self, client_id: str) -> App | None:
        now = self._clock()
        cached = self._cache.get(client_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        app = await self._inner.app_by_client_id(client_id)
        if app is not None:
            if len(self._cache) >= MAX_CACHED_APPS:
                self._cache.clear()  # bounded; a refill costs one lookup per app
            self._cache[client_id] = (now, app)
        return app
