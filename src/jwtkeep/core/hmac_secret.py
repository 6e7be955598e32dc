"""HMAC signing secrets (HS256): how `JWTKEEP_HMAC_SECRET` is written, and the checks
that it is a random key and not a password.

- RFC 7518 §3.2: "A key of the same size as the hash output (for instance, 256 bits for
  "HS256") or larger MUST be used with this algorithm." Bits of key, not characters: a
  32-character password has far fewer than 256 bits of entropy.
- RFC 8725 §3.5: "human-memorizable passwords MUST NOT be directly used as the key to a
  keyed-MAC algorithm such as "HS256"".

So the setting is base64url (RFC 4648 §5; `=` padding optional) of at least 32 random
bytes, and the HMAC key is the decoded bytes. `python -c "import secrets;
print(secrets.token_urlsafe(32))"` makes one. Secrets that are obviously not random are
refused too: too few distinct byte values (32 random bytes have about 30; fewer than 16
happens by chance with a probability below 2^-50), or text with no upper-case or no
lower-case letter (random base64url of 32 bytes lacks one with a probability of about
4 * 10^-10; a word, a hex string or a sentence typed as letters usually does).

Messages say what is wrong, never the secret.
"""

from __future__ import annotations

import base64
import binascii
import re

from jwtkeep.errors import InvalidValue

__all__ = ["MIN_DISTINCT_BYTES", "MIN_HMAC_SECRET_BYTES", "is_repetitive", "parse_hmac_secret"]

MIN_HMAC_SECRET_BYTES = 32  # RFC 7518 §3.2: the SHA-256 output size
MIN_DISTINCT_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_HOW = "base64url of at least 32 random bytes, e.g. from secrets.token_urlsafe(32)"


def is_repetitive(key: bytes) -> bool:
    """True for a key with fewer than 16 distinct byte values: not random bytes."""
    return len(set(key)) < MIN_DISTINCT_BYTES


def parse_hmac_secret(text: str) -> bytes:
    """The HMAC key in `text` (base64url), or InvalidValue saying why it is refused."""
    text = text.strip()
    if not text:
        raise InvalidValue(f"the secret is missing: it must be {_HOW}")
    if not _BASE64URL.fullmatch(text):
        raise InvalidValue(f"the secret is not base64url (A-Z a-z 0-9 - _): it must be {_HOW}")
    unpadded = text.rstrip("=")
    try:
        key = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise InvalidValue(f"the secret is not valid base64url: it must be {_HOW}") from None
    if len(key) < MIN_HMAC_SECRET_BYTES:
        raise InvalidValue(f"the secret decodes to {len(key)} bytes: it must be {_HOW}")
    if is_repetitive(key):
        raise InvalidValue(f"the secret is not random (too few distinct bytes): it must be {_HOW}")
    if unpadded.lower() == unpadded or unpadded.upper() == unpadded:
        raise InvalidValue(
            f"the secret looks like text, not random base64url (it does not mix upper- and "
            f"lower-case letters): it must be {_HOW}"
        )
    return key
