"""Signing keys: create, load (unseal), rotate, retire, and the key-leak drill.

The ring is cached and reloaded every `refresh_seconds`, so a rotation done by one replica
(or the CLI) reaches every replica without a restart. A `kid` miss reloads at most once per
`MISS_RELOAD_SECONDS` (a flood of tokens with random kids cannot hammer the database).
Private keys exist in memory only; at rest they are sealed (jwtkeep.core.sealing).
"""

from __future__ import annotations

import asyncio
import json

from jwtkeep.core.clock import Clock, RandomBytes, new_id, system_clock, system_random
from jwtkeep.core.jose import JoseKey, generate_key, load_key
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey
from jwtkeep.core.sealing import Sealer, SealError
from jwtkeep.errors import ConfigurationError, Conflict, NotFound
from jwtkeep.ports import KeyRepository, StoredKey

__all__ = ["MISS_RELOAD_SECONDS", "KeyManager"]

MISS_RELOAD_SECONDS = 5.0


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
        ring = await self.reload()
        if any(k.status is KeyStatus.ACTIVE for k in ring.keys):
            return None
        kid = await self._create()
        await self.reload()
        return kid

    async def rotate(self) -> str:
        """New active key; the previous active keys keep verifying ("retiring")."""
        ring = await self.reload()
        kid = await self._create()
        for old in ring.keys:
            if old.status is KeyStatus.ACTIVE:
                await self._repo.set_key_status(old.kid, KeyStatus.RETIRING)
        await self.reload()
        return kid

    async def retire(self, kid: str) -> None:
        """Stop verifying `kid` (after its tokens have expired)."""
        ring = await self.reload()
        target = self._find(ring, kid)
        actives = [k for k in ring.keys if k.status is KeyStatus.ACTIVE]
        if target.status is KeyStatus.ACTIVE and len(actives) == 1:
            raise Conflict("that is the only active key; run `jwtkeep keys rotate` first")
        await self._repo.set_key_status(kid, KeyStatus.RETIRED)
        await self.reload()

    async def compromised(self, kid: str) -> str | None:
        """The key-leak drill: withdraw `kid` at once; if it was signing, make a new key."""
        ring = await self.reload()
        target = self._find(ring, kid)
        new_kid = await self._create() if target.status is KeyStatus.ACTIVE else None
        await self._repo.set_key_status(kid, KeyStatus.COMPROMISED)
        await self.reload()
        return new_kid

    @staticmethod
    def _find(ring: KeyRing, kid: str) -> RingKey:
        for key in ring.keys:
            if key.kid == kid:
                return key
        raise NotFound(f"no key with kid {kid!r}")

    async def _create(self) -> str:
        kid = new_id(self._random, 12)
        key = generate_key(self.alg, kid, self._hmac_secret)
        sealed = self._sealer.seal(json.dumps(key.private_jwk()).encode(), kid)
        public = None if self.alg == "HS256" else key.public_jwk()
        await self._repo.add_key(
            StoredKey(kid=kid, alg=self.alg, status=KeyStatus.ACTIVE, created_at=self._clock(),
                      public_jwk=public, sealed_private=sealed)
        )  # fmt: skip
        return kid
