"""`RedisTokenStore`: the token store (the article's "second layer") on Redis.

Implements `jwtkeep.ports.TokenStore`; the key layout is in `layout.py`, the atomic steps
in the `.lua` scripts, the connections in `connect.py` and `multiplex.py`.

- The allowlist check (`is_allowed`) is one HGET on the user's hash `{user}`, field
  `a` + the token's SHA-256 fingerprint, value = its `exp` and its session; it runs on
  the auto-pipelined connection. An entry is refused at or after its `exp` and for any
  other session, whatever Redis still holds (a TTL is coarse, and a test clock may run
  ahead of Redis's).
- Every write that spans keys or needs a check first is one Lua script on one user's
  keys, so one Cluster slot (CONVENTIONS "State": atomic steps are atomic).
- TTLs everywhere, nothing to clean up by hand: the user hash lives until its latest
  entry and drops dead entries whenever it is written; a session hash lives until the
  session's idle-or-absolute expiry, moved on rotation; the `sid -> user` mapping (for
  `get_session`) lives until the session's absolute expiry.
- Fail closed (DESIGN "Contract: the token store"): any Redis or socket error becomes
  `StoreUnavailable`; never a True, never a False that could be read as "revoked". The
  connections heal themselves: the next call after Redis is back works again.
  Idempotent steps are sent once more when a connection turns out to be dead; a refresh
  rotation never is (run twice, it would look like token reuse).
- A Redis that comes back empty (restarted without persistence) refuses every token
  issued before: the allowlist is the source of truth, so losing it logs everyone out;
  it never lets an unknown token in.
- Nothing stored is a raw token (DESIGN "Contract: the token store"; the article's "make
  the hash of your JWT token"): fingerprints, ids and session metadata only.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, NoScriptError, RedisError

from jwtkeep.adapters.redis.connect import Connections, open_connections
from jwtkeep.adapters.redis.cutoff_memo import CutoffMemo
from jwtkeep.adapters.redis.feed import RedisRevocationFeed
from jwtkeep.adapters.redis.layout import (
    ACCESS,
    CUTOFF_KEY,
    EVENTS_CHANNEL,
    EVERYONE,
    HEAD_BYTES,
    SESSION_FIELDS,
    access_exp,
    access_value,
    details_key,
    is_user_key,
    kid_tag,
    map_key,
    number,
    session_key,
    sid_code,
    sid_from_code,
    ttl_ms,
    user_key,
)
from jwtkeep.adapters.redis.scripts import load_scripts
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.core.revocation_events import EVERYTHING, RevocationEvent
from jwtkeep.errors import DuplicateSession, InvalidValue, StoreUnavailable
from jwtkeep.ports.records import AccessRecord, RefreshState, RotationOutcome, Session
from jwtkeep.ports.repositories import AuditLog
from jwtkeep.ports.token_store import Progress, RotationAudit

__all__ = ["Arg", "RedisTokenStore"]

_SWEEP_BATCH = 500  # user hashes swept concurrently (one script each, auto-pipelined)

_FAILURES = (RedisError, OSError)  # OSError covers TimeoutError and socket errors
Arg = bytes | str | int


class _FailClosed:
    """`with _fail_closed:` turns any Redis or socket failure into StoreUnavailable."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, _FAILURES):
            raise StoreUnavailable(f"token store (redis): {type(exc).__name__}") from exc


_fail_closed = _FailClosed()


