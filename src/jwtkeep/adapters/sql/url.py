"""Database URLs: pick the async driver, and never show a password.

`sqlite:///path` runs on the standard library's sqlite3 (`engine.py` runs each transaction
on a worker thread) and `postgresql://` (or Heroku-style `postgres://`) on asyncpg; a
PostgreSQL URL that already names a driver (`scheme+driver://`) is used as given. A URL is
only ever shown through `redact_url`, so a password cannot reach a log or an error message.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from jwtkeep.errors import ConfigurationError

__all__ = ["is_sqlite", "normalize_url", "parse_url", "redact_url"]

_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+aiosqlite": "sqlite+pysqlite",  # the driver of jwtkeep <= 0.1
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_BACKENDS = ("sqlite", "postgresql")


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL with jwtkeep's driver: `sqlite+pysqlite://`, `postgresql+asyncpg://`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError("a database URL must look like scheme://...")
    scheme = _DRIVERS.get(scheme.lower(), scheme)
    if scheme.partition("+")[0].lower() not in _BACKENDS:
        raise ConfigurationError("the database URL must start with sqlite:// or postgresql://")
    normalized = f"{scheme}://{rest}"
    parse_url(normalized)  # fail now, at start-up, on a malformed URL
    return normalized


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # SQLAlchemy's message would repeat the URL, password included.
        raise ConfigurationError("the database URL is malformed") from None


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`: the only form fit for a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed database URL>"


def is_sqlite(url: str) -> bool:
    return url.partition("://")[0].partition("+")[0].lower() == "sqlite"
