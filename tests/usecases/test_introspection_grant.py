"""The introspection grant (RFC 7662 §4): a confidential app (an API) may introspect the
tokens of another app's audience only when granted it (`AppSpec.introspect_audiences`,
`jwtkeep app create --introspect-audience`); the issuer URL (the account API's audience)
never counts, and registration refuses a grant for a public app, for the issuer URL, and
for an audience no app has."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from jwtkeep.core.revocation_events import EVERYTHING, RevocationEvent
from jwtkeep.errors import InvalidRequest
from jwtkeep.ports import App
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.introspection import introspect, may_learn_of
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.registration import AppSpec, create_app
from tests.usecases.conftest import ISSUER, PASSWORD, World

INFO = RequestInfo()
INACTIVE: dict[str, Any] = {"active": False}


async def _web_api(world: World) -> App:
    """The API behind the public `web` app (audience api.web): its own audience, and the
    grant for web's."""
    spec = AppSpec("web-api", "api.jobs", confidential=True, introspect_audiences=("api.web",))
    return (await create_app(world.ctx, spec)).app


async def test_a_granted_api_sees_the_tokens_of_its_public_client(world: World) -> None:
    api = await _web_api(world)
    token = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read", INFO)
    answer = await introspect(world.ctx, world.verifier, api, token.access_token)
    assert (answer["active"], answer["client_id"], answer["aud"], answer["sub"]) == (
        True, world.app.client_id, "api.web", world.user.id,
    )  # fmt: skip


async def test_a_confidential_app_without_the_grant_learns_nothing(world: World) -> None:
    await _web_api(world)
    token = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read", INFO)
    assert world.service.introspect_audiences == ()
    assert await introspect(world.ctx, world.verifier, world.service, token.access_token) == (
        INACTIVE
    )


async def test_a_grant_covers_only_the_granted_audience(world: World) -> None:
    api = await _web_api(world)
    mobile = await password_grant(world.ctx, world.other_app, "alice", PASSWORD, "read", INFO)
    assert await introspect(world.ctx, world.verifier, api, mobile.access_token) == INACTIVE


async def test_a_grant_never_reaches_refresh_tokens(world: World) -> None:
    # A refresh token is its client's alone (RFC 6749 §10.4); no API needs to inspect it.
    api = await _web_api(world)
    token = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read", INFO)
    assert token.refresh_token is not None
    assert await introspect(world.ctx, world.verifier, api, token.refresh_token) == INACTIVE


async def test_an_account_scoped_token_of_the_granted_audience_is_seen(world: World) -> None:
    # [api.web, issuer]: the API may introspect its own users' tokens, account-scoped or not.
    api = await _web_api(world)
    token = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read account", INFO)
    answer = await introspect(world.ctx, world.verifier, api, token.access_token)
    assert (answer["active"], answer["aud"]) == (True, ["api.web", ISSUER])


async def test_a_token_only_for_the_account_api_is_its_own_clients_alone(world: World) -> None:
    # Rows written directly, as from before registration refused the issuer URL: an app
    # whose audience is the issuer (its tokens' only audience) and one granted the issuer.
    legacy = replace(world.service, id=str(uuid.uuid4()), name="legacy", client_id="legacy",
                     audience=ISSUER, scopes=("read",))  # fmt: skip
    snoop = replace(world.service, id=str(uuid.uuid4()), name="snoop", client_id="snoop",
                    audience="api.snoop", introspect_audiences=(ISSUER, ISSUER + "/"))  # fmt: skip
    for app in (legacy, snoop):
        await world.ctx.apps.add_app(app)
    token = await password_grant(world.ctx, legacy, "alice", PASSWORD, "read", INFO)
    assert (await world.verifier.verify(token.access_token)).aud == ISSUER
    for other in (snoop, world.service, await _web_api(world)):
        assert await introspect(world.ctx, world.verifier, other, token.access_token) == INACTIVE
    own = await introspect(world.ctx, world.verifier, legacy, token.access_token)
    assert (own["active"], own["client_id"]) == (True, "legacy")


async def test_the_grant_is_stored_once_per_audience(world: World) -> None:
    spec = AppSpec("web-api", "api.jobs", confidential=True,
                   introspect_audiences=("api.web", "api.mobile", "api.web"))  # fmt: skip
    created = (await create_app(world.ctx, spec)).app
    stored = await world.ctx.apps.app_by_client_id(created.client_id)
    assert stored is not None
    assert stored.introspect_audiences == ("api.web", "api.mobile")


async def test_a_public_app_cannot_be_granted_introspection(world: World) -> None:
    spec = AppSpec("spa-2", "api.spa2", introspect_audiences=("api.web",))
    with pytest.raises(InvalidRequest, match=r"only a confidential app may introspect"):
        await create_app(world.ctx, spec)


@pytest.mark.parametrize("audience", [ISSUER, ISSUER + "/"])
async def test_the_issuer_url_is_never_granted(world: World, audience: str) -> None:
    spec = AppSpec("snoop", "api.snoop", confidential=True, introspect_audiences=(audience,))
    with pytest.raises(InvalidRequest, match=r"account API, whose tokens no app may introspect"):
        await create_app(world.ctx, spec)


async def test_a_grant_names_an_audience_some_app_has(world: World) -> None:
    spec = AppSpec("web-api", "api.jobs", confidential=True,
                   introspect_audiences=("api.web", "api.nobody"))  # fmt: skip
    with pytest.raises(InvalidRequest, match=r"no app has the audience 'api\.nobody'"):
        await create_app(world.ctx, spec)
    assert {a.name for a in await world.ctx.apps.list_apps()} == {"web", "mobile", "svc"}


async def test_the_event_stream_follows_the_same_rule(world: World) -> None:
    """`may_learn_of`: a token/session/user event reaches a subscriber only if it may
    introspect a token the event ended; `kid`, `all` and events naming no app reach all."""
    api = await _web_api(world)
    web, mobile = world.app.client_id, world.other_app.client_id
    session = RevocationEvent.session("sid", world.user.id, [web])
    assert await may_learn_of(world.ctx, world.app, session)  # its own
    assert await may_learn_of(world.ctx, api, session)  # granted web's audience
    assert not await may_learn_of(world.ctx, world.service, session)
    assert not await may_learn_of(world.ctx, api, RevocationEvent.user("u", [mobile]))
    assert await may_learn_of(world.ctx, api, RevocationEvent.user("u", [mobile, web]))
    for everyone in (RevocationEvent.signed_by("kid"), EVERYTHING,
                     RevocationEvent.token(b"\x01" * 32),  # its app not known
                     RevocationEvent.token(b"\x01" * 32, "deleted-app")):  # fmt: skip
        assert await may_learn_of(world.ctx, world.service, everyone), everyone
