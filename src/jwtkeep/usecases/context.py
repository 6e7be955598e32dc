"""What the use cases need, gathered once by the composition root (`jwtkeep.runtime`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from jwtkeep.core.clock import Clock, RandomBytes, system_clock, system_random
from jwtkeep.core.passwords import PasswordHasher
from jwtkeep.ports import (
    AppRepository,
    AuditEvent,
    AuditLog,
    AuthorizationCodeStore,
    ConsentStore,
    LoginSessionStore,
    TokenStore,
    UserRepository,
)
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import KeyManager

__all__ = [
    "LOGIN_SESSION_TTL",
    "AuditRetention",
    "AuthContext",
    "Operator",
    "RequestInfo",
    "SessionPolicy",
    "SignInContext",
]

LOGIN_SESSION_TTL = 8 * 3600


@dataclass(frozen=True)
class SessionPolicy:
    """RFC 9700 §4.14.2: refresh tokens expire after inactivity and absolutely."""

    idle_timeout: int = 7 * 86400
    absolute_lifetime: int = 30 * 86400
    # Seconds within which the current refresh token's parent is refused but not taken
    # for theft (a browser's tabs racing; docs/sessions.md). 0: every replay is reuse.
    reuse_interval: int = 0


@dataclass(frozen=True)
class RequestInfo:
    """Where a request came from, for sessions and the audit trail (never in a token)."""

    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class AuditRetention:
    """How long the audit trail keeps events, and their client IPs (GDPR Art. 5(1)(e),
    storage limitation). Pruned by the process that writes, at most once per
    `prune_every` seconds: no cron job (`JWTKEEP_AUDIT_RETENTION_DAYS`,
    `JWTKEEP_AUDIT_IP_RETENTION_DAYS`)."""

    days: int = 90
    ip_days: int = 30
    prune_every: float = 600.0


@dataclass(frozen=True)
class Operator:
    """Who acts from the command line, and why: the audit trail's actor and reason."""

    actor: str = "operator"  # the CLI gives "cli:<os user>"
    reason: str | None = None


@dataclass
class AuthContext:
    users: UserRepository
    apps: AppRepository
    store: TokenStore
    audit: AuditLog
    keys: KeyManager
    issuer: TokenIssuer
    hasher: PasswordHasher
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    clock: Clock = system_clock
    random: RandomBytes = system_random
    retention: AuditRetention = field(default_factory=AuditRetention)
    _next_prune: float = field(default=0.0, repr=False)

    async def record(
        self,
        event: str,
        info: RequestInfo | None = None,
        *,
        op: Operator | None = None,
        **fields: object,
    ) -> None:
        """Append to the audit trail (ids and reasons only, never token material); `op`
        names the operator who acted and why."""
        entry = self.audit_event(event, info, op=op, **fields)
        await self.audit.record(entry)
        await self.recorded(entry.at)

    def audit_event(
        self,
        event: str,
        info: RequestInfo | None = None,
        *,
        op: Operator | None = None,
        **fields: object,
    ) -> AuditEvent:
        """The event `record` appends, for a store to record in its own transaction
        (`TokenStore.rotate_refresh`); then call `recorded`."""
        if op is not None:  # the operator's reason has a column; any other stays in detail
            fields = {"actor": op.actor, **fields}
        reason = op.reason if op is not None else None
        detail = {k: v for k, v in fields.items() if k not in _ID_FIELDS}
        ids = {k: v for k, v in fields.items() if k in _ID_FIELDS}
        return AuditEvent(
            at=self.clock(),
            event=event,
            ip=info.ip if info and info.ip else None,
            detail=detail,
            reason=reason,
            **ids,  # type: ignore[arg-type]
        )

    async def recorded(self, now: float) -> None:
        """After an event was appended (at `now`): apply the retention, when due."""
        if now >= self._next_prune:
            await self.prune_audit(now)

    async def prune_audit(self, now: float) -> int:
        """Apply the retention now; the number of events deleted."""
        self._next_prune = now + self.retention.prune_every
        return await self.audit.prune(
            now - self.retention.days * 86400, now - self.retention.ip_days * 86400
        )

    async def hash_password(self, password: str) -> str:
        # argon2id is deliberately slow; keep it off the event loop.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def check_password(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.hasher.verify, password_hash, password)


_ID_FIELDS = frozenset({"user_id", "client_id", "sid", "jti", "actor", "target"})


@dataclass
class SignInContext:
    """The browser sign-in's stores, beside the `AuthContext` every grant uses."""

    auth: AuthContext
    codes: AuthorizationCodeStore
    logins: LoginSessionStore
    consents: ConsentStore
    login_ttl: int = LOGIN_SESSION_TTL  # the login session's bounded age, seconds
