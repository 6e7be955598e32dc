"""Repositories for users, apps, signing keys and the audit trail (SQL in practice)."""

from __future__ import annotations

from typing import Protocol

from jwtkeep.ports.records import App, AuditEvent, StoredKey, User

__all__ = ["AppRepository", "AuditLog", "KeyRepository", "UserRepository"]


class UserRepository(Protocol):
    async def add_user(self, user: User) -> None:
        """Raise jwtkeep.errors.Conflict if the username is taken."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def user_by_username(self, username: str) -> User | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None: ...


class AppRepository(Protocol):
    async def add_app(self, app: App) -> None:
        """Raise jwtkeep.errors.Conflict if the name or client_id is taken."""

    async def app_by_client_id(self, client_id: str) -> App | None: ...

    async def list_apps(self) -> list[App]: ...


class KeyRepository(Protocol):
    async def add_key(self, key: StoredKey) -> None: ...

    async def list_keys(self) -> list[StoredKey]:
        """Every key, oldest first."""

    async def set_key_status(self, kid: str, status: str) -> None:
        """Raise jwtkeep.errors.NotFound for an unknown kid."""


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
