"""The event stream's HTTP client closed under it (a caller's shared client) is a lost
subscription (StoreUnavailable, which the follower handles and retries), not httpx's
RuntimeError escaping the follower task as a traceback."""

from __future__ import annotations

import httpx
import pytest

from jwtkeep.errors import StoreUnavailable
from jwtkeep.sdk import EventStreamFeed


async def test_a_closed_client_is_a_lost_subscription() -> None:
    client = httpx.AsyncClient()
    await client.aclose()
    feed = EventStreamFeed("https://auth.example/oauth/revocation-events", "id", "secret", client)
    with pytest.raises(StoreUnavailable, match="HTTP client is closed"):
        async for _ in feed.listen():
            pass
