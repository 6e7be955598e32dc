"""Map database failures onto the jwtkeep error tree.

DESIGN "Contract: the token store": if the store cannot be reached, verification fails
closed. So every connection failure, timeout or `OSError` becomes `StoreUnavailable` (a
503, never a False that reads as "revoked", never a True). A unique-constraint violation
on a name becomes `Conflict`. Messages name the failure's type only: SQLAlchemy's own text
can carry the URL or statement parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from jwtkeep.errors import ConfigurationError, Conflict, StoreUnavailable

__all__ = [
    "conflict_on_duplicate",
    "is_sqlite_error",
    "raw_sqlite_errors",
    "translate_errors",
    "wrap_sqlite_error",
]

# PostgreSQL SQLSTATE classes that mean "the server cannot serve us right now":
# 08 connection exception, 40 transaction rollback (serialization failure, deadlock),
# 53 insufficient resources, 57 operator intervention (shutdown, query canceled),
# 58 system error, 3D invalid catalog name (the database is gone).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58", "3D"})


def _is_unavailable(error: exc.DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


def _schema_missing(error: exc.DBAPIError) -> bool:
    """42P01 undefined_table (PostgreSQL) or SQLite's "no such table": never migrated."""
    if getattr(error.orig, "sqlstate", None) == "42P01":
        return True
    return is_sqlite_error(error) and "no such table" in str(error.orig)


def is_sqlite_error(error: exc.DBAPIError) -> bool:
    return type(error.orig).__module__.startswith("sqlite3")


def _unavailable(error: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"database unavailable ({type(error).__name__})")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn unreachable-database errors into `StoreUnavailable`; let bugs through."""
    try:
        yield
    except exc.DBAPIError as error:
        if _schema_missing(error):
            # An operator's mistake, not an outage: say what to do.
            raise ConfigurationError(
                "the database has no jwtkeep tables: run `jwtkeep init` (it migrates)"
            ) from None
        if _is_unavailable(error):
            raise _unavailable(error) from error
        raise
    except (exc.TimeoutError, exc.DisconnectionError, OSError, TimeoutError) as error:
        # exc.TimeoutError: no pooled connection within the timeout; OSError: refused,
        # unreachable, DNS; TimeoutError: asyncpg's connect/command timeout.
        raise _unavailable(error) from error


def wrap_sqlite_error(error: sqlite3.Error, statement: str) -> exc.DBAPIError:
    """An error of a statement sent straight to `sqlite3`, wrapped as SQLAlchemy would
    (`OperationalError`, `IntegrityError`, ...), so the translations above apply."""
    wrapped = exc.DBAPIError.instance(statement, None, error, sqlite3.Error, hide_parameters=True)
    assert isinstance(wrapped, exc.DBAPIError)
    return wrapped


@contextmanager
def raw_sqlite_errors(statement: str) -> Iterator[None]:
    """`wrap_sqlite_error` for a block."""
    try:
        yield
    except sqlite3.Error as error:
        raise wrap_sqlite_error(error, statement) from error


@contextmanager
def conflict_on_duplicate(what: str | Conflict) -> Iterator[None]:
    """Turn a unique-constraint violation into `Conflict(what)` (or into `what` itself)."""
    try:
        yield
    except exc.IntegrityError:
        raise (what if isinstance(what, Conflict) else Conflict(what)) from None
