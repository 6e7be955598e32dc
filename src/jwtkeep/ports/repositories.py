"""Repositories for users, apps, signing keys and the audit trail (SQL in practice)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from jwtkeep.ports.records import App, AuditEvent, KeyChange, StoredKey, User

__all__ = ["AppRepository", "AuditLog", "KeyPlan", "KeyRepository", "UserRepository"]

KeyPlan = Callable[[Sequence[StoredKey]], KeyChange]
"""Decides one key-lifecycle step from every key as it is now; pure (no I/O). It may
raise a JwtkeepError to refuse the step."""


class UserRepository(Protocol):
    async def add_user(self, user: User) -> None:
        """Raise jwtkeep.errors.Conflict if the username is taken."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def user_by_username(self, username: str) -> User | None: ...

    async def set_password_hash(
        self, user_id: str, password_hash: str, changed_at: float, *, expected_hash: str
    ) -> bool:
        """Compare-and-set: only if the user's hash is still `expected_hash` (the one the
        caller verified), store `password_hash` with `password_changed_at = changed_at`,
        atomically; True if it applied, False if the hash changed meanwhile (never
        overwrite a newer password). Raise jwtkeep.errors.NotFound for an unknown user."""


class AppRepository(Protocol):
    async def add_app(self, app: App) -> None:
        """Raise jwtkeep.errors.Conflict if the name or client_id is taken."""

    async def app_by_client_id(self, client_id: str) -> App | None: ...

    async def update_app(self, app: App) -> None:
        """Store the app's redirect URIs, grants and first-party flag (by client_id);
        raise jwtkeep.errors.NotFound for an unknown app."""

    async def list_apps(self) -> list[App]: ...


class KeyRepository(Protocol):
    async def list_keys(self) -> list[StoredKey]:
        """Every key, oldest first."""

    async def change_keys(self, plan: KeyPlan) -> KeyChange:
        """One atomic step of the key lifecycle: with every key locked against every other
        step, read them all, call `plan`, write the change it returns (adding a kid that
        exists raises jwtkeep.errors.Conflict) and return it. If `plan` raises, nothing
        changes. Concurrent steps run one after the other, each seeing the one before."""


class AuditLog(Protocol):
    async def record(self, event: AuditEvent) -> None: ...

    async def query(
        self,
        *,
        user_id: str | None = None,
        jti: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Newest first."""
