"""The app cache answers repeated client lookups from memory, for a bounded time."""

from __future__ import annotations

from dataclasses import replace

from jwtkeep.core.clock import FixedClock
from jwtkeep.ports import App
from jwtkeep.usecases.app_cache import CachedApps

APP = App(
    id="00000000-0000-4000-8000-000000000001", name="web", client_id="c1", audience="api",
    scopes=("read",), routes=(), confidential=False, client_secret_hash=None,
    access_token_ttl=300, refresh_enabled=True, created_at=0.0,
)  # fmt: skip


class CountingApps:
    """An AppRepository double (the port): counts lookups."""

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.lookups = 0

    async def add_app(self, app: App) -> None:
        self.apps[app.client_id] = app

    async def app_by_client_id(self, client_id: str) -> App | None:
        self.lookups += 1
        return self.apps.get(client_id)

    async def list_apps(self) -> list[App]:
        return list(self.apps.values())

    async def replace_app(self, app: App) -> None:
        self.apps[app.client_id] = app

    async def delete_app(self, app_id: str) -> bool:
        found = [key for key, app in self.apps.items() if app.id == app_id]
        for key in found:
            del self.apps[key]
        return bool(found)


async def test_found_apps_are_cached_for_the_ttl() -> None:
    inner, clock = CountingApps(), FixedClock()
    cached = CachedApps(inner, ttl=30, clock=clock)
    await cached.add_app(APP)
    assert [await cached.app_by_client_id("c1") for _ in range(5)] == [APP] * 5
    assert inner.lookups == 1
    clock.advance(31)
    assert await cached.app_by_client_id("c1") == APP
    assert inner.lookups == 2


async def test_unknown_clients_are_never_cached() -> None:
    inner = CountingApps()
    cached = CachedApps(inner)
    assert await cached.app_by_client_id("nobody") is None
    assert await cached.app_by_client_id("nobody") is None
    assert inner.lookups == 2
    await cached.add_app(APP)
    assert await cached.list_apps() == [APP]


async def test_a_change_made_here_is_seen_at_once() -> None:
    """`app update`/`disable`/`delete` through the cache drop its copy: no stale app for
    the TTL in the process that made the change."""
    inner, clock = CountingApps(), FixedClock()
    cached = CachedApps(inner, ttl=30, clock=clock)
    await cached.add_app(APP)
    assert await cached.app_by_client_id(APP.client_id) == APP
    moved = replace(APP, redirect_uris=("https://app.example/cb",))
    await cached.replace_app(moved)
    assert await cached.app_by_client_id(APP.client_id) == moved
    disabled = replace(moved, disabled=True)
    await cached.replace_app(disabled)
    assert await cached.app_by_client_id(APP.client_id) == disabled
    assert await cached.delete_app(APP.id)
    assert await cached.app_by_client_id(APP.client_id) is None
