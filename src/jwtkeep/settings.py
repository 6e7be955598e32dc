"""Settings, read once at the edge into one frozen object (CONVENTIONS "State").

Sources, highest first: `JWTKEEP_*` environment variables, then the TOML file given with
`--config FILE`, then defaults. Secure defaults: EdDSA, 300 s access tokens, HTTPS,
registration off, HS256 refused unless explicitly enabled with a strong secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jwtkeep.core.hmac_secret import parse_hmac_secret
from jwtkeep.core.hosts import is_loopback
from jwtkeep.errors import ConfigurationError

__all__ = ["DEFAULT_PORT", "MAX_ACCESS_TOKEN_TTL", "Alg", "Settings", "load_settings"]

MAX_ACCESS_TOKEN_TTL = 3600  # hard upper bound (the article: as short as possible)
DEFAULT_PORT = 8443
Alg = Literal["EdDSA", "ES256", "PS256", "RS256", "HS256"]


class Settings(BaseSettings):
    """Every setting jwtkeep reads. DESIGN.md lists the ones outside checks rely on."""

    model_config = SettingsConfigDict(env_prefix="JWTKEEP_", frozen=True, extra="forbid")

    data_dir: Path = Field(Path(".jwtkeep"), description="data folder (SQLite, keys, TLS)")
    issuer: str | None = Field(None, description="`iss` URL; default https://localhost:PORT")
    database_url: str | None = Field(None, description="default: SQLite in the data folder")
    token_store_url: str | None = Field(None, description="default: the database; redis://")
    access_token_ttl: int = Field(300, ge=30, le=MAX_ACCESS_TOKEN_TTL)
    signing_alg: Alg = "EdDSA"
    allow_hs256: bool = False
    hmac_secret: SecretStr | None = None
    master_key: SecretStr | None = Field(None, description="base64url of 32 random bytes")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    leeway: int = Field(30, ge=0, le=120)
    session_idle_timeout: int = Field(7 * 86400, ge=60)
    session_absolute_lifetime: int = Field(30 * 86400, ge=60)
    allow_registration: bool = False
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    store_pool_size: int = Field(50, ge=1, le=10_000)
    store_timeout: float = Field(0.25, gt=0, le=10)
    key_refresh_seconds: int = Field(30, ge=1)
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
    log_level: str = "info"
    # The listener (`jwtkeep.server.listener`): bounds that make slow or huge requests cheap.
    max_header_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    max_headers: int = Field(64, ge=8, le=1000)
    tls_handshake_timeout: float = Field(10.0, gt=0, le=300)
    request_header_timeout: float = Field(10.0, gt=0, le=300)
    request_body_timeout: float = Field(10.0, gt=0, le=300)
    keep_alive_timeout: int = Field(5, ge=1, le=300)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

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

    @field_validator("issuer")
    @classmethod
    def _issuer_is_https_url(cls, value: str | None) -> str | None:
        # RFC 8414 §2: the issuer is an https URL with no query or fragment.
        if value is None:
            return None
        parts = urlsplit(value)
        loopback_http = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if (parts.scheme != "https" and not loopback_http) or not parts.hostname:
            raise ValueError("issuer must be an https:// URL (http only on loopback)")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _hs256_needs_consent_and_secret(self) -> Settings:
        # RFC 8725 §3.5 / RFC 7518 §3.2: HMAC keys must be strong; and shared secrets
        # leak more easily (the article), so HS256 is never a silent default. The secret
        # is base64url of >= 32 random bytes, checked after decoding (core.hmac_secret).
        if self.signing_alg == "HS256":
            if not self.allow_hs256:
                raise ValueError("HS256 needs JWTKEEP_ALLOW_HS256=true")
            secret = self.hmac_secret.get_secret_value() if self.hmac_secret else ""
            try:
                parse_hmac_secret(secret)
            except ValueError as exc:
                raise ValueError(f"JWTKEEP_HMAC_SECRET: {exc}") from None
        if self.session_absolute_lifetime < self.session_idle_timeout:
            raise ValueError("session_absolute_lifetime must be >= session_idle_timeout")
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port (metrics are not public)")
        return self

    @property
    def effective_issuer(self) -> str:
        return self.issuer or f"https://localhost:{self.port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'jwtkeep.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once; turn validation errors into one readable ConfigurationError."""
    from pydantic import ValidationError  # noqa: PLC0415

    if config_file is not None and not config_file.is_file():
        raise ConfigurationError(f"config file not found: {config_file}")
    try:
        return Settings(_config_file=config_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None
