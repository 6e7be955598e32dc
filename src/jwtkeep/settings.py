"""Settings, read once at the edge into one frozen object (CONVENTIONS "State").

Sources, highest first: `JWTKEEP_*` environment variables, then the TOML file given with
`--config FILE`, then defaults. Secure defaults: EdDSA, 300 s access tokens, HTTPS,
registration off, HS256 refused unless explicitly enabled with a strong secret.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from jwtkeep.core.hmac_secret import parse_hmac_secret
from jwtkeep.core.hosts import is_loopback
from jwtkeep.errors import ConfigurationError, InvalidValue
from jwtkeep.logs import LogFormat, LogLevel

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PORT",
    "ENV_PREFIX",
    "MAX_ACCESS_TOKEN_TTL",
    "Alg",
    "Settings",
    "load_settings",
    "unknown_variables",
]

MAX_ACCESS_TOKEN_TTL = 3600  # hard upper bound (the article: as short as possible)
DEFAULT_PORT = 8443
ENV_PREFIX = "JWTKEEP_"
CONFIG_ENV = "JWTKEEP_CONFIG"  # the TOML file for `uvicorn --factory` (server.app_factory)
Alg = Literal["EdDSA", "ES256", "PS256", "RS256", "HS256"]


class Settings(BaseSettings):
    """Every setting jwtkeep reads. DESIGN.md lists the ones outside checks rely on."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    data_dir: Path = Field(Path(".jwtkeep"), description="data folder (SQLite, keys, TLS)")
    issuer: str | None = Field(None, description="`iss` URL; default https://localhost:PORT")
    database_url: str | None = Field(None, description="default: SQLite in the data folder")
    token_store_url: str | None = Field(None, description="default: the database; redis://")
    access_token_ttl: int = Field(300, ge=30, le=MAX_ACCESS_TOKEN_TTL)
    signing_alg: Alg = "EdDSA"
    allow_hs256: bool = False
    hmac_secret: SecretStr | None = None
    master_key: SecretStr | None = Field(None, description="base64url of 32 random bytes")
    # Only unseals, never seals: the old master key while `jwtkeep keys reseal` switches.
    previous_master_key: SecretStr | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # NoDecode: `10.0.0.0/8, 10.1.0.7` is read by `_proxy_list`, not as JSON only.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    leeway: int = Field(30, ge=0, le=120)
    session_idle_timeout: int = Field(7 * 86400, ge=60)
    session_absolute_lifetime: int = Field(30 * 86400, ge=60)
    allow_registration: bool = False
    # The browser's login session at the issuer (single sign-on), seconds.
    login_session_ttl: int = Field(8 * 3600, ge=60, le=30 * 86400)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    store_pool_size: int = Field(50, ge=1, le=10_000)
    store_timeout: float = Field(0.25, gt=0, le=10)
    key_refresh_seconds: int = Field(30, ge=1)
    # Scheduled signing-key rotation (jwtkeep.usecases.key_schedule); 0 = by hand only.
    key_rotation_days: int = Field(90, ge=0, le=3650)
    # The replica's verdict cache for its own bearer routes (docs/revocation.md); 0: off.
    verdict_cache_entries: int = Field(100_000, ge=0, le=10_000_000)
    # Refresh races of one client's own tabs (docs/sessions.md); 0: off, at most 60 s.
    refresh_reuse_interval: int = Field(0, ge=0, le=60)
    max_body_bytes: int = Field(16_384, ge=1024)
    # Brute-force protection (jwtkeep.server.ratelimit; docs/operations.md):
    login_failures_per_address: int = Field(10, ge=1, description="per account+address, 15 min")
    login_failures_before_slowdown: int = Field(5, ge=1, description="per account, 15 min")
    login_slowdown_max_seconds: float = Field(4.0, ge=0, le=30)
    address_failures_per_hour: int = Field(100, ge=1)
    address_attempts_per_minute: int = Field(300, ge=1)
    registrations_per_minute: int = Field(10, ge=1)
    log_level: LogLevel = "info"
    log_format: LogFormat | None = Field(None, description="json (default if not a TTY)")
    # The listener (`jwtkeep.server.listener`): bounds that make slow or huge requests cheap.
    max_header_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    max_headers: int = Field(64, ge=8, le=1000)
    tls_handshake_timeout: float = Field(10.0, gt=0, le=300)
    request_header_timeout: float = Field(10.0, gt=0, le=300)
    request_body_timeout: float = Field(10.0, gt=0, le=300)
    keep_alive_timeout: int = Field(5, ge=1, le=300)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # The audit trail's retention (usecases.context.AuditRetention; docs/settings.md).
    audit_retention_days: int = Field(90, ge=1, le=36500)
    audit_ip_retention_days: int = Field(30, ge=0, le=36500)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = init_settings.init_kwargs.pop("_config_file", None)  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """A JSON list (`["10.0.0.0/8"]`) or a comma-separated one (`10.0.0.0/8, ::1`)."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                raise InvalidValue("not a valid JSON list of addresses or networks") from None
        return [entry.strip() for entry in value.split(",") if entry.strip()]

    @field_validator("issuer")
    @classmethod
    def _issuer_is_https_url(cls, value: str | None) -> str | None:
        # RFC 8414 §2: the issuer is an https URL with no query or fragment.
        if value is None:
            return None
        parts = urlsplit(value)
        loopback_http = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if (parts.scheme != "https" and not loopback_http) or not parts.hostname:
            raise InvalidValue("issuer must be an https:// URL (http only on loopback)")
        if parts.query or parts.fragment:
            raise InvalidValue("issuer must not have a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _hs256_needs_consent_and_secret(self) -> Settings:
        # RFC 8725 §3.5 / RFC 7518 §3.2: HMAC keys must be strong; and shared secrets
        # leak more easily (the article), so HS256 is never a silent default. The secret
        # is base64url of >= 32 random bytes, checked after decoding (core.hmac_secret).
        if self.signing_alg == "HS256":
            if not self.allow_hs256:
                raise InvalidValue("HS256 needs JWTKEEP_ALLOW_HS256=true")
            secret = self.hmac_secret.get_secret_value() if self.hmac_secret else ""
            try:
                parse_hmac_secret(secret)
            except ValueError as exc:
                raise InvalidValue(f"JWTKEEP_HMAC_SECRET: {exc}") from None
        if self.session_absolute_lifetime < self.session_idle_timeout:
            raise InvalidValue("session_absolute_lifetime must be >= session_idle_timeout")
        if self.audit_ip_retention_days > self.audit_retention_days:
            raise InvalidValue("audit_ip_retention_days must be <= audit_retention_days")
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise InvalidValue("metrics_port must differ from port (metrics are not public)")
        return self

    @property
    def effective_issuer(self) -> str:
        return self.issuer or f"https://localhost:{self.port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'jwtkeep.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once; every problem (a bad value, a missing, unreadable or malformed
    config file, an unknown key) is one readable ConfigurationError naming the setting.
    Values are never echoed: a rejected value may be a secret."""
    from pydantic import ValidationError  # noqa: PLC0415

    if config_file is not None:
        _check_config_file(config_file)
    try:
        return Settings(_config_file=config_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reason = exc if isinstance(exc, tomllib.TOMLDecodeError) else "not UTF-8"
        raise ConfigurationError(f"config file {config_file} is not valid TOML: {reason}") from None
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        raise ConfigurationError(f"invalid settings: {str(exc).split(' from source')[0]}") from None


def _check_config_file(config_file: Path) -> None:
    if not config_file.is_file():
        raise ConfigurationError(f"config file not found: {config_file}")
    try:
        config_file.read_bytes()  # opening is not enough: a read can fail on its own
    except OSError as exc:
        raise ConfigurationError(
            f"config file {config_file} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """`log_level (JWTKEEP_LOG_LEVEL): Input should be 'debug', ...`"""
    if not loc:
        return f"settings: {message}"
    name = ".".join(str(part) for part in loc)
    if str(loc[0]) in Settings.model_fields:
        return f"{name} ({ENV_PREFIX}{str(loc[0]).upper()}): {message}"
    return f"{name}: {message}"  # an unknown key in the config file ("Extra inputs ...")


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """`JWTKEEP_*` variables no setting reads (a typo is otherwise silently ignored), each
    with the closest valid name if there is one (difflib). Only names, never values."""
    known = {name.upper() for name in Settings.model_fields} | {CONFIG_ENV[len(ENV_PREFIX) :]}
    found = []
    for name in sorted(environ):
        suffix = name.upper().removeprefix(ENV_PREFIX)
        if name.upper().startswith(ENV_PREFIX) and suffix not in known:
            # Compare without the shared prefix, or every name looks close to every other.
            close = difflib.get_close_matches(suffix, sorted(known), n=1, cutoff=0.6)
            found.append((name, f"{ENV_PREFIX}{close[0]}" if close else None))
    return found
