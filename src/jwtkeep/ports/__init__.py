"""Ports: the narrow async protocols the use cases need from the world.

Adapters (`jwtkeep.adapters.sql`, `jwtkeep.adapters.redis`) implement them; the same
contract test suite (`tests/contract/`) runs against every adapter.
"""

from jwtkeep.ports.browser import AuthorizationCodeStore, ConsentStore, LoginSessionStore
from jwtkeep.ports.records import (
    DEFAULT_GRANTS,
    GRANT_TYPE_NAMES,
    AccessRecord,
    App,
    AuditEvent,
    AuthorizationCode,
    CodeRedemption,
    KeyChange,
    LoginSession,
    RefreshState,
    RotationOutcome,
    Session,
    StoredKey,
    User,
)
from jwtkeep.ports.repositories import AppRepository, AuditLog, KeyRepository, UserRepository
from jwtkeep.ports.revocation_feed import RevocationFeed
from jwtkeep.ports.token_store import (
    AccessTokenStore,
    Progress,
    RotationAudit,
    SessionStore,
    TokenStore,
)
from jwtkeep.ports.verification import AllowlistCheck, KeyRingSource

__all__ = [
    "DEFAULT_GRANTS",
    "GRANT_TYPE_NAMES",
    "AccessRecord",
    "AccessTokenStore",
    "AllowlistCheck",
    "App",
    "AppRepository",
    "AuditEvent",
    "AuditLog",
    "AuthorizationCode",
    "AuthorizationCodeStore",
    "CodeRedemption",
    "ConsentStore",
    "KeyChange",
    "KeyRepository",
    "KeyRingSource",
    "LoginSession",
    "LoginSessionStore",
    "Progress",
    "RefreshState",
    "RevocationFeed",
    "RotationAudit",
    "RotationOutcome",
    "Session",
    "SessionStore",
    "StoredKey",
    "TokenStore",
    "User",
    "UserRepository",
]
