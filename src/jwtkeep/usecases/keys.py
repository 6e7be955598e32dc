"""Signing keys: create, load (unseal), rotate, retire, and the key-leak drill.

The ring is cached and reloaded every `refresh_seconds`, so a rotation done by one replica
(or the CLI) reaches every replica without a restart. A `kid` miss reloads at most once per
`MISS_RELOAD_SECONDS` (a flood of tokens with random kids cannot hammer the database).
Private keys exist in memory only; at rest they are sealed (jwtkeep.core.sealing).

Every lifecycle step (rotate, retire, compromised) is one `KeyRepository.change_keys`
transaction that decides inside it, so no interleaving of steps, from any number of CLI
runs or replicas, leaves the ring without an active key; a compromised key stays so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from jwtkeep.core.clock import Clock, RandomBytes, new_id, system_clock, system_random
from jwtkeep.core.jose import JoseKey, generate_key, load_key
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey
from jwtkeep.core.revocation_events import EventKind, RevocationEvent
from jwtkeep.core.sealing import Sealer, SealError
from jwtkeep.errors import ConfigurationError, Conflict, NotFound
from jwtkeep.ports import KeyChange, KeyRepository, StoredKey
from jwtkeep.ports.repositories import KeyPlan

__all__ = [
    "HS256_DRILL_REFUSED",
    "MISS_RELOAD_SECONDS",
    "ONLY_ACTIVE_KEY",
    "RETIRING",
    "KeyManager",
]

MISS_RELOAD_SECONDS = 5.0
ONLY_ACTIVE_KEY = "that is the only active key; run `jwtkeep keys rotate` first"

HS256_DRILL_REFUSED = (
    "in HS256 mode every key is JWTKEEP_HMAC_SECRET, and it is the leaked one: the drill "
    "would keep signing with it. Set a new JWTKEEP_HMAC_SECRET (32+ random bytes, "
    "base64url) for this command and every replica, then run it again"
)
RETIRING = KeyStatus.RETIRING


class KeyManager:
    def __init__(
        self,
        repo: KeyRepository,
        sealer: Sealer,
        *,
        alg: str = "EdDSA",
        hmac_secret: bytes | None = None,
        refresh_seconds: float = 30.0,
        clock: Clock = system_clock,
        random: RandomBytes = system_random,
    ) -> None:
        self._repo = repo
        self._sealer = sealer
        self.alg = alg
        self._hmac_secret = hmac_secret
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._random = random
        self._ring: KeyRing | None = None
        self._loaded_at = float("-inf")
        self._last_miss_reload = float("-inf")
        self._lock = asyncio.Lock()

    async def ring(self) -> KeyRing:
        """The cached ring, reloaded when older than `refresh_seconds`. Requests that find
        it stale together wait for one reload instead of each doing their own."""
        if self._ring is not None and not self._stale():
            return self._ring
        async with self._lock:
            if self._ring is not None and not self._stale():
                return self._ring  # another request reloaded it while we waited
            return await self._load()

    def _stale(self) -> bool:
        return self._clock() - self._loaded_at >= self._refresh_seconds

    def on_revocation(self, event: RevocationEvent) -> None:
        """A kid event (the key-leak drill or a retirement, maybe from another replica or
        the CLI): drop the key from the cached ring now, and reload on the next use
        instead of after `refresh_seconds`."""
        if event.kind is not EventKind.KID or self._ring is None:
            return
        self._ring = KeyRing(k for k in self._ring.keys if k.kid != event.value)
        self._loaded_at = float("-inf")

    async def ring_after_miss(self, kid: str) -> KeyRing:
        now = self._clock()
        if self._ring is not None and now - self._last_miss_reload < MISS_RELOAD_SECONDS:
            return self._ring
        self._last_miss_reload = now
        return await self.reload()

    async def reload(self) -> KeyRing:
        async with self._lock:
            return await self._load()

    async def _load(self) -> KeyRing:
        stored = await self._repo.list_keys()
        self._ring = KeyRing(self._ring_key(k) for k in stored)
        self._loaded_at = self._clock()
        return self._ring

    def _ring_key(self, stored: StoredKey) -> RingKey:
        status = KeyStatus(stored.status)
        key: JoseKey | None = None
        if status in (KeyStatus.ACTIVE, KeyStatus.RETIRING):
            try:
                private = json.loads(self._sealer.unseal(stored.sealed_private, stored.kid))
            except SealError:
                raise ConfigurationError(
                    f"cannot unseal signing key {stored.kid}: wrong master key "
                    "(JWTKEEP_MASTER_KEY or master.key in the data folder) or tampered data"
                ) from None
            key = load_key(stored.alg, stored.kid, private)
        return RingKey(kid=stored.kid, alg=stored.alg, status=status,
                       created_at=stored.created_at, key=key)  # fmt: skip

    async def ensure_signing_key(self) -> str | None:
        """Create the first key if there is no active one; the new kid, or None."""
        new = self._new_key()

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            return KeyChange() if _actives(keys) else KeyChange(add=(new,))

        change = await self._change(plan)
        return change.add[0].kid if change.add else None

    async def rotate(self) -> str:
        """New active key; the previous active keys keep verifying ("retiring")."""
        new = self._new_key()

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            return KeyChange(add=(new,), statuses=dict.fromkeys(_actives(keys), RETIRING))

        await self._change(plan)
        return new.kid

    async def retire(self, kid: str) -> None:
        """Stop verifying `kid` (after its tokens have expired). Refused for the last
        active key: with none, nothing could sign (`jwtkeep keys rotate` first)."""

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            target = _changeable(keys, kid)
            if target.status == KeyStatus.ACTIVE and _actives(keys) == [kid]:
                raise Conflict(ONLY_ACTIVE_KEY)
            return KeyChange(statuses={kid: KeyStatus.RETIRED})

        await self._change(plan)

    async def compromised(self, kid: str) -> str | None:
        """The key-leak drill: withdraw `kid` at once; if it was signing, make a new key.
        A key already marked compromised stays so (and nothing else changes)."""
        new = self._new_key()

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            target = _find(keys, kid)
            if target.status == KeyStatus.COMPROMISED:
                return KeyChange()
            if self._keeps_secret_of(target):
                raise Conflict(HS256_DRILL_REFUSED)
            add = (new,) if target.status == KeyStatus.ACTIVE else ()
            return KeyChange(add=add, statuses={kid: KeyStatus.COMPROMISED})

        change = await self._change(plan)
        return change.add[0].kid if change.add else None

    def _keeps_secret_of(self, target: StoredKey) -> bool:
        """HS256: would the keys after the drill still sign with the leaked secret? (RFC
        7518 §3.2: the HMAC key is the secret; a new kid on the same secret is no new key.)"""
        if target.alg != "HS256" or self._hmac_secret is None:
            return False
        leaked = json.loads(self._sealer.unseal(target.sealed_private, target.kid))
        configured = generate_key("HS256", target.kid, self._hmac_secret).private_jwk()
        return bool(leaked.get("k") == configured.get("k"))

    async def _change(self, plan: KeyPlan) -> KeyChange:
        """One atomic lifecycle step: `plan` decides on the keys as they are inside the
        repository's transaction, never on a ring read before it (CONVENTIONS "State":
        atomic steps are atomic in the store), so concurrent steps cannot together leave
        no active key."""
        change = await self._repo.change_keys(plan)
        await self.reload()
        return change

    def _new_key(self) -> StoredKey:
        kid = new_id(self._random, 12)
        key = generate_key(self.alg, kid, self._hmac_secret)
        sealed = self._sealer.seal(json.dumps(key.private_jwk()).encode(), kid)
        public = None if self.alg == "HS256" else key.public_jwk()
        return StoredKey(
            kid=kid, alg=self.alg, status=KeyStatus.ACTIVE, created_at=self._clock(),
            public_jwk=public, sealed_private=sealed,
        )  # fmt: skip


def _actives(keys: Sequence[StoredKey]) -> list[str]:
    return [key.kid for key in keys if key.status == KeyStatus.ACTIVE]


def _find(keys: Sequence[StoredKey], kid: str) -> StoredKey:
    for key in keys:
        if key.kid == kid:
            return key
    raise NotFound(f"no key with kid {kid!r}")


def _changeable(keys: Sequence[StoredKey], kid: str) -> StoredKey:
    """The key `kid`, unless it is compromised: that is final. A leaked key must never
    verify again, whatever an operator types later (the key-leak drill)."""
    key = _find(keys, kid)
    if key.status == KeyStatus.COMPROMISED:
        raise Conflict(f"key {kid} is compromised: its status never changes again")
    return key
