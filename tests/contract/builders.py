"""Builders shared by the store contract suite (fixed times, fresh ids, logins)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from jwtkeep.core.fingerprint import Fingerprint, fingerprint
from jwtkeep.ports import AccessRecord, Session, TokenStore

NOW = 1_800_000_000.0
ACCESS_TTL = 300
IDLE_TIMEOUT = 3_600
ABSOLUTE_LIFETIME = 86_400


def new_user() -> str:
    return str(uuid4())


def new_sid() -> str:
    return uuid4().hex


def new_fp() -> Fingerprint:
    return fingerprint(f"token-{uuid4().hex}")


def access_for(sub: str, sid: str, *, exp: float = NOW + ACCESS_TTL) -> AccessRecord:
    return AccessRecord(
        fingerprint=new_fp(), sub=sub, sid=sid, jti=uuid4().hex, client_id="web", exp=int(exp)
    )


def session_for(
    user_id: str,
    *,
    created_at: float = NOW,
    idle_timeout: float = IDLE_TIMEOUT,
    absolute_lifetime: float = ABSOLUTE_LIFETIME,
) -> Session:
    return Session(
        sid=new_sid(),
        user_id=user_id,
        client_id="web",
        scope="read write",
        created_at=created_at,
        last_used_at=created_at,
        idle_expires_at=created_at + idle_timeout,
        absolute_expires_at=created_at + absolute_lifetime,
        user_agent="contract-test/1.0",
        ip="192.0.2.7",
    )


@dataclass(frozen=True)
class Login:
    """What `start_session` was given: the session, its refresh and first access token."""

    session: Session
    refresh_fp: Fingerprint | None
    access: AccessRecord

    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def sid(self) -> str:
        return self.session.sid


async def log_in(
    store: TokenStore,
    user_id: str | None = None,
    *,
    now: float = NOW,
    with_refresh: bool = True,
    idle_timeout: float = IDLE_TIMEOUT,
    absolute_lifetime: float = ABSOLUTE_LIFETIME,
) -> Login:
    session = session_for(
        user_id or new_user(),
        created_at=now,
        idle_timeout=idle_timeout,
        absolute_lifetime=absolute_lifetime,
    )
    login = Login(
        session=session,
        refresh_fp=new_fp() if with_refresh else None,
        access=access_for(session.user_id, session.sid, exp=now + ACCESS_TTL),
    )
    await store.start_session(login.session, login.refresh_fp, login.access, now)
    return login


async def allowed(store: TokenStore, record: AccessRecord, now: float = NOW) -> bool:
    return await store.is_allowed(record.fingerprint, record.sub, record.sid, now)


# -- add_access / is_allowed / remove_access -----------------------------------------------
