"""Sealing private signing keys at rest with AES-256-GCM (NIST SP 800-38D).

The master key comes from `JWTKEEP_MASTER_KEY` (base64url, 32 bytes) or, for the embedded
default, a generated key file with 0600 permissions in the data folder. The key id is
bound as associated data so a sealed blob cannot be swapped onto another key row.

Changing the master key without downtime (`jwtkeep keys reseal`): a `Sealer` may hold
previous master keys that only unseal, never seal (`JWTKEEP_PREVIOUS_MASTER_KEY`). Each is
tried after the current one; AES-GCM's tag tells a wrong key from the right one (SP
800-38D §7.2), so trying two keys never yields a wrong plaintext. `reseal` rewrites a
blob under the current key, after which the previous key can be destroyed.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jwtkeep.core.clock import RandomBytes, system_random
from jwtkeep.errors import InvalidValue, JwtkeepError

__all__ = ["MASTER_KEY_BYTES", "SealError", "Sealer", "parse_master_key"]

MASTER_KEY_BYTES = 32
_VERSION = b"jk1"
_NONCE_BYTES = 12  # SP 800-38D §8.2.2: 96-bit random nonces, far below the 2^32 bound


class SealError(JwtkeepError):
    """A sealed blob could not be opened: wrong master key, or tampered with."""


def parse_master_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise InvalidValue("master key must be base64url") from None
    if len(raw) != MASTER_KEY_BYTES:
        raise InvalidValue("master key must be 32 bytes (base64url of 32 random bytes)")
    return raw


class Sealer:
    def __init__(
        self,
        master_key: bytes,
        random: RandomBytes = system_random,
        *,
        previous: tuple[bytes, ...] = (),
    ) -> None:
        if any(len(key) != MASTER_KEY_BYTES for key in (master_key, *previous)):
            raise InvalidValue("master key must be 32 bytes")
        self._aead = AESGCM(master_key)
        self._previous = tuple(AESGCM(key) for key in previous if key != master_key)
        self._random = random

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = self._random(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def unseal(self, blob: bytes, context: str) -> bytes:
        """Open with the current master key, else with a previous one."""
        for aead in (self._aead, *self._previous):
            plaintext = _open(aead, blob, context)
            if plaintext is not None:
                return plaintext
        raise SealError("cannot unseal: wrong master key or tampered data")

    def reseal(self, blob: bytes, context: str) -> bytes | None:
        """`blob` sealed under the current master key, or None if it already is."""
        if _open(self._aead, blob, context) is not None:
            return None
        return self.seal(self.unseal(blob, context), context)


def _open(aead: AESGCM, blob: bytes, context: str) -> bytes | None:
    if not blob.startswith(_VERSION):
        raise SealError("unknown sealed format")
    nonce = blob[len(_VERSION) : len(_VERSION) + _NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[len(_VERSION) + _NONCE_BYTES :], context.encode())
    except InvalidTag:
        return None
