"""`jwtkeep init`, settings errors and the "init first" guard."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from jwtkeep.runtime import Runtime
from jwtkeep.server.tls import ensure_local_certificate
from tests.cli.support import Cli, one_json
from tests.support.services import free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes except the database (SQLite may rewrite pages on open)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("jwtkeep.db")
    }


def test_init_creates_everything_with_tight_permissions(cli: Cli) -> None:
    result = cli.ok("init")
    data = cli.data_dir
    assert mode(data) == 0o700
    assert mode(data / "master.key") == 0o600
    assert (data / "jwtkeep.db").is_file()
    assert mode(data / "tls") == 0o700
    assert mode(data / "tls" / "key.pem") == 0o600
    assert (data / "tls" / "cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert "created" in result.stdout
    assert "Initialised" in result.stdout

    async def active_keys(runtime: Runtime) -> list[str]:
        ring = await runtime.context.keys.reload()
        return [k.kid for k in ring.keys if k.status.value == "active"]

    assert len(cli.with_runtime(active_keys)) == 1


def test_init_twice_changes_nothing_and_says_so(cli: Cli) -> None:
    cli.ok("init")
    before = snapshot(cli.data_dir)
    keys_before = cli.ok("keys", "list", "--json").stdout
    second = cli.ok("init")
    assert "nothing changed" in second.stdout
    assert "created" not in second.stdout
    third = one_json(cli.ok("init", "--json"))
    assert third["changed"] is False
    assert {step["status"] for step in third["steps"]} <= {"kept", "ok"}
    assert snapshot(cli.data_dir) == before
    assert cli.ok("keys", "list", "--json").stdout == keys_before


def test_init_json_is_one_value(cli: Cli) -> None:
    report = one_json(cli.ok("init", "--json"))
    assert report["changed"] is True
    assert report["data_dir"] == str(cli.data_dir.resolve())
    created = [step["what"] for step in report["steps"] if step["status"] == "created"]
    assert any("signing key" in what for what in created)
    assert any("TLS certificate" in what for what in created)


def test_an_expired_local_certificate_is_replaced(cli: Cli) -> None:
    cli.ok("init")
    cert = cli.data_dir / "tls" / "cert.pem"
    cert.write_text("not a certificate")
    result = cli.ok("init")
    assert "created  local TLS certificate" in result.stdout
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_master_key_from_the_environment_writes_no_file(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", key)
    result = cli.ok("init")
    assert not (cli.data_dir / "master.key").exists()
    assert "JWTKEEP_MASTER_KEY" in result.stdout
    assert key not in result.output  # the key itself is never printed


def test_configured_tls_files_are_used_not_generated(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = ensure_local_certificate(tmp_path / "elsewhere")
    monkeypatch.setenv("JWTKEEP_TLS_CERT", str(cert))
    monkeypatch.setenv("JWTKEEP_TLS_KEY", str(key))
    result = cli.ok("init")
    assert "JWTKEEP_TLS_CERT" in result.stdout
    assert not (cli.data_dir / "tls").exists()


def test_only_half_the_tls_settings_is_a_configuration_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_TLS_CERT", "/nonexistent/cert.pem")
    result = cli("init")
    assert result.exit_code == 2
    assert "JWTKEEP_TLS_KEY" in result.stderr


def test_invalid_settings_exit_2_with_one_clear_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_ACCESS_TOKEN_TTL", "999999")
    result = cli("init")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid settings: access_token_ttl")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not cli.data_dir.exists()


def test_hs256_without_consent_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_SIGNING_ALG", "HS256")
    result = cli("init")
    assert result.exit_code == 2
    assert "JWTKEEP_ALLOW_HS256" in result.stderr


def test_config_file_is_read(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JWTKEEP_DATA_DIR")
    target = tmp_path / "from-toml"
    config = tmp_path / "jwtkeep.toml"
    config.write_text(f'data_dir = "{target}"\nsigning_alg = "ES256"\n')
    cli.ok("--config", str(config), "init")
    keys = cli.ok("--config", str(config), "keys", "list", "--json")
    assert (target / "master.key").is_file()
    assert '"alg": "ES256"' in keys.stdout


def test_missing_config_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.toml"), "init")
    assert result.exit_code == 2
    assert "config file not found" in result.stderr


@pytest.mark.parametrize(
    "command",
    [("app", "list"), ("keys", "list"), ("sessions", "list", "alice"), ("audit",), ("serve",)],
)
def test_commands_before_init_ask_for_init(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.exit_code == 2
    assert "jwtkeep init" in result.stderr
    assert not (cli.data_dir / "jwtkeep.db").exists()  # nothing was created on the way


def test_unreachable_database_exits_3(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", key)
    monkeypatch.setenv(
        "JWTKEEP_DATABASE_URL", f"postgresql://jwtkeep:pw@127.0.0.1:{free_port()}/jwtkeep"
    )
    result = cli("app", "list")
    assert result.exit_code == 3
    assert "unavailable" in result.stderr
    assert "pw@" not in result.output  # a database password never reaches a message


@pytest.mark.parametrize("args", [(), ("app",), ("keys",), ("sessions",), ("token",), ("user",)])
def test_help_is_shown_for_every_group(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("args", "phrase"),
    [(("init",), "signing key"), (("serve",), "HTTPS"), (("app", "create"), "client id"),
     (("user", "create"), "UUID"), (("keys", "compromised"), "leak"),
     (("sessions", "revoke-all"), "every session"), (("audit",), "audit trail"),
     (("token", "inspect"), "NOT checked")],
)  # fmt: skip
def test_every_command_explains_itself(cli: Cli, args: tuple[str, ...], phrase: str) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0
    assert phrase in " ".join(result.stdout.split())


def test_wrong_master_key_is_a_clear_error(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    other = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", other)
    result = ready("keys", "list")
    assert result.exit_code == 2
    assert "wrong master key" in result.stderr
    assert other not in result.output
