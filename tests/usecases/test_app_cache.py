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

    async def update_app(self, app: App) -> None:
        self.apps[app.client_id] = app

    async def list_apps(self) -> list[App]:
        return list(self.apps.values())


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


async def test_an_update_reaches_this_process_at_once() -> None:
    inner = CountingApps()
    cached = CachedApps(inner, ttl=30, clock=FixedClock())
    await cached.add_app(APP)
    assert await cached.app_by_client_id("c1") == APP
    changed = replace(APP, redirect_uris=("https://app.example/cb",))
    await cached.update_app(changed)
    assert await cached.app_by_client_id("c1") == changed
