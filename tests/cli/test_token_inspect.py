"""`jwtkeep token inspect`: output shapes and exit codes (the pitfalls themselves are
tested in tests/core/test_inspector.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import pytest

from jwtkeep.cli.token import FailOn, exit_code
from jwtkeep.core.inspector import Pitfall, Report, Severity
from tests.cli.support import Cli, one_json

SUB = "3f1e2d4c-5b6a-4978-8a1b-2c3d4e5f6a7b"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret or b"k" * 32, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def clean_payload() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://auth.example", "sub": SUB, "aud": "api", "exp": now + 300,
            "nbf": now, "iat": now, "jti": "j" * 22}  # fmt: skip


CLEAN = make({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"}, clean_payload())
NO_EXP = make({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"},
              {k: v for k, v in clean_payload().items() if k != "exp"})  # fmt: skip
HS = make({"alg": "HS256", "typ": "at+jwt", "kid": "k"}, clean_payload(), b"k" * 40)


def test_clean_token_exits_0_and_shows_header_and_payload(cli: Cli) -> None:
    result = cli("token", "inspect", CLEAN)
    assert result.exit_code == 0
    assert '"typ": "at+jwt"' in result.stdout
    assert SUB in result.stdout
    assert "NOT checked" in result.stdout
    assert "none found" in result.stdout


def test_high_pitfall_exits_1(cli: Cli) -> None:
    result = cli("token", "inspect", NO_EXP)
    assert result.exit_code == 1
    assert "HIGH" in result.stdout
    assert "no-exp" in result.stdout


def test_json_output_is_one_value(cli: Cli) -> None:
    result = cli("token", "inspect", NO_EXP, "--json")
    assert result.exit_code == 1
    report = one_json(result)
    assert report["jwt"] is True
    assert report["signature_checked"] is False
    assert "no-exp" in [p["code"] for p in report["pitfalls"]]


def test_token_from_stdin(cli: Cli) -> None:
    result = cli("token", "inspect", "-", "--json", input=CLEAN + "\n")
    assert result.exit_code == 0
    assert one_json(result)["payload"]["sub"] == SUB


def test_not_a_jwt_exits_2(cli: Cli) -> None:
    result = cli("token", "inspect", "hello")
    assert result.exit_code == 2
    assert "Not a JWT" in result.stdout
    as_json = cli("token", "inspect", "hello", "--json")
    assert as_json.exit_code == 2
    assert one_json(as_json)["jwt"] is False


@pytest.mark.parametrize(("fail_on", "code"), [("high", 0), ("medium", 1), ("never", 0)])
def test_fail_on_threshold(cli: Cli, fail_on: str, code: int) -> None:
    # HS256 with a strong secret: only the medium "alg-hmac" pitfall.
    assert cli("token", "inspect", HS, "--fail-on", fail_on).exit_code == code


def test_secret_stdin_checks_the_length_without_printing_it(cli: Cli) -> None:
    weak = cli("token", "inspect", HS, "--secret-stdin", "--json", input="tooshort\n")
    assert weak.exit_code == 1
    assert "hmac-short-secret" in [p["code"] for p in one_json(weak)["pitfalls"]]
    assert "tooshort" not in weak.output
    repetitive = cli("token", "inspect", HS, "--secret-stdin", "--json", input="k" * 40 + "\n")
    assert repetitive.exit_code == 1
    assert "hmac-weak-secret" in [p["code"] for p in one_json(repetitive)["pitfalls"]]
    strong = cli("token", "inspect", HS, "--secret-stdin", input=secrets.token_urlsafe(48) + "\n")
    assert strong.exit_code == 0


def test_token_and_secret_cannot_both_come_from_stdin(cli: Cli) -> None:
    result = cli("token", "inspect", "-", "--secret-stdin", input=CLEAN)
    assert result.exit_code == 2
    assert "stdin" in result.stderr


def test_hostile_payload_cannot_reach_the_terminal_raw(cli: Cli) -> None:
    token = make({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"},
                 {**clean_payload(), "note": "\x1b]0;pwned\x07"})  # fmt: skip
    result = cli("token", "inspect", token)
    assert "\x1b" not in result.output
    assert "\\u001b" in result.stdout


def _report(*severities: Severity) -> Report:
    pitfalls = tuple(Pitfall(f"p{i}", s, "m", "r") for i, s in enumerate(severities))
    return Report(is_jwt=True, header={}, payload={}, pitfalls=pitfalls)


@pytest.mark.parametrize(
    ("severities", "fail_on", "expected"),
    [((), FailOn.LOW, 0), ((Severity.INFO,), FailOn.LOW, 0), ((Severity.LOW,), FailOn.LOW, 1),
     ((Severity.LOW,), FailOn.MEDIUM, 0), ((Severity.MEDIUM, Severity.LOW), FailOn.MEDIUM, 1),
     ((Severity.HIGH,), FailOn.HIGH, 1), ((Severity.HIGH,), FailOn.NEVER, 0)],
)  # fmt: skip
def test_exit_code_rules(severities: tuple[Severity, ...], fail_on: FailOn, expected: int) -> None:
    assert exit_code(_report(*severities), fail_on) == expected
    assert exit_code(Report(is_jwt=False, error="x"), fail_on) == 2
