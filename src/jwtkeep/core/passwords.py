"""Password hashing with argon2id (RFC 9106; OWASP Password Storage Cheat Sheet).

Default parameters are RFC 9106 §4's second recommended option (m = 64 MiB, t = 3, p = 4).
Tests and benchmarks may pass cheaper ones. An unknown user is checked against a dummy
hash so that "no such user" and "wrong password" take the same time (no user enumeration).
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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
        check_password_acceptable(password)
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


def check_password_acceptable(password: str) -> None:
    """NIST SP 800-63B §5.1.1.2: at least 8 characters; a bounded length."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
