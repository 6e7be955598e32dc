"""JWTKEEP_HMAC_SECRET: base64url of >= 32 random bytes, checked after decoding
(RFC 7518 §3.2: 256 bits of key for HS256; RFC 8725 §3.5: never a password)."""

from __future__ import annotations

import base64
import secrets

import pytest

from jwtkeep.core.hmac_secret import MIN_HMAC_SECRET_BYTES, is_repetitive, parse_hmac_secret

# Exactly 32 ASCII characters: 32 bytes as text, 24 bytes of key once decoded.
PASSWORD_32 = "CorrectHorseBatteryStaple2024xyz"


def test_a_token_urlsafe_secret_is_accepted_and_decoded() -> None:
    text = secrets.token_urlsafe(32)
    key = parse_hmac_secret(text)
    assert len(key) == 32
    assert base64.urlsafe_b64encode(key).decode().rstrip("=") == text


def test_padding_and_surrounding_whitespace_are_accepted() -> None:
    raw = secrets.token_bytes(48)
    padded = base64.urlsafe_b64encode(raw).decode()
    assert parse_hmac_secret(f"  {padded}\n") == raw
    assert parse_hmac_secret(padded.rstrip("=")) == raw


def test_a_32_character_password_is_refused() -> None:
    assert len(PASSWORD_32) == MIN_HMAC_SECRET_BYTES
    with pytest.raises(ValueError, match="decodes to 24 bytes"):
        parse_hmac_secret(PASSWORD_32)


@pytest.mark.parametrize(
    "text",
    [
        "a secret phrase with spaces that is long enough to pass",
        base64.b64encode(b"\xfb\xff" * 24).decode(),  # standard base64 (+ and /)
        "é" * 44,
        "abc=def" * 8,
    ],
)
def test_text_that_is_not_base64url_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not base64url") as refused:
        parse_hmac_secret(text)
    assert text not in str(refused.value)


def test_base64url_of_impossible_length_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid base64url"):
        parse_hmac_secret(secrets.token_urlsafe(32)[:41])  # 41 = 4k + 1 characters


@pytest.mark.parametrize(
    "raw", [b"\x00" * 32, b"s" * 64, bytes(range(15)) * 4], ids=["zeros", "one-byte", "15-bytes"]
)
def test_obviously_non_random_bytes_are_refused(raw: bytes) -> None:
    assert is_repetitive(raw)
    with pytest.raises(ValueError, match="not random"):
        parse_hmac_secret(base64.urlsafe_b64encode(raw).decode())


@pytest.mark.parametrize(
    "text",
    [
        "correcthorsebatterystaplecorrecthorsebatterystaple",  # a sentence typed as letters
        secrets.token_hex(32),  # hex: no upper case, so not the documented encoding
        "CORRECTHORSEBATTERYSTAPLECORRECTHORSEBATTERYSTAPLE",
    ],
    ids=["lower-case", "hex", "upper-case"],
)
def test_text_that_does_not_look_random_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="looks like text"):
        parse_hmac_secret(text)


def test_missing_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        parse_hmac_secret("  ")


def test_random_keys_are_not_repetitive() -> None:
    assert not any(is_repetitive(secrets.token_bytes(32)) for _ in range(1000))