async def _once_more_if_dropped(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run `call`; if the connection turns out to be dead (e.g. Redis restarted while the
    connection sat idle), run it once more on a fresh one. Only for idempotent steps."""
    try:
        return await call()
    except RedisConnectionError as exc:
        if isinstance(exc, MaxConnectionsError):
            raise
    return await call()


def _arg(value: Arg) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return b"%d" % value


def _session(
    sid: str, user_id: str, clock: Sequence[bytes | None], details: bytes | None, now: float
) -> Session | None:
    """A Session from its hash's clock fields and its details, or None if gone or dead."""
    last_used, idle, absolute = clock
    if last_used is None or idle is None or absolute is None or details is None:
        return None
    client_id, scope, created_at, user_agent, ip = json.loads(details)
    session = Session(
        sid=sid,
        user_id=user_id,
        client_id=client_id,
        scope=scope,
        created_at=created_at,
        last_used_at=float(last_used),
        idle_expires_at=float(idle),
        absolute_expires_at=float(absolute),
        user_agent=user_agent,
        ip=ip,
    )
    return session if now < session.expires_at() else None


def _after(session: Session | None, cutoffs: Sequence[bytes]) -> Session | None:
    """The session, unless a cut-off ended it: it started at or before the cut-off for
    everyone or for its app (`cutoffs` is the cut-off hash as HGETALL returns it)."""
    if session is None:
        return None
    fields = dict(zip(cutoffs[::2], cutoffs[1::2], strict=True))
    for field in (EVERYONE, b"c" + session.client_id.encode()):
        if field in fields and session.created_at <= float(fields[field]):
            return None
    return session


def _details(session: Session) -> bytes:
    fixed = [session.client_id, session.scope, session.created_at, session.user_agent, session.ip]
    return json.dumps(fixed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _clock(session: Session) -> list[Arg]:
    return [
        b"l", number(session.last_used_at),
        b"i", number(session.idle_expires_at),
        b"x", number(session.absolute_expires_at),
    ]  # fmt: skip


class RedisTokenStore:
    """The token store on Redis standalone, Sentinel or Cluster (Redis 6.2 or later)."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._run = connections.run
        self._scripts = load_scripts()
        self._cutoffs = CutoffMemo()

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 50, timeout: float = 0.25) -> RedisTokenStore:
        """URL forms: `connect.py`. Opens nothing yet: never blocks, never fails on a down
        Redis; the first call connects (and fails closed if it cannot)."""
        return cls(open_connections(url, pool_size=pool_size, timeout=timeout))

    async def _command(self, key: bytes, *command: bytes) -> Any:
        """One idempotent single-key command, sent once more on a dropped connection."""
        with _fail_closed:
            return await _once_more_if_dropped(lambda: self._run(key, command, True))

    async def _script(
        self, name: str, keys: list[bytes], args: list[Arg], *, idempotent: bool = True
    ) -> Any:
        """EVALSHA of one of the store's scripts; on NOSCRIPT, load it and send it again."""
        script = self._scripts[name]
        command = [b"EVALSHA", script.sha, b"%d" % len(keys), *keys, *map(_arg, args)]

        async def evaluate() -> Any:
            try:
                return await self._run(keys[0], command, idempotent)
            except NoScriptError:  # it did not run: loading and sending again is safe
                await self._run(keys[0], [b"SCRIPT", b"LOAD", script.source], True)
            return await self._run(keys[0], command, idempotent)

        with _fail_closed:
            if not idempotent:
                return await evaluate()
            return await _once_more_if_dropped(evaluate)

    # -- access tokens ----------------------------------------------------------------

    async def add_access(self, record: AccessRecord, now: float) -> None:
        value = access_value(record.exp, sid_code(record.sid), record.kid)
        args: list[Arg] = [number(now), ACCESS + record.fingerprint, value, record.exp]
        await self._script("add_access", [user_key(record.sub)], args)

    async def is_allowed(
        self,
        fp: Fingerprint,
        sub: str,
        sid: str,
        now: float,
        issued_at: float | None = None,
        client_id: str | None = None,
    ) -> bool:
        key = user_key(sub)
        value = await self._command(key, b"HGET", key, ACCESS + fp)
        if value is None or value[HEAD_BYTES:] != sid_code(sid) or now >= access_exp(value):
            return False  # unknown, revoked, expired: one command, no cut-off to read
        # Only a token that would pass needs the cut-off: from the memo while a revocation
        # subscription is live (`cutoff_memo.py`), else one more command, in the next batch
        # (bench/results/revoke_everything.md). Unknown and forged tokens, the ones an
        # attacker can send in bulk, cost one command either way.
        known, cutoff = self._cutoffs.get(client_id)
        if not known:
            generation = self._cutoffs.generation  # before the read: see CutoffMemo.put
            cutoff = await self._cutoff(client_id)
            self._cutoffs.put(client_id, cutoff, generation)
        # Issued at or before `revoke-everything`, or its app's disable or delete.
        return cutoff is None or (issued_at is not None and issued_at > cutoff)

    async def _cutoff(self, client_id: str | None) -> float | None:
        """The latest cut-off for everyone and for the app, if any (one HMGET)."""
        fields = [EVERYONE] if client_id is None else [EVERYONE, b"c" + client_id.encode()]
        raw = await self._command(CUTOFF_KEY, b"HMGET", CUTOFF_KEY, *fields)
        times = [float(one) for one in raw if one is not None]
        return max(times) if times else None

    async def remove_access(self, fp: Fingerprint, sub: str, sid: str) -> bool:
        event = RevocationEvent.token(fp).encode()
        args: list[Arg] = [ACCESS + fp, sid_code(sid), event]
        return bool(await self._script("remove_access", [user_key(sub)], args))

    async def revoke_signed_by(self, kid: str, now: float) -> int:
        """The key-leak drill: announce the kid first (every subscribed verifier refuses
        its tokens from then on), then drop every access token it signed, user hash by
        user hash (SCAN on every master). The count of tokens dropped."""
        await self._command(EVENTS_CHANNEL, b"PUBLISH", EVENTS_CHANNEL,
                            RevocationEvent.signed_by(kid).encode())  # fmt: skip
        killed = 0
        with _fail_closed:
            async for key in self._connections.scan_hashes(b"{*}"):
                if is_user_key(key):  # a user hash, not a session's
                    killed += int(await self._script("revoke_kid", [key], [kid_tag(kid)]))
        return killed

    @property
    def cutoffs(self) -> CutoffMemo:
        """The cut-offs this store remembers while one of its feeds is subscribed."""
        return self._cutoffs

    def revocation_feed(self) -> RedisRevocationFeed:
        return RedisRevocationFeed(self._connections.subscriber, cutoffs=self._cutoffs)

    async def ping(self) -> None:
        with _fail_closed:
            await _once_more_if_dropped(self._connections.ping)

    async def close(self) -> None:
        await self._connections.close()

    # -- sessions ---------------------------------------------------------------------

    async def start_session(
        self, session: Session, refresh_fp: Fingerprint | None, access: AccessRecord, now: float
    ) -> None:
        """The port's rule for a sid that exists: `DuplicateSession`, nothing changed. The mapping
        is claimed first with SET NX (it lives in another slot than the user's keys, so
        no script can check both); the user's own keys are checked inside the script."""
        user, sid, code = session.user_id, session.sid, sid_code(session.sid)
        if access.sub != user or access.sid != sid:
            raise InvalidValue("the first access token must belong to the session it starts")
        expires = session.expires_at()
        mapping, owner = map_key(sid), user.encode("utf-8")
        # Written first: a session never exists without its mapping. A mapping left by a
        # failed script points at nothing and expires on its own.
        ttl = b"%d" % ttl_ms(session.absolute_expires_at, now)
        claimed = await self._command(mapping, b"SET", mapping, owner, b"NX", b"PX", ttl)
        if claimed is None:
            await self._refuse_live_session_of_another(mapping, owner, sid)
        args: list[Arg] = [
            number(now),
            code,
            math.ceil(max(expires, access.exp)),  # the index entry's keep-until
            ttl_ms(expires, now),
            ACCESS + access.fingerprint,
            access_value(access.exp, code, access.kid),
            access.exp,
            refresh_fp or b"",
            _details(session),
            *_clock(session),
        ]
        keys = [session_key(user, sid), details_key(user, sid), user_key(user)]
        if not int(await self._script("start_session", keys, args)):
            raise DuplicateSession
        if claimed is None:
            # The mapping was left by an ended session (or by this call's lost reply):
            # make it this session's, for this session's lifetime.
            await self._command(mapping, b"SET", mapping, owner, b"PX", ttl)

    async def _refuse_live_session_of_another(self, mapping: bytes, owner: bytes, sid: str) -> None:
        """`DuplicateSession` if the sid's mapping names another user whose session still exists."""
        previous = await self._command(mapping, b"GET", mapping)
        if previous is None or previous == owner:
            return  # the same user's session, if any, is found by the script
        other = previous.decode("utf-8")
        key = session_key(other, sid)
        if await self._command(key, b"EXISTS", key, details_key(other, sid)):
            raise DuplicateSession

    async def rotate_refresh(
        self,
        user_id: str,
        sid: str,
        presented_fp: Fingerprint,
        new_refresh_fp: Fingerprint,
        access: AccessRecord,
        now: float,
        idle_timeout: int,
        reuse_interval: float = 0.0,
        audit: RotationAudit | None = None,
    ) -> RotationOutcome:
        if audit is not None:
            raise TypeError("the Redis store keeps no audit trail (see keeps_audit)")
        # `access` is filed under (user_id, sid): only written if that session rotates.
        code = sid_code(sid)
        keys = [session_key(user_id, sid), details_key(user_id, sid), user_key(user_id)]
        args: list[Arg] = [
            number(now),
            code,
            presented_fp,
            new_refresh_fp,
            ACCESS + access.fingerprint,
            access_value(access.exp, code, access.kid),
            access.exp,
            number(now + idle_timeout),
            RevocationEvent.session(sid, user_id).encode(),
            number(float(reuse_interval)),
        ]
        # Never sent twice: a rotation that ran but whose reply was lost would, sent again,
        # look like reuse of the token it just retired.
        outcome = await self._script("rotate_refresh", keys, args, idempotent=False)
        return RotationOutcome(outcome.decode("ascii"))

    def keeps_audit(self, audit: AuditLog) -> bool:
        return False  # the audit trail is in the SQL database, never in Redis

    async def refresh_state(
        self, user_id: str, sid: str, fp: Fingerprint, now: float
    ) -> RefreshState | None:
        key = session_key(user_id, sid)
        idle, absolute, state = await self._command(key, b"HMGET", key, b"i", b"x", fp)
        if idle is None or absolute is None or now >= min(float(idle), float(absolute)):
            return None
        if state == b"c":
            return RefreshState.CURRENT
        if state is not None and state.startswith(b"u"):  # "u" + when it was used up
            return RefreshState.USED
        return None

    async def get_session(self, sid: str, now: float) -> Session | None:
        mapping = map_key(sid)
        owner = await self._command(mapping, b"GET", mapping)
        if owner is None:
            return None
        user_id = owner.decode("utf-8")
        key, details = session_key(user_id, sid), details_key(user_id, sid)
        clock, fixed, cutoffs = await asyncio.gather(  # one round trip: one batch
            self._command(key, b"HMGET", key, *SESSION_FIELDS),
            self._command(details, b"GET", details),
            self._command(CUTOFF_KEY, b"HGETALL", CUTOFF_KEY),
        )
        return _after(_session(sid, user_id, clock, fixed, now), cutoffs)

    async def list_sessions(self, user_id: str, now: float) -> list[Session]:
        reply, cutoffs = await asyncio.gather(
            self._script("list_sessions", [user_key(user_id)], [number(now)]),
            self._command(CUTOFF_KEY, b"HGETALL", CUTOFF_KEY),
        )
        sessions = []
        for member, (*clock, fixed) in zip(reply[::2], reply[1::2], strict=True):
            session = _after(_session(sid_from_code(member), user_id, clock, fixed, now), cutoffs)
            if session is not None:
                sessions.append(session)
        sessions.sort(key=lambda s: (s.created_at, s.last_used_at), reverse=True)
        return sessions

    async def end_session(self, user_id: str, sid: str) -> bool:
        keys = [session_key(user_id, sid), details_key(user_id, sid), user_key(user_id)]
        event = RevocationEvent.session(sid, user_id).encode()
        removed = await self._script("end_session", keys, [sid_code(sid), event])
        return int(removed) > 0

    async def end_user_sessions(self, user_id: str, except_sid: str | None = None) -> list[str]:
        keep = sid_code(except_sid) if except_sid is not None else b""
        event = RevocationEvent.user(user_id).encode()
        ended = await self._script("end_user_sessions", [user_key(user_id)], [keep, event])
        return [sid_from_code(member) for member in ended]

    # -- everyone out -------------------------------------------------------------------

    async def end_everything(self, now: float, progress: Progress | None = None) -> int:
        """Step 1, at once: the cut-off `now` goes into one hash that every allowlist
        check and session lookup reads, so from then on no token issued and no session
        started at or before `now` is accepted, by any replica or SDK verifier (a cut-off
        only ever moves forward; a process that remembers cut-offs while subscribed,
        `CutoffMemo`, forgets them on the `all` event published with the raise). Step 2, the
        sweep: every user's hash is scanned and the sessions started before the cut-off
        are deleted with their refresh families and access tokens (one script per user,
        many in flight), so the memory is freed now rather than when the TTLs end. An
        interrupted sweep loses nothing: what it left is refused and expires on its own."""
        return await self._cut_off(EVERYONE, b"", now, progress)

    async def end_client_sessions(
        self, client_id: str, now: float, progress: Progress | None = None
    ) -> int:
        """As `end_everything`, for the sessions and tokens of one app (field `c<client_id>`)."""
        return await self._cut_off(b"c" + client_id.encode(), client_id.encode(), now, progress)

    async def _cut_off(
        self, field: bytes, client: bytes, now: float, progress: Progress | None
    ) -> int:
        # The `all` event goes out from the script that raises the cut-off (one step): the
        # schema names no app and a verdict cache does not know a token's app, so a
        # per-app cut-off empties every cache too (the safe reading).
        await self._script("raise_cutoff", [CUTOFF_KEY], [field, number(now), EVERYTHING.encode()])
        self._cutoffs.changed()  # here at once; other processes on the `all` event
        # An estimate for the progress bar: a user's hash, and per session 3 more keys.
        estimate = int(await self._command(CUTOFF_KEY, b"DBSIZE")) // 4
        ended = swept = 0
        batch: list[bytes] = []
        with _fail_closed:
            async for key in self._connections.scan_hashes(b"{*}"):
                if is_user_key(key):
                    batch.append(key)
                if len(batch) >= _SWEEP_BATCH:
                    ended += await self._sweep(batch, now, client)
                    swept += len(batch)
                    batch = []
                    if progress is not None:
                        progress(swept, max(estimate, swept))
        ended += await self._sweep(batch, now, client)
        swept += len(batch)
        if progress is not None:
            progress(swept, swept)
        return ended

    async def _sweep(self, users: list[bytes], cutoff: float, client: bytes) -> int:
        ended = await asyncio.gather(*(
            self._script("end_sessions_before", [key], [number(cutoff), client])
            for key in users
        ))  # fmt: skip
        return sum(int(count) for count in ended)
