"""Browser sign-in records in SQL (implements `jwtkeep.ports.browser`).

- Authorization codes are single use in one statement: `UPDATE ... SET sid = :sid WHERE
  fingerprint = :fp AND sid IS NULL AND expires_at > :now` (RFC 6749 §4.1.2). Two
  concurrent redemptions cannot both match: on PostgreSQL the second UPDATE waits for the
  first row lock and re-checks `sid IS NULL` (READ COMMITTED); on SQLite writes are
  serialized (`BEGIN IMMEDIATE`). A redeemed code is kept for `CODE_KEPT_SECONDS` after
  its expiry, so a replay is recognised and revokes what the code gave.
- Login sessions are found by the fingerprint of the cookie value, never the value.
- Expired rows are purged by the writes (no cron job, DESIGN.md token store contract).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.schema import (
    AuthorizationCodeRow,
    ConsentRow,
    LoginSessionRow,
    LoginSessionSidRow,
)
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.errors import Conflict
from jwtkeep.ports.records import AuthorizationCode, CodeRedemption, LoginSession

__all__ = ["CODE_KEPT_SECONDS", "SqlAuthorizationCodes", "SqlConsents", "SqlLoginSessions"]

CODE_KEPT_SECONDS = 3600.0


class SqlAuthorizationCodes:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_code(self, code: AuthorizationCode, now: float) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                delete(AuthorizationCodeRow).where(
                    AuthorizationCodeRow.expires_at < now - CODE_KEPT_SECONDS
                )
            )
            conn.execute(
                insert(AuthorizationCodeRow).values(
                    fingerprint=bytes(code.fingerprint),
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    code_challenge=code.code_challenge,
                    nonce=code.nonce,
                    login_id=code.login_id,
                    auth_time=code.auth_time,
                    expires_at=code.expires_at,
                )
            )

        await self._engine.write(work)

    async def redeem_code(self, fp: Fingerprint, sid: str, now: float) -> CodeRedemption:
        """Claim the code and, if it was claimed before, mark the replay: one transaction."""
        return await self._engine.write(lambda conn: _redeem(conn, fp, sid, now))

    async def was_replayed(self, fp: Fingerprint) -> bool:
        query = select(AuthorizationCodeRow.replayed).where(
            AuthorizationCodeRow.fingerprint == bytes(fp)
        )
        return bool(await self._engine.read(lambda conn: conn.execute(query).scalar()))


def _redeem(conn: Connection, fp: Fingerprint, sid: str, now: float) -> CodeRedemption:
    row_of = AuthorizationCodeRow.fingerprint == bytes(fp)
    claimed = conn.execute(
        update(AuthorizationCodeRow)
        .where(
            row_of,
            AuthorizationCodeRow.sid.is_(None),
            AuthorizationCodeRow.expires_at > now,
        )
        .values(sid=sid)
    )
    if claimed.rowcount == 1:
        row = conn.execute(select(AuthorizationCodeRow.__table__).where(row_of)).one()
        return CodeRedemption(code=_code(row))
    replay = conn.execute(
        update(AuthorizationCodeRow)
        .where(row_of, AuthorizationCodeRow.sid.is_not(None))
        .values(replayed=True)
        .returning(AuthorizationCodeRow.__table__)
    )
    replayed = replay.first()
    if replayed is None:
        return CodeRedemption(code=None)
    return CodeRedemption(code=_code(replayed), replayed=True, sid=replayed.sid)


def _code(row: Row[Any]) -> AuthorizationCode:
    return AuthorizationCode(
        fingerprint=Fingerprint(bytes(row.fingerprint)),
        client_id=row.client_id,
        user_id=row.user_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        code_challenge=row.code_challenge,
        nonce=row.nonce,
        login_id=row.login_id,
        auth_time=row.auth_time,
        expires_at=row.expires_at,
    )


class SqlLoginSessions:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_login(self, login: LoginSession, now: float) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(LoginSessionRow).where(LoginSessionRow.expires_at <= now))
            conn.execute(
                insert(LoginSessionRow).values(
                    id=login.id,
                    fingerprint=bytes(login.fingerprint),
                    user_id=login.user_id,
                    auth_time=login.auth_time,
                    expires_at=login.expires_at,
                )
            )

        await self._engine.write(work)

    async def login_by_fingerprint(self, fp: Fingerprint, now: float) -> LoginSession | None:
        query = select(LoginSessionRow.__table__).where(
            LoginSessionRow.fingerprint == bytes(fp), LoginSessionRow.expires_at > now
        )
        row = await self._engine.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return LoginSession(
            id=row.id,
            fingerprint=Fingerprint(bytes(row.fingerprint)),
            user_id=row.user_id,
            auth_time=row.auth_time,
            expires_at=row.expires_at,
        )

    async def link_session(self, login_id: str, user_id: str, sid: str) -> bool:
        def work(conn: Connection) -> bool:
            exists = conn.execute(select(LoginSessionRow.id).where(LoginSessionRow.id == login_id))
            if exists.first() is None:
                return False
            conn.execute(
                insert(LoginSessionSidRow).values(login_id=login_id, sid=sid, user_id=user_id)
            )
            return True

        return await self._engine.write(work)

    async def end_login(self, login_id: str) -> list[tuple[str, str]]:
        def work(conn: Connection) -> list[tuple[str, str]]:
            linked = conn.execute(
                select(LoginSessionSidRow.user_id, LoginSessionSidRow.sid).where(
                    LoginSessionSidRow.login_id == login_id
                )
            )
            pairs = [(row.user_id, row.sid) for row in linked]
            conn.execute(delete(LoginSessionSidRow).where(LoginSessionSidRow.login_id == login_id))
            conn.execute(delete(LoginSessionRow).where(LoginSessionRow.id == login_id))
            return pairs

        return await self._engine.write(work)

    async def end_user_logins(self, user_id: str) -> int:
        query = delete(LoginSessionRow).where(LoginSessionRow.user_id == user_id)
        return await self._engine.write(lambda conn: int(conn.execute(query).rowcount or 0))

    async def end_all_logins(self) -> int:
        query = delete(LoginSessionRow)  # the sid links cascade
        return await self._engine.write(
            lambda conn: int(conn.execute(query).rowcount or 0), bulk=True
        )


class SqlConsents:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def has_consent(self, user_id: str, client_id: str, scope: str) -> bool:
        query = select(ConsentRow.granted_at).where(
            ConsentRow.user_id == user_id,
            ConsentRow.client_id == client_id,
            ConsentRow.scope == scope,
        )
        return await self._engine.read(lambda conn: conn.execute(query).first() is not None)

    async def add_consent(self, user_id: str, client_id: str, scope: str, now: float) -> None:
        if await self.has_consent(user_id, client_id, scope):
            return
        # A racing second consent for the same set finds the row there: nothing to do.
        query = insert(ConsentRow).values(
            user_id=user_id, client_id=client_id, scope=scope, granted_at=now
        )
        with suppress(Conflict), conflict_on_duplicate("consent recorded twice"):
            await self._engine.write(lambda conn: conn.execute(query))
