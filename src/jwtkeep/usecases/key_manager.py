"""Signing keys: create, load (unseal), rotate (by hand and on a schedule), retire,
import, re-seal, and the key-leak drill.

The ring is cached and reloaded every `refresh_seconds`, so a rotation done by one replica
(or the CLI) reaches every replica without a restart. A `kid` miss reloads at most once per
`MISS_RELOAD_SECONDS` (a flood of tokens with random kids cannot hammer the database).
Private keys exist in memory only; at rest they are sealed (jwtkeep.core.sealing).

Every lifecycle step (rotate, the schedule's `step`, retire, compromised, import,
reseal) is one `KeyRepository.change_keys` transaction that decides inside it, so no
interleaving of steps, from any number of CLI runs or replicas, leaves the ring without
a signing key or rotates twice; a compromised key stays so. Each step that changed
something is written to the audit trail (`key.*` events: kid, actor, reason).
Rollover without an unknown `kid` at any verifier: `jwtkeep.usecases.key_schedule`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from jwtkeep.core.clock import Clock, RandomBytes, new_id, system_clock, system_random
from jwtkeep.core.jose import JoseKey, generate_key, load_key, load_private_pem
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey, signing_kid
from jwtkeep.core.revocation_events import EventKind, RevocationEvent
from jwtkeep.core.sealing import Sealer, SealError
from jwtkeep.errors import ConfigurationError, Conflict, NotFound
from jwtkeep.ports import AuditEvent, AuditLog, KeyChange, KeyRepository, StoredKey
from jwtkeep.ports.repositories import KeyPlan
from jwtkeep.usecases.key_schedule import KeyPolicy, pending_keys, scheduled_change

__all__ = [
    "HS256_DRILL_REFUSED",
    "MISS_RELOAD_SECONDS",
    "ONLY_ACTIVE_KEY",
    "RETIRING",
    "SCHEDULER",
    "KeyManager",
    "Revoke",
]

MISS_RELOAD_SECONDS = 5.0
ONLY_ACTIVE_KEY = "that is the only key that signs; run `jwtkeep keys rotate --now` first"

HS256_DRILL_REFUSED = (
    "in HS256 mode every key is JWTKEEP_HMAC_SECRET, and it is the leaked one: the drill "
    "would keep signing with it. Set a new JWTKEEP_HMAC_SECRET (32+ random bytes, "
    "base64url) for this command and every replica, then run it again"
)
Revoke = Callable[[str], Awaitable[int]]
"""Kill every token a withdrawn kid signed, the count (`TokenStore.revoke_signed_by`)."""
RETIRING = KeyStatus.RETIRING
SCHEDULER = "scheduler"  # the actor of the schedule's own steps in the audit trail


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
        policy: KeyPolicy | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._repo = repo
        self._sealer = sealer
        self.alg = alg
        self._hmac_secret = hmac_secret
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._random = random
        self.policy = policy or KeyPolicy()
        self._audit_log = audit
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
            key = load_key(stored.alg, stored.kid, self._private_jwk(stored))
        return RingKey(kid=stored.kid, alg=stored.alg, status=status,
                       created_at=stored.created_at, key=key,
                       activates_at=stored.activates_at)  # fmt: skip

    async def ensure_signing_key(self, *, actor: str = "init") -> str | None:
        """Create the first key if there is no active one; the new kid, or None."""
        new = self._new_key(self._clock())

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            return KeyChange() if _actives(keys) else KeyChange(add=(new,))

        change = await self._change(plan)
        if not change.add:
            return None
        await self._audit("key.generated", new.kid, actor, "", signs_from=new.activates_at)
        return new.kid

    async def rotate(self, *, at_once: bool = False, actor: str = "operator",
                     reason: str = "") -> str:  # fmt: skip
        """The next key, published now and signing `policy.publish_ahead` from now, so
        every verifier's cached JWKS holds it before its first token; the current key
        signs until then, then retires on schedule. If a next key is already published,
        that one (nothing new). With nothing signing, or `at_once`, it signs at once
        (a published next key is promoted rather than a new one made)."""
        now = self._clock()
        new = self._new_key(now + self.policy.publish_ahead)
        chosen = new

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            nonlocal chosen
            pending = pending_keys(keys, now)
            if signing_kid(keys, now) is None or at_once:
                if pending:
                    chosen = dataclasses.replace(pending[0], activates_at=now)
                    return KeyChange(replace=(chosen,))
                chosen = dataclasses.replace(new, activates_at=now)
                return KeyChange(add=(chosen,))
            if pending:
                chosen = pending[0]
                return KeyChange()
            return KeyChange(add=(new,))

        if await self._change(plan):
            await self._audit("key.rotated", chosen.kid, actor, reason,
                              signs_from=chosen.activates_at)  # fmt: skip
        await self.step()
        return chosen.kid

    async def step(self, *, actor: str = SCHEDULER) -> KeyChange:
        """One run of the rotation schedule (`key_schedule.scheduled_change`): every
        replica calls it periodically; it reads first and locks only when something is
        due, and the locked step decides again, so only one replica's step changes keys."""
        now = self._clock()
        probe = scheduled_change(await self._repo.list_keys(), now, self.policy, _placeholder)
        if not probe:
            return probe
        # Generated before the lock, off the event loop (RSA-3072 takes a while).
        new = await asyncio.to_thread(self._new_key, now) if probe.add else None
        signer: str | None = None
        active: set[str] = set()

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            nonlocal signer, active
            signer = signing_kid(keys, now)
            active = set(_actives(keys))
            return scheduled_change(keys, now, self.policy, lambda at: self._stamped(new, at))

        change = await self._change(plan)
        superseded = [k.kid for k in change.replace if k.kid in active]  # active -> retiring
        await self._audit_step(change, signer, superseded, actor)
        return change

    async def _audit_step(
        self, change: KeyChange, signer: str | None, superseded: list[str], actor: str
    ) -> None:
        for key in change.add:
            await self._audit("key.rotated", key.kid, actor, "scheduled",
                              signs_from=key.activates_at)  # fmt: skip
        if signer is not None and superseded:
            await self._audit("key.activated", signer, actor, "scheduled", superseded=superseded)
        for kid in change.statuses:
            await self._audit("key.retired", kid, actor, "its tokens have expired")

    async def retire(self, kid: str, *, actor: str = "operator", reason: str = "",
                     revoke: Revoke | None = None) -> None:  # fmt: skip
        """Stop verifying `kid` (after its tokens have expired). Refused for the key that
        signs when no other would: with none, nothing could sign (`jwtkeep keys rotate
        --now` first). `revoke` (`jwtkeep.usecases.key_withdrawal`) then kills what the
        key signed; its count goes into the audit event (`tokens_killed`)."""
        now = self._clock()

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            target = _changeable(keys, kid)
            after = [_with_status(k, kid, KeyStatus.RETIRED) for k in keys]
            signs_now = signing_kid(keys, now) is not None
            if target.status == KeyStatus.ACTIVE and signs_now and not signing_kid(after, now):
                raise Conflict(ONLY_ACTIVE_KEY)
            return KeyChange(statuses={kid: KeyStatus.RETIRED})

        await self._change(plan)
        killed = await revoke(kid) if revoke is not None else None
        await self._audit("key.retired", kid, actor, reason, tokens_killed=killed)

    async def compromised(self, kid: str, *, actor: str = "operator", reason: str = "",
                          revoke: Revoke | None = None) -> str | None:  # fmt: skip
        """The key-leak drill: withdraw `kid` at once; if it was signing (or nothing would
        sign without it), a fresh key signs at once. A published next key is not promoted:
        whatever leaked this key may have leaked that one too. A key already marked
        compromised stays so (and nothing else changes). In HS256 mode the drill is
        refused while JWTKEEP_HMAC_SECRET is still the leaked secret (RFC 7518 §3.2).
        `revoke` then kills what the key signed, also on a re-run (it finishes a sweep an
        outage cut short); its count goes into the audit event (`tokens_killed`)."""
        now = self._clock()
        new = self._new_key(now)

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            target = _find(keys, kid)
            if target.status == KeyStatus.COMPROMISED:
                return KeyChange()
            if self._keeps_secret_of(target):
                raise Conflict(HS256_DRILL_REFUSED)
            after = [_with_status(k, kid, KeyStatus.COMPROMISED) for k in keys]
            signing = signing_kid(keys, now) == kid or signing_kid(after, now) is None
            add = (new,) if target.status == KeyStatus.ACTIVE and signing else ()
            return KeyChange(add=add, statuses={kid: KeyStatus.COMPROMISED})

        change = await self._change(plan)
        killed = await revoke(kid) if revoke is not None else None
        if not change and not killed:
            return None
        new_kid = change.add[0].kid if change.add else None
        await self._audit("key.compromised", kid, actor, reason, new_kid=new_kid,
                          tokens_killed=killed)  # fmt: skip
        return new_kid

    async def import_pem(self, pem: bytes, *, activate: bool = False,
                         actor: str = "operator", reason: str = "") -> str:  # fmt: skip
        """Bring your own private key (PEM, e.g. from a KMS), checked against the signing
        algorithm (`jose.load_private_pem`) and sealed like a generated one. It becomes the
        next key (signs `policy.publish_ahead` from now), or signs at once with
        `activate` or when nothing signs."""
        now = self._clock()
        kid = new_id(self._random, 12)
        key = load_private_pem(pem, self.alg, kid)
        stored = self._stored(key, now + self.policy.publish_ahead)

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            nonlocal stored
            if activate or signing_kid(keys, now) is None:
                stored = dataclasses.replace(stored, activates_at=now)
            return KeyChange(add=(stored,))

        await self._change(plan)
        await self._audit("key.imported", kid, actor, reason, signs_from=stored.activates_at)
        if activate:
            await self.step()
        return kid

    async def reseal(self, *, actor: str = "operator", reason: str = "") -> list[str]:
        """Seal every private key under the current master key (the sealer's previous ones
        only open); the kids rewritten. One transaction: all or none."""

        def plan(keys: Sequence[StoredKey]) -> KeyChange:
            rewritten = []
            for key in keys:
                try:
                    blob = self._sealer.reseal(key.sealed_private, key.kid)
                except SealError:
                    raise ConfigurationError(
                        f"cannot unseal signing key {key.kid} with JWTKEEP_MASTER_KEY or "
                        "JWTKEEP_PREVIOUS_MASTER_KEY: nothing was re-sealed"
                    ) from None
                if blob is not None:
                    rewritten.append(dataclasses.replace(key, sealed_private=blob))
            return KeyChange(replace=tuple(rewritten))

        change = await self._change(plan)
        kids = [key.kid for key in change.replace]
        if kids:
            await self._audit("keys.resealed", None, actor, reason, kids=kids)
        return kids

    def _private_jwk(self, stored: StoredKey) -> dict[str, Any]:
        """The unsealed private JWK; a master key that does not open it is a setting to fix
        (ConfigurationError: one line and exit code 2 in the CLI)."""
        try:
            private: dict[str, Any] = json.loads(
                self._sealer.unseal(stored.sealed_private, stored.kid)
            )
        except SealError:
            raise ConfigurationError(
                f"cannot unseal signing key {stored.kid}: wrong master key "
                "(JWTKEEP_MASTER_KEY or master.key in the data folder) or tampered data"
            ) from None
        return private

    def _keeps_secret_of(self, target: StoredKey) -> bool:
        """HS256: would the keys after the drill still sign with the leaked secret? (RFC
        7518 §3.2: the HMAC key is the secret; a new kid on the same secret is no new key.)"""
        if target.alg != "HS256" or self._hmac_secret is None:
            return False
        leaked = self._private_jwk(target)
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

    async def _audit(self, event: str, kid: str | None, actor: str, reason: str,
                     **detail: Any) -> None:  # fmt: skip
        if self._audit_log is None:
            return
        # Who and why in their columns, as every operator event has them (`AuthContext.record`).
        fields = {"kid": kid, **detail}
        record = {k: v for k, v in fields.items() if v is not None and v != ""}
        await self._audit_log.record(AuditEvent(at=self._clock(), event=event, detail=record,
                                                actor=actor, reason=reason or None))  # fmt: skip

    def _stamped(self, new: StoredKey | None, activates_at: float) -> StoredKey:
        """The key generated for this step, signing from `activates_at` (made now if the
        keys changed between the look and the lock, e.g. a next key was withdrawn)."""
        return dataclasses.replace(new or self._new_key(activates_at), activates_at=activates_at)

    def _new_key(self, activates_at: float) -> StoredKey:
        kid = new_id(self._random, 12)
        return self._stored(generate_key(self.alg, kid, self._hmac_secret), activates_at)

    def _stored(self, key: JoseKey, activates_at: float) -> StoredKey:
        sealed = self._sealer.seal(json.dumps(key.private_jwk()).encode(), key.kid)
        public = None if self.alg == "HS256" else key.public_jwk()
        return StoredKey(
            kid=key.kid, alg=self.alg, status=KeyStatus.ACTIVE, created_at=self._clock(),
            public_jwk=public, sealed_private=sealed, activates_at=activates_at,
        )  # fmt: skip


def _placeholder(activates_at: float) -> StoredKey:
    """Stands for the next key while deciding whether one is due (never written)."""
    return StoredKey(kid="", alg="", status=KeyStatus.ACTIVE, created_at=0.0,
                     public_jwk=None, sealed_private=b"", activates_at=activates_at)  # fmt: skip


def _with_status(key: StoredKey, kid: str, status: str) -> StoredKey:
    return dataclasses.replace(key, status=status) if key.kid == kid else key


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
