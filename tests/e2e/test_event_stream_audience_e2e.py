"""The HTTPS revocation event stream is limited to what each client may know (its audience).

A real `jwtkeep serve` (SQLite default, TLS) and three confidential clients following
`/oauth/revocation-events`: `shop` and `blog` (two apps, two audiences) and `shop-api`
(its own audience, granted shop's with `--introspect-audience`: the API behind an app).
A user who uses both apps and one who uses only the shop are revoked in every way the
stream carries, ending with the key-leak drill; each client must get exactly the events
of the tokens it may introspect (RFC 7662 §4), in order, and the `kid` event. Nothing is
timed: the drill's `kid` event comes last, so an event a client must not see would
arrive before it and show in the list.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from jwtkeep.core.compact import b64url_decode, parse_compact
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.revocation_events import EventKind, RevocationEvent
from jwtkeep.sdk.event_stream import EventStreamFeed
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
)

pytestmark = [pytest.mark.e2e]

WAIT = 20.0
SHOP, BLOG = "https://api.shop", "https://api.blog"


@dataclass
class Client:
    client_id: str
    secret: str


@dataclass
class Issuer:
    server: Server
    clients: dict[str, Client]


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    data_dir = tmp_path_factory.mktemp("audience") / "data"
    env = clean_environment(data_dir)
    assert run_cli(env, "init").returncode == 0
    apps = {
        "shop": ("--audience", SHOP, *PASSWORD_GRANT),
        "blog": ("--audience", BLOG, *PASSWORD_GRANT),
        "shop-api": ("--audience", "https://api.shop-internal", "--introspect-audience", SHOP),
    }
    clients = {}
    for name, flags in apps.items():
        made = run_cli(env, "app", "create", name, "--confidential", *flags, "--json")
        assert made.returncode == 0, made.stderr
        created = json.loads(made.stdout)
        clients[name] = Client(created["client_id"], created["client_secret"])
    for user in ("sam", "ann"):
        made = run_cli(env, "user", "create", user, "--password-stdin", stdin=PASSWORD)
        assert made.returncode == 0, made.stderr
    server = start_server(data_dir, env)
    try:
        wait_until_healthy(server)
        yield Issuer(server, clients)
    finally:
        stop(server.process)


@dataclass
class Grant:
    access: str
    refresh: str

    def claim(self, name: str) -> str:
        value: str = json.loads(b64url_decode(parse_compact(self.access).payload_segment))[name]
        return value


def log_in(issuer: Issuer, app: str, user: str) -> Grant:
    client = issuer.clients[app]
    form = {"grant_type": "password", "username": user, "password": PASSWORD,
            "client_id": client.client_id, "client_secret": client.secret}  # fmt: skip
    with issuer.server.client() as http:
        response = http.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    return Grant(body["access_token"], body["refresh_token"])


def revoke(issuer: Issuer, app: str, token: str) -> None:
    client = issuer.clients[app]
    with issuer.server.client() as http:
        response = http.post("/oauth/revoke", data={"token": token},
                             auth=(client.client_id, client.secret))  # fmt: skip
    assert response.status_code == 200, response.text


@dataclass
class Follower:
    """One client's stream, read from a task of its own."""

    feed: EventStreamFeed
    events: list[RevocationEvent] = field(default_factory=list)
    live: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self) -> None:
        async for signal in self.feed.listen():
            self.live.set()
            if signal is not None:
                self.events.append(signal)

    def session(self, sid: str, sub: str) -> RevocationEvent:
        name = self.feed.keyer()  # this connection's keyed hash of sids and subs
        return RevocationEvent(EventKind.SESSION, name(sid), name(sub))

    def user(self, sub: str) -> RevocationEvent:
        return RevocationEvent(EventKind.USER, self.feed.keyer()(sub))

    async def until_kid_event(self) -> list[RevocationEvent]:
        async with asyncio.timeout(WAIT):
            while not any(e.kind is EventKind.KID for e in self.events):
                await asyncio.sleep(0.01)
        return self.events


@pytest.fixture
async def followers(issuer: Issuer) -> AsyncIterator[dict[str, Follower]]:
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(issuer.server.cert)))
    url = f"{issuer.server.url}/oauth/revocation-events"
    followers = {
        name: Follower(EventStreamFeed(url, client.client_id, client.secret, http))
        for name, client in issuer.clients.items()
    }
    tasks = [asyncio.create_task(f.follow()) for f in followers.values()]
    try:
        async with asyncio.timeout(WAIT):
            for follower in followers.values():
                await follower.live.wait()  # its `hello`: nothing after this is missed
        yield followers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()


async def test_each_client_gets_the_events_of_its_audience_and_every_kid_event(
    issuer: Issuer, followers: dict[str, Follower]
) -> None:
    sam_shop = await asyncio.to_thread(log_in, issuer, "shop", "sam")
    sam_blog = await asyncio.to_thread(log_in, issuer, "blog", "sam")
    ann_shop = await asyncio.to_thread(log_in, issuer, "shop", "ann")
    sam, ann = sam_shop.claim("sub"), ann_shop.claim("sub")

    await asyncio.to_thread(revoke, issuer, "shop", sam_shop.access)  # RFC 7009: token
    await asyncio.to_thread(revoke, issuer, "blog", sam_blog.access)
    await asyncio.to_thread(revoke, issuer, "shop", sam_shop.refresh)  # the whole session
    env = issuer.server.env
    disabled = await asyncio.to_thread(run_cli, env, "user", "disable", "ann")  # a user event
    assert disabled.returncode == 0, disabled.stderr
    kid = parse_compact(ann_shop.access).kid
    drill = await asyncio.to_thread(run_cli, env, "keys", "compromised", kid)
    assert drill.returncode == 0, drill.stderr

    token_shop = RevocationEvent.token(fingerprint(sam_shop.access))
    token_blog = RevocationEvent.token(fingerprint(sam_blog.access))
    kid_event = RevocationEvent.signed_by(kid)
    for name in ("shop", "shop-api"):  # shop's own, and the API granted shop's audience
        follower = followers[name]
        assert await follower.until_kid_event() == [
            token_shop,
            follower.session(sam_shop.claim("sid"), sam),
            follower.user(ann),
            kid_event,
        ], name
    # The blog sees its own token and the drill: nothing of the shop's users or sessions.
    assert await followers["blog"].until_kid_event() == [token_blog, kid_event]
