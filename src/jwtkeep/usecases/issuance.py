"""Build and sign an access token, and the allowlist record that must be stored first.

RFC 9068 §2.2 claims, with a 128-bit `jti` (RFC 7519 §4.1.7) and a UUID `sub` (the
article: no personal data). The caller stores `record` before returning `token`
(DESIGN.md: the fingerprint is written before the token leaves the server).

The account API (`/userinfo`, `/auth/*`) is a resource of its own whose audience is the
issuer URL: a token carries it, as `aud: [app audience, issuer]` (RFC 7519 §4.1.3), only
when its granted scope holds `account` or `openid`. The grants decide whether an app may
have those scopes (`jwtkeep.usecases.scope_grants.grant_scope`); a refresh that narrows them
away yields a token without the issuer audience.
"""

from __future__ import annotations

from dataclasses import dataclass

from jwtkeep.core.access_token import issue_access_token
from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.clock import RandomBytes, new_id
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.id_token import IdClaims, at_hash, issue_id_token
from jwtkeep.core.keyring import KeyRing
from jwtkeep.core.scopes import ACCOUNT_SCOPES
from jwtkeep.ports import AccessRecord, App

__all__ = ["ID_TOKEN_TTL", "IssuedAccess", "TokenIssuer"]

ID_TOKEN_TTL = 300  # an ID token is read once by the client, at sign-in (OIDC Core §2)


@dataclass(frozen=True)
class IssuedAccess:
    token: str
    claims: AccessClaims
    record: AccessRecord

    @property
    def expires_in(self) -> int:
        return self.claims.exp - self.claims.iat


@dataclass(frozen=True)
class TokenIssuer:
    issuer: str
    default_ttl: int
    max_ttl: int

    def issue(
        self, ring: KeyRing, *, sub: str, app: App, scope: str, sid: str, now: float,
        random: RandomBytes,
    ) -> IssuedAccess:  # fmt: skip
        iat = int(now)
        ttl = min(app.access_token_ttl or self.default_ttl, self.max_ttl)
        claims = AccessClaims(
            iss=self.issuer, sub=sub, aud=self.audience_for(app, scope), exp=iat + ttl,
            nbf=iat, iat=iat,
            jti=new_id(random, 16), client_id=app.client_id, scope=scope, sid=sid,
            extra=dict(app.extra_claims),
        )  # fmt: skip
        signer = ring.signer(now)
        token = issue_access_token(claims, signer)
        record = AccessRecord(
            fingerprint=fingerprint(token), sub=sub, sid=sid, jti=claims.jti,
            client_id=app.client_id, exp=claims.exp, kid=signer.kid,
        )  # fmt: skip
        return IssuedAccess(token=token, claims=claims, record=record)

    def id_token(
        self, ring: KeyRing, access: IssuedAccess, *, auth_time: float, nonce: str | None,
    ) -> str:  # fmt: skip
        """OIDC Core §2 ID token for the access token just issued: same key ring, typ
        `JWT`, `aud` the client id, `at_hash` of that access token (§3.1.3.6). Signed by
        the key that signed the access token. (Not `signer(iat)`: `iat` is whole seconds,
        so in the first second of a new key that picked no key at all, a 503.)"""
        signer = ring.signer_by_kid(access.record.kid)
        claims = access.claims
        iat = claims.iat
        id_claims = IdClaims(
            iss=self.issuer, sub=claims.sub, aud=claims.client_id, exp=iat + ID_TOKEN_TTL,
            iat=iat, auth_time=int(auth_time), sid=claims.sid,
            at_hash=at_hash(access.token, signer.alg), nonce=nonce,
        )  # fmt: skip
        return issue_id_token(id_claims, signer)

    def audience_for(self, app: App, scope: str) -> str | tuple[str, ...]:
        """The app's audience, plus the issuer (the account API) for an account scope."""
        if ACCOUNT_SCOPES.isdisjoint(scope.split()):
            return app.audience
        return (app.audience, self.issuer)
