"""Password hashing with argon2id (RFC 9106; OWASP Password Storage Cheat Sheet).

Default parameters are RFC 9106 §4's second recommended option (m = 64 MiB, t = 3, p = 4).
Tests and benchmarks may pass cheaper ones. An unknown user is checked against a dummy
hash so that "no such user" and "wrong password" take the same time (no user enumeration).

A *new* password (registration, `POST /auth/password`, `jwtkeep user create`) must pass
`check_password_acceptable`, the one place for the rule (NIST SP 800-63B §5.1.1.2):
8 characters to 1024 bytes, not all whitespace, not the username, and not on a list of
"commonly-used, expected, or compromised" passwords (zxcvbn's ~30,000 leaked passwords).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from jwtkeep.errors import InvalidValue

__all__ = [
    "MAX_PASSWORD_BYTES",
    "MIN_PASSWORD_CHARS",
    "Argon2Params",
    "PasswordHasher",
    "check_password_acceptable",
]

MAX_PASSWORD_BYTES = 1024  # bound argon2's input: a 1 MB "password" is a DoS, not a secret
MIN_PASSWORD_CHARS = 8  # NIST SP 800-63B §5.1.1.2


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4


class PasswordHasher:
    def __init__(self, params: Argon2Params = Argon2Params()) -> None:
        self.params = params
        self._hasher = _Argon2(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash("jwtkeep-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        # Only the length bounds here: a login re-hashes the user's existing password when
        # the parameters grow, and a blocklist that grew since must not lock the user out
        # (SP 800-63B §5.1.1.2 checks a password when it is *set*). New passwords go
        # through `check_password_acceptable` first.
        _check_length(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True only for a match. `password_hash=None` burns the same time and says False."""
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            password = password[:MAX_PASSWORD_BYTES]
            password_hash = None
        try:
            matched = self._hasher.verify(password_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def check_password_acceptable(password: str, *, username: str | None = None) -> None:
    """Refuse a new password that NIST SP 800-63B §5.1.1.2 says must be refused.

    - fewer than 8 characters, or more than `MAX_PASSWORD_BYTES` (argon2 input bound);
    - only whitespace (eight spaces are 8 characters, not a secret);
    - the username ("context-specific words, such as ... the username");
    - on the list of "passwords obtained from previous breach corpuses" and "commonly-used"
      values.
    The comparisons ignore case and surrounding whitespace: `Password123 ` is as guessable
    as `password123`. The messages never repeat the password.
    """
    _check_length(password)
    if not password.strip():
        raise InvalidValue("password must not be only whitespace")
    folded = password.strip().casefold()
    if username is not None and folded == username.strip().casefold():
        raise InvalidValue("password must not be the username")
    if folded in _common_passwords():
        raise InvalidValue("password is too common: it is on a list of leaked passwords")


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidValue(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise InvalidValue(f"password must be at most {MAX_PASSWORD_BYTES} bytes")


@functools.cache
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of ~30,000 passwords from breach corpora, lower-case, loaded once.

    Imported on first use, not at import time: it costs ~90 ms and ~18 MB once, which a
    process that never sets a password (a CLI listing keys) should not pay.
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415

    return frozenset(entry.casefold() for entry in FREQUENCY_LISTS["passwords"])
