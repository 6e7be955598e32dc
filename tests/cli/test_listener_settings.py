"""The listener's settings: defaults, bounds, and `jwtkeep serve` refusing bad ones (exit 2,
one line). Their effect on a real server is in tests/e2e/test_listener_limits_e2e.py."""

from __future__ import annotations

import pytest

from jwtkeep.errors import ConfigurationError
from jwtkeep.server.listener import ListenerLimits
from jwtkeep.settings import load_settings
from tests.cli.support import Cli


def test_defaults_bound_every_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_HEADER_BYTES", "MAX_HEADERS", "METRICS_PORT", "KEEP_ALIVE_TIMEOUT"):
        monkeypatch.delenv(f"JWTKEEP_{name}", raising=False)
    settings = load_settings()
    assert ListenerLimits.from_settings(settings) == ListenerLimits(
        max_header_bytes=16_384, max_headers=64, header_timeout=10.0, body_timeout=10.0
    )
    assert settings.tls_handshake_timeout == 10.0
    assert settings.keep_alive_timeout == 5
    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1"


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_REQUEST_HEADER_TIMEOUT", "1.5")
    monkeypatch.setenv("JWTKEEP_MAX_HEADERS", "32")
    monkeypatch.setenv("JWTKEEP_METRICS_PORT", "9464")
    settings = load_settings()
    assert settings.request_header_timeout == 1.5
    assert settings.max_headers == 32
    assert settings.metrics_port == 9464


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_header_bytes", 100),  # too small for an ordinary request
        ("max_header_bytes", 10_000_000),  # no bound worth the name
        ("max_headers", 0),
        ("tls_handshake_timeout", 0),
        ("request_header_timeout", -1),
        ("request_body_timeout", 0),
        ("request_header_timeout", 3600),
        ("keep_alive_timeout", 0),
        ("metrics_port", 70000),
    ],
)
def test_out_of_bounds_values_are_refused(name: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"invalid settings: {name}"):
        load_settings(None, **{name: value})


def test_metrics_cannot_share_the_public_port() -> None:
    with pytest.raises(ConfigurationError, match="metrics_port must differ from port"):
        load_settings(port=8443, metrics_port=8443)


def test_serve_refuses_a_bad_timeout_in_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_REQUEST_BODY_TIMEOUT", "soon")
    result = cli("serve")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid settings: request_body_timeout")
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_refuses_plain_metrics_off_loopback(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_METRICS_PORT", "9464")
    monkeypatch.setenv("JWTKEEP_METRICS_HOST", "0.0.0.0")
    result = ready("serve", "--insecure-http")
    assert result.exit_code == 2
    assert "metrics off loopback are served over TLS only" in result.stderr
