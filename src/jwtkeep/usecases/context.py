"""What the use cases need, gathered once by the composition root (`jwtkeep.runtime`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from jwtkeep.core.clock import Clock, RandomBytes, system_clock, system_random
from jwtkeep.core.passwords import PasswordHasher
from jwtkeep.ports import AppRepository, AuditEvent, AuditLog, TokenStore, UserRepository
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.keys import KeyManager

__all__ = ["AuthContext", "RequestInfo", "SessionPolicy"]


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

    async def record(self, event: str, info: RequestInfo | None = None, **fields: object) -> None:
        """Append to the audit trail (ids and reasons only, never token material)."""
        detail = {k: v for k, v in fields.items() if k not in _ID_FIELDS}
        ids = {k: v for k, v in fields.items() if k in _ID_FIELDS}
        await self.audit.record(
            AuditEvent(
                at=self.clock(),
                event=event,
                ip=info.ip if info and info.ip else None,
                detail=detail,
                **ids,  # type: ignore[arg-type]
            )
        )

    async def hash_password(self, password: str) -> str:
        # argon2id is deliberately slow; keep it off the event loop.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def check_password(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.hasher.verify, password_hash, password)


_ID_FIELDS = frozenset({"user_id", "client_id", "sid", "jti"})
