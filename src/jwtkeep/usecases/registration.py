"""Registering apps (clients) and users.

Apps: an audience per app keeps one auth server's apps apart (the article; RFC 8725
§3.9), so an audience belongs to one app only (introspection answers a client about the
tokens of its own audience, RFC 7662 §4), and never the issuer URL, which is the account
API's audience. A confidential app may be granted introspection of other apps' audiences
(the API behind a public client, RFC 7662 §4); a public app cannot (§2.1: the endpoint
needs client authentication), the issuer URL is never granted, and a grant names an
audience some app has. Account access (the `account`/`openid` scopes) is off unless the
caller (the operator's CLI) turns it on. Extra claims are checked against registered and
public claim names. The client secret is shown once and stored only as a digest.
Redirect URIs are checked when registered (`jwtkeep.core.redirect_uri`: https, http on
loopback, or a private-use scheme; RFC 8252 §7, RFC 9700 §4.1.3). Grants are RFC 6749
grant_type values; new apps get the authorization code and refresh grants, and the
password grant only when asked for (RFC 9700 §2.4); client credentials need a
confidential app (RFC 6749 §4.4). Until an app has a redirect URI, no authorization
request for it is valid (`jwtkeep app update NAME --redirect-uri URI` adds one).
Users: the id is a random UUID (the token's `sub`, never the username or e-mail).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jwtkeep.core.claims import ClaimError, check_extra_claim_names
from jwtkeep.core.clock import new_id
from jwtkeep.core.passwords import check_password_acceptable
from jwtkeep.core.redirect_uri import check_redirect_uri
from jwtkeep.core.scopes import ACCOUNT_SCOPES, check_scope_tokens, parse_route_rule
from jwtkeep.errors import Conflict, InvalidRequest
from jwtkeep.ports import DEFAULT_GRANTS, GRANT_TYPE_NAMES, App, User
from jwtkeep.usecases.clients import hash_client_secret, new_client_secret
from jwtkeep.usecases.context import AuthContext, Operator

__all__ = [
    "MAX_REDIRECT_URIS",
    "AppSpec",
    "CreatedApp",
    "create_app",
    "create_user",
    "effective_grants",
    "validate_app",
]

MAX_REDIRECT_URIS = 32

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+")


@dataclass(frozen=True)
class AppSpec:
    name: str
    audience: str
    scopes: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    confidential: bool = False
    access_token_ttl: int | None = None
    refresh_enabled: bool = True
    extra_claims: Mapping[str, Any] = field(default_factory=dict)
    account_access: bool = False
    introspect_audiences: tuple[str, ...] = ()  # other apps' audiences it may introspect
    redirect_uris: tuple[str, ...] = ()
    grants: tuple[str, ...] = DEFAULT_GRANTS
    first_party: bool = False


@dataclass(frozen=True)
class CreatedApp:
    app: App
    client_secret: str | None  # shown once, never stored


def _check_name(kind: str, name: str) -> None:
    if not 1 <= len(name) <= 128 or not set(name) <= _NAME_CHARS:
        raise InvalidRequest(f"{kind} must be 1-128 characters of letters, digits and -_.@+")


def _check_redirects_and_grants(
    redirect_uris: tuple[str, ...], grants: tuple[str, ...], confidential: bool
) -> None:
    unknown = sorted(set(grants) - set(GRANT_TYPE_NAMES))
    if unknown:
        raise InvalidRequest(f"unknown grant {unknown[0]!r}; one of {', '.join(GRANT_TYPE_NAMES)}")
    if "client_credentials" in grants and not confidential:
        raise InvalidRequest("the client_credentials grant needs a --confidential app")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidRequest(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    try:
        for uri in redirect_uris:
            check_redirect_uri(uri)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def validate_app(spec: AppSpec, max_ttl: int) -> None:
    """Refuse (InvalidRequest) an app description that may not be registered."""
    _check_name("app name", spec.name)
    if not spec.audience or len(spec.audience) > 256 or any(c.isspace() for c in spec.audience):
        raise InvalidRequest("audience must be 1-256 characters without spaces")
    if not ACCOUNT_SCOPES.isdisjoint(spec.scopes):
        raise InvalidRequest(
            "account and openid are jwtkeep's own scopes (its account API): an app gets "
            "them through account access, which --no-account-access turns off"
        )
    try:
        check_scope_tokens(spec.scopes)
        for rule in spec.routes:
            parse_route_rule(rule)
        check_extra_claim_names(list(spec.extra_claims))
    except (ValueError, ClaimError) as exc:
        raise InvalidRequest(str(exc)) from None
    if spec.access_token_ttl is not None and not 30 <= spec.access_token_ttl <= max_ttl:
        raise InvalidRequest(f"access token lifetime must be between 30 and {max_ttl} seconds")
    _check_redirects_and_grants(spec.redirect_uris, spec.grants, spec.confidential)
    if spec.introspect_audiences and not spec.confidential:
        # RFC 7662 §2.1: the introspection endpoint requires client authentication.
        raise InvalidRequest(
            "only a confidential app may introspect (RFC 7662 §2.1): add --confidential "
            "to grant --introspect-audience"
        )


def _is_issuer(ctx: AuthContext, audience: str) -> bool:
    return audience.rstrip("/") == ctx.issuer.issuer.rstrip("/")


async def _check_audience_free(ctx: AuthContext, audience: str) -> None:
    if _is_issuer(ctx, audience):
        raise InvalidRequest(
            "the issuer URL is the audience of jwtkeep's own account API; "
            "give the app its own audience (its API's URL)"
        )
    owner = next((a for a in await ctx.apps.list_apps() if a.audience == audience), None)
    if owner is not None:
        # The unique index on apps.audience backs this up against a concurrent create.
        raise Conflict(f"audience {audience!r} already belongs to app {owner.name!r}")


async def _check_introspect_audiences(ctx: AuthContext, granted: tuple[str, ...]) -> None:
    """Each granted audience is an existing app's, never the issuer's: the account API's
    tokens are never introspectable by apps (RFC 7662 §4, usecases/introspection)."""
    if any(_is_issuer(ctx, audience) for audience in granted):
        raise InvalidRequest(
            "the issuer URL is the audience of jwtkeep's own account API, whose tokens "
            "no app may introspect; --introspect-audience names another app's audience"
        )
    known = {app.audience for app in await ctx.apps.list_apps()} if granted else set()
    unknown = [audience for audience in granted if audience not in known]
    if unknown:
        raise InvalidRequest(
            f"no app has the audience {unknown[0]!r}: --introspect-audience names the "
            "audience of an app that exists"
        )


async def create_app(ctx: AuthContext, spec: AppSpec, op: Operator | None = None) -> CreatedApp:
    """Register the app; `op` is who did it (`jwtkeep app create`), for the audit trail."""
    validate_app(spec, ctx.issuer.max_ttl)
    await _check_audience_free(ctx, spec.audience)
    await _check_introspect_audiences(ctx, spec.introspect_audiences)
    secret = new_client_secret(ctx.random) if spec.confidential else None
    app = App(
        id=str(uuid.UUID(bytes=ctx.random(16), version=4)), name=spec.name,
        client_id=new_id(ctx.random, 16), audience=spec.audience,
        scopes=tuple(dict.fromkeys(spec.scopes)), routes=tuple(spec.routes),
        confidential=spec.confidential,
        client_secret_hash=hash_client_secret(secret) if secret else None,
        access_token_ttl=spec.access_token_ttl or ctx.issuer.default_ttl,
        refresh_enabled=spec.refresh_enabled and "refresh_token" in spec.grants,
        created_at=ctx.clock(),
        extra_claims=dict(spec.extra_claims), account_access=spec.account_access,
        introspect_audiences=tuple(dict.fromkeys(spec.introspect_audiences)),
        redirect_uris=tuple(dict.fromkeys(spec.redirect_uris)), first_party=spec.first_party,
        grants=effective_grants(spec.grants, spec.refresh_enabled),
    )  # fmt: skip
    await ctx.apps.add_app(app)
    await ctx.record("app.created", client_id=app.client_id, target=f"app:{app.client_id}",
                     name=app.name, op=op)  # fmt: skip
    return CreatedApp(app=app, client_secret=secret)


def effective_grants(grants: tuple[str, ...], refresh_enabled: bool) -> tuple[str, ...]:
    """The grants to store: in a fixed order, without refresh when the app's refresh
    tokens are off (so `App.refresh_enabled` and the refresh grant agree)."""
    kept = set(grants) - (set() if refresh_enabled else {"refresh_token"})
    return tuple(name for name in GRANT_TYPE_NAMES if name in kept)


async def create_user(
    ctx: AuthContext, username: str, password: str, op: Operator | None = None
) -> User:
    """A new user: self-registration (`POST /users`) or the operator (`jwtkeep user
    create`, `op`): one use case and one audit event, `user.created`."""
    _check_name("username", username)
    try:
        check_password_acceptable(password, username=username)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    now = ctx.clock()
    user = User(
        id=str(uuid.UUID(bytes=ctx.random(16), version=4)), username=username,
        password_hash=await ctx.hash_password(password), created_at=now,
        password_changed_at=now,
    )  # fmt: skip
    await ctx.users.add_user(user)
    await ctx.record("user.created", user_id=user.id, target=f"user:{user.id}", op=op)
    return user
