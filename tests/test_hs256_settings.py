"""HS256 settings: JWTKEEP_HMAC_SECRET is base64url, its length counted in decoded bytes,
and the runtime signs with the decoded bytes (RFC 7518 §3.2; RFC 8725 §3.5)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from jwtkeep.errors import ConfigurationError
from jwtkeep.runtime import open_runtime, prepare_data_dir
from jwtkeep.settings import Settings, load_settings

PASSWORD_32 = "CorrectHorseBatteryStaple2024xyz"  # 32 characters, 24 bytes once decoded
FAST_ARGON2: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 64,
    "argon2_parallelism": 1,
}


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JWTKEEP_"):
            monkeypatch.delenv(name)


def hs256(data_dir: Path, secret: str) -> Settings:
    return load_settings(
        data_dir=data_dir, signing_alg="HS256", allow_hs256=True, hmac_secret=secret,
        **FAST_ARGON2,
    )  # fmt: skip


def test_a_32_character_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"JWTKEEP_HMAC_SECRET: .*decodes to 24 bytes"):
        hs256(tmp_path, PASSWORD_32)


def test_token_urlsafe_32_is_accepted(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    assert hs256(tmp_path, secret).hmac_secret is not None


@pytest.mark.parametrize(
    "secret",
    ["not base64 at all!", "A" * 43, secrets.token_urlsafe(32)[:41], ""],
    ids=["not-base64", "one-byte", "impossible-length", "empty"],
)
def test_bad_secrets_are_one_line_without_the_secret(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigurationError, match="JWTKEEP_HMAC_SECRET: the secret") as refused:
        hs256(tmp_path, secret)
    message = str(refused.value)
    assert "\n" not in message
    if secret:
        assert secret not in message


async def test_the_runtime_signs_with_the_decoded_bytes(tmp_path: Path) -> None:
    raw = secrets.token_bytes(32)
    settings = hs256(tmp_path / "data", base64.urlsafe_b64encode(raw).decode().rstrip("="))
    prepare_data_dir(settings)
    async with open_runtime(settings, migrate=True) as runtime:
        await runtime.context.keys.ensure_signing_key()
        signer = (await runtime.context.keys.ring()).signer(runtime.context.clock())
    assert signer.private_jwk()["k"] == base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_hs256_keys_are_not_rotated_on_a_schedule(tmp_path: Path) -> None:
    # Every HS256 key is the one JWTKEEP_HMAC_SECRET: a new kid would not be a new key.
    settings = hs256(tmp_path / "data", secrets.token_urlsafe(32))
    assert settings.key_rotation_days == 90
    prepare_data_dir(settings)
    async with open_runtime(settings, migrate=True) as runtime:
        assert runtime.context.keys.policy.rotation_period is None
