"""Every bad setting is one line on standard error and exit code 2, never a traceback;
an unknown `JWTKEEP_*` variable is a warning naming the closest valid one.

In-process (CliRunner: `Cli` fails the test on any unhandled exception or 'Traceback'),
and once for `jwtkeep serve` as a real process, whose whole stderr is read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jwtkeep.settings import load_settings
from tests.cli.support import Cli
from tests.support.serve_process import clean_environment, run_cli


def assert_one_line_exit_2(cli: Cli, *args: str, names: str) -> str:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("command", [("app", "list"), ("init",), ("serve",)])
def test_a_bad_log_level_is_refused_with_the_allowed_values(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("JWTKEEP_LOG_LEVEL", "loud")
    line = assert_one_line_exit_2(cli, *command, names="JWTKEEP_LOG_LEVEL")
    assert "'debug', 'info', 'warning', 'error' or 'critical'" in line
    assert "loud" not in line  # a rejected value is never echoed (it may be a secret)


def test_a_bad_log_format_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_LOG_FORMAT", "xml")
    line = assert_one_line_exit_2(cli, "init", names="JWTKEEP_LOG_FORMAT")
    assert "'json' or 'console'" in line


def test_log_settings_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("JWTKEEP_LOG_FORMAT", "Console")
    settings = load_settings()
    assert (settings.log_level, settings.log_format) == ("warning", "console")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        ("10.0.0.0/8, 10.1.0.7 ,::1", ["10.0.0.0/8", "10.1.0.7", "::1"]),
        ('["10.0.0.0/8", "10.1.0.7"]', ["10.0.0.0/8", "10.1.0.7"]),
        ("", []),
    ],
)
def test_trusted_proxies_as_a_comma_separated_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("JWTKEEP_TRUSTED_PROXIES", value)
    assert load_settings().trusted_proxies == expected


def test_trusted_proxies_natural_spelling_works_in_the_cli(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_TRUSTED_PROXIES", "10.0.0.0/8")
    ready.ok("app", "list")


def test_broken_json_trusted_proxies_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_TRUSTED_PROXIES", '["10.0.0.0/8",')
    assert_one_line_exit_2(cli, "init", names="JWTKEEP_TRUSTED_PROXIES")


def test_malformed_toml_is_one_line(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "jwtkeep.toml"
    config.write_text('data_dir = "unterminated\nport = \n')
    line = assert_one_line_exit_2(cli, "--config", str(config), "init", names=str(config))
    assert "not valid TOML" in line


def test_config_file_that_is_not_utf8_is_one_line(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "jwtkeep.toml"
    config.write_bytes(b"port = 9000 # \xff\xfe\n")
    line = assert_one_line_exit_2(cli, "--config", str(config), "init", names=str(config))
    assert "not valid TOML" in line


def test_unknown_key_in_the_config_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "jwtkeep.toml"
    config.write_text("log_levle = 'debug'\n")
    assert_one_line_exit_2(cli, "--config", str(config), "init", names="log_levle")


def _unreadable_file(tmp_path: Path) -> Path:
    """A regular file that cannot be read: mode 000 for an ordinary user; as root (who
    reads any file) a procfs file with no read operation, whose read() fails (EINVAL)."""
    config = tmp_path / "jwtkeep.toml"
    config.write_text("port = 9000\n")
    config.chmod(0)
    try:
        config.read_bytes()
    except PermissionError:
        return config
    return Path("/proc/self/clear_refs")


def test_unreadable_config_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    config = _unreadable_file(tmp_path)
    with pytest.raises(
        OSError, match=r"Permission denied|Invalid argument"
    ):  # the premise: this file really cannot be read
        config.read_bytes()
    assert_one_line_exit_2(cli, "--config", str(config), "init", names="cannot be read")


def test_missing_config_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_exit_2(cli, "--config", str(tmp_path / "nope.toml"), "init",
                           names="config file not found")  # fmt: skip


def test_postgres_without_the_extra_says_what_to_install(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an install without `jwtkeep[postgres]` looks like: asyncpg cannot be imported.
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    monkeypatch.setenv("JWTKEEP_DATABASE_URL", "postgresql://jwtkeep@127.0.0.1:9/jwtkeep")
    line = assert_one_line_exit_2(ready, "app", "list", names="pip install 'jwtkeep[postgres]'")
    assert "asyncpg" in line


def test_an_unknown_variable_is_a_warning_naming_the_closest(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_LOG_LEVLE", "debug")
    monkeypatch.setenv("JWTKEEP_ZZZZ", "secret-value-never-shown")
    result = ready.ok("app", "list", "--json")
    json.loads(result.stdout)  # standard output stays one JSON value
    warnings = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(w["level"], w["variable"], w["did_you_mean"]) for w in warnings] == [
        ("warning", "JWTKEEP_LOG_LEVLE", "JWTKEEP_LOG_LEVEL"),
        ("warning", "JWTKEEP_ZZZZ", None),
    ]
    assert "secret-value-never-shown" not in result.output


def test_the_config_variable_is_not_unknown(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_CONFIG", "/nonexistent.toml")  # read by app_factory only
    assert ready.ok("app", "list").stderr == ""


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("JWTKEEP_LOG_LEVEL", "loud", "JWTKEEP_LOG_LEVEL"),
        ("JWTKEEP_TRUSTED_PROXIES", "[oops", "JWTKEEP_TRUSTED_PROXIES"),
        ("JWTKEEP_DATABASE_URL", "postgresql://u@127.0.0.1:9/x", "jwtkeep[postgres]"),
    ],
)
def test_serve_process_with_a_bad_setting_writes_one_line(
    tmp_path: Path, variable: str, value: str, names: str
) -> None:
    env = clean_environment(tmp_path / "data")
    assert run_cli(env, "init").returncode == 0
    env[variable] = value
    if variable == "JWTKEEP_DATABASE_URL":
        # An install without the extra: asyncpg cannot be imported in the child.
        blocker = tmp_path / "no-asyncpg"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['asyncpg'] = None\n")
        env["PYTHONPATH"] = str(blocker)
    result = run_cli(env, "serve", "--port", "9")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert names in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
