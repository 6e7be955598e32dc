"""One handler for the whole error tree (`cli.common.handled_errors`): any JwtkeepError, the
core's included, is one line on standard error and the exit code of its kind (docs/cli.md:
1 an error, 2 bad settings, 3 the store cannot be reached); anything else is a bug and is
let through."""

from __future__ import annotations

import base64
import os
import secrets

import pytest
import typer

from jwtkeep.cli.common import handled_errors
from jwtkeep.core.access_token import TokenRejected
from jwtkeep.core.compact import MalformedToken
from jwtkeep.core.sealing import SealError
from jwtkeep.errors import (
    ConfigurationError,
    InvalidValue,
    JwtkeepError,
    NoSigningKey,
    NotFound,
    StoreUnavailable,
)
from tests.cli.support import Cli


class _Unnamed(JwtkeepError):
    pass


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ConfigurationError("JWTKEEP_PORT: not a port"), 2, "error: JWTKEEP_PORT: not a port"),
        (StoreUnavailable("ConnectionError"), 3,
         "error: ConnectionError; is the database / token store running and reachable?"),
        (NoSigningKey(), 3, "error: no active signing key: run `jwtkeep keys rotate`"),
        (NotFound("no user 'bob'"), 1, "error: no user 'bob'"),
        (InvalidValue("malformed scope"), 1, "error: malformed scope"),
        (SealError("cannot unseal: wrong master key or tampered data"), 1,
         "error: cannot unseal: wrong master key or tampered data"),
        (MalformedToken("not a compact JWS"), 1, "error: not a compact JWS"),
        (TokenRejected("bad signature"), 1, "error: bad signature"),
        (_Unnamed(), 1, "error: _Unnamed"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)  # fmt: skip
def test_every_jwtkeep_error_is_one_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str], error: JwtkeepError, code: int, line: str
) -> None:
    with pytest.raises(typer.Exit) as exited, handled_errors():
        raise error
    assert exited.value.exit_code == code
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line]
    assert captured.out == ""


def test_anything_else_is_a_bug_and_is_not_hidden() -> None:
    with pytest.raises(RuntimeError, match="a bug"), handled_errors():
        raise RuntimeError("a bug")


def test_a_wrong_master_key_in_the_key_leak_drill_is_one_line_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drill reads the leaked HS256 key itself (to compare it with the configured
    secret): its unseal once let the core's SealError through to a special case here."""
    monkeypatch.setenv("JWTKEEP_SIGNING_ALG", "HS256")
    monkeypatch.setenv("JWTKEEP_ALLOW_HS256", "true")
    monkeypatch.setenv("JWTKEEP_HMAC_SECRET", secrets.token_urlsafe(32))
    cli.ok("init")
    kid = cli.ok("keys", "list").stdout.splitlines()[1].split()[0]
    other = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", other)
    result = cli("keys", "compromised", kid)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "wrong master key" in lines[0]
    assert other not in result.output
