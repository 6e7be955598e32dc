"""argon2id password hashing (RFC 9106) and the no-enumeration dummy check."""

from __future__ import annotations

import pytest

from jwtkeep.core.passwords import (
    MAX_PASSWORD_BYTES,
    Argon2Params,
    PasswordHasher,
    check_password_acceptable,
)

CHEAP = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP)


def test_hash_is_argon2id_with_the_parameters(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery")
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert "correct horse" not in encoded


def test_verify(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery")
    assert hasher.verify(encoded, "correct horse battery") is True
    assert hasher.verify(encoded, "correct horse batterY") is False
    assert hasher.verify("not a hash", "correct horse battery") is False


def test_unknown_user_checks_a_dummy_hash_and_fails(hasher: PasswordHasher) -> None:
    assert hasher.verify(None, "jwtkeep-dummy-password-for-timing") is False
    assert hasher.verify(None, "anything at all") is False


def test_overlong_password_is_refused_without_matching(hasher: PasswordHasher) -> None:
    long = "x" * (MAX_PASSWORD_BYTES + 1)
    with pytest.raises(ValueError, match="at most"):
        hasher.hash(long)
    assert hasher.verify(hasher.hash("x" * MAX_PASSWORD_BYTES), long) is False


@pytest.mark.parametrize("password", ["", "short", "1234567"])
def test_short_passwords_are_refused(hasher: PasswordHasher, password: str) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hasher.hash(password)


def test_needs_rehash_when_parameters_grow(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("correct horse battery")
    stronger = PasswordHasher(Argon2Params(time_cost=2, memory_cost_kib=64, parallelism=1))
    assert stronger.needs_rehash(encoded) is True
    assert hasher.needs_rehash(encoded) is False


def test_default_parameters_are_rfc_9106_second_recommendation() -> None:
    assert Argon2Params() == Argon2Params(time_cost=3, memory_cost_kib=65536, parallelism=4)


@pytest.mark.parametrize(
    "password", ["password123", "PASSWORD123", "Password123 ", "qwertyuiop", "trustno1"]
)
def test_common_and_breached_passwords_are_refused(password: str) -> None:
    # NIST SP 800-63B §5.1.1.2: "commonly-used, expected, or compromised", in any case.
    with pytest.raises(ValueError, match="too common"):
        check_password_acceptable(password)


@pytest.mark.parametrize("password", [" " * 8, "\t" * 8, " \t \u00a0 \u3000  "])
def test_whitespace_only_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValueError, match="only whitespace"):
        check_password_acceptable(password)


@pytest.mark.parametrize("password", ["alice.smith", "Alice.Smith", " ALICE.SMITH "])
def test_the_username_is_refused_as_the_password(password: str) -> None:
    with pytest.raises(ValueError, match="not be the username"):
        check_password_acceptable(password, username="alice.smith")


def test_a_strong_passphrase_is_accepted() -> None:
    check_password_acceptable("correct horse battery staple", username="alice")
    check_password_acceptable("  spaces around a passphrase  ", username="alice")


def test_refusals_never_repeat_the_password() -> None:
    for password, username in (("password123", None), ("robert.tables", "robert.tables")):
        with pytest.raises(ValueError, match="password") as refused:
            check_password_acceptable(password, username=username)
        assert password not in str(refused.value)


def test_rehashing_an_existing_password_ignores_the_blocklist(hasher: PasswordHasher) -> None:
    # A login re-hashes with grown parameters; a password accepted before must keep working.
    assert hasher.verify(hasher.hash("password123"), "password123") is True
