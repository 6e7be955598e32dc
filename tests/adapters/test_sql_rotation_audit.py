"""The SQL token store records a rotation's audit event in the rotation's own transaction
(`TokenStore.rotate_refresh(audit=...)`, `keeps_audit`): both commit, or neither does."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports import AuditEvent, RefreshState, RotationAudit, RotationOutcome
from tests.contract.builders import IDLE_TIMEOUT, NOW, Login, access_for, log_in, new_fp


class Boom(Exception):
    pass


def event_for(outcome: RotationOutcome) -> AuditEvent | None:
    if outcome is RotationOutcome.UNKNOWN:
        return None
    return AuditEvent(at=NOW, event=f"refresh.{outcome}", user_id="u", sid="s")


async def rotate(
    database: Database, login: Login, presented: Fingerprint, audit: RotationAudit = event_for
) -> RotationOutcome:
    return await database.tokens.rotate_refresh(
        login.user_id, login.sid, presented, new_fp(), access_for(login.user_id, login.sid),
        NOW + 1, IDLE_TIMEOUT, audit=audit,
    )  # fmt: skip


async def events(database: Database) -> list[str]:
    return [event.event for event in await database.audit.query()]


async def test_the_store_keeps_its_own_databases_audit_trail_only(
    database: Database, tmp_path: Path
) -> None:
    assert database.tokens.keeps_audit(database.audit)
    other = Database.connect(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert not database.tokens.keeps_audit(other.audit)
        assert not other.tokens.keeps_audit(database.audit)
    finally:
        await other.close()


async def test_each_outcome_records_its_event_with_the_rotation(database: Database) -> None:
    login = await log_in(database.tokens)
    assert login.refresh_fp is not None
    assert await rotate(database, login, login.refresh_fp) is RotationOutcome.ROTATED
    assert await events(database) == ["refresh.rotated"]

    assert await rotate(database, login, new_fp()) is RotationOutcome.UNKNOWN
    assert await events(database) == ["refresh.rotated"]  # nothing for UNKNOWN

    assert await rotate(database, login, login.refresh_fp) is RotationOutcome.REUSED
    assert await events(database) == ["refresh.reused", "refresh.rotated"]  # newest first
    assert await database.tokens.get_session(login.sid, NOW + 2) is None


async def test_a_failed_audit_insert_rolls_the_rotation_back(database: Database) -> None:
    login = await log_in(database.tokens)
    assert login.refresh_fp is not None

    def failing(outcome: RotationOutcome) -> AuditEvent | None:
        raise Boom

    with pytest.raises(Boom):
        await rotate(database, login, login.refresh_fp, failing)
    state = await database.tokens.refresh_state(login.user_id, login.sid, login.refresh_fp, NOW + 1)
    assert state is RefreshState.CURRENT  # not used up: the transaction rolled back
    assert await events(database) == []
