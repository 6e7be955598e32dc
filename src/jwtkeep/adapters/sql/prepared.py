"""The hot statements, run on SQLite straight through `sqlite3`.

SQLAlchemy's `Connection.execute` costs about 25 microseconds a statement in Python
(execution context, parameter processing, events, result set-up), more than SQLite takes
to run a short statement. The statements of the hot paths (the allowlist check, refresh
rotation, session and user lookups, the audit insert) are SQLAlchemy Core statements
built once at import; on SQLite each is compiled once into its SQL text and a plan for
its parameters, and then sent to the connection's `sqlite3` driver directly, which keeps
it prepared (its statement cache). On PostgreSQL they run through `Connection.execute`
as every other statement does. Either way the caller's transaction is the one used.

Only a statement built once qualifies (the plan is kept by the statement's identity);
the helpers take the parameters as a dict, like `Connection.execute`.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Executable
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Insert

from jwtkeep.adapters.sql.errors import wrap_sqlite_error

__all__ = ["first", "rows", "run", "scalar"]

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class _Plan:
    statement: Executable  # kept alive, so its id is never reused while the plan is cached
    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    row: Callable[..., Any] | None  # a namedtuple of the result columns
    results: tuple[Callable[[Any], Any] | None, ...]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, constant, process in self.binds:
            value = params[name] if constant is _REQUIRED else constant
            out.append(value if process is None or value is None else process(value))
        return out

    def make_row(self, raw: tuple[Any, ...]) -> Any:
        assert self.row is not None
        if any(self.results):
            raw = tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(raw, self.results, strict=True)
            )
        return self.row(*raw)


_PLANS: dict[tuple[int, tuple[str, ...]], _Plan] = {}


def _plan(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> _Plan:
    key = (id(statement), tuple(params))
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    dialect = conn.dialect
    keys = list(params) if isinstance(statement, Insert) else None
    compiled: Any = cast(ClauseElement, statement).compile(dialect=dialect, column_keys=keys)
    binds = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if bind.expanding or bind.callable is not None:
            raise TypeError(f"{name}: not a plain bound parameter")
        constant = _REQUIRED if bind.required or name in params else bind.value
        binds.append((name, constant, compiled._bind_processors.get(name)))
    columns = compiled._result_columns
    row = namedtuple("Row", [c.keyname for c in columns], rename=True) if columns else None
    results = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
    plan = _PLANS[key] = _Plan(statement, compiled.string, tuple(binds), row, results)
    return plan


def _cursor(
    conn: Connection, statement: Executable, params: Mapping[str, Any]
) -> tuple[_Plan, Any]:
    plan = _plan(conn, statement, params)
    dbapi: Any = conn.connection.dbapi_connection
    try:  # (a `with` block costs microseconds on every statement of the hot path)
        return plan, dbapi.execute(plan.sql, plan.values(params))
    except sqlite3.Error as error:
        raise wrap_sqlite_error(error, plan.sql) from error


def rows(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
    """Every result row (attribute access by column name, as a SQLAlchemy `Row`)."""
    if conn.dialect.name != "sqlite":
        return list(conn.execute(statement, params).all())
    plan, cursor = _cursor(conn, statement, params)
    try:
        return [plan.make_row(raw) for raw in cursor.fetchall()]
    except sqlite3.Error as error:
        raise wrap_sqlite_error(error, plan.sql) from error


def first(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> Any | None:
    """The first result row, or None."""
    if conn.dialect.name != "sqlite":
        return conn.execute(statement, params).first()
    plan, cursor = _cursor(conn, statement, params)
    try:
        raw = cursor.fetchone()
    except sqlite3.Error as error:
        raise wrap_sqlite_error(error, plan.sql) from error
    return None if raw is None else plan.make_row(raw)


def scalar(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> Any:
    """The first column of the first row, or None."""
    row = first(conn, statement, params)
    return None if row is None else row[0]


def run(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> int:
    """A statement without a result; the number of rows it changed."""
    if conn.dialect.name != "sqlite":
        return int(conn.execute(statement, params).rowcount)
    _, cursor = _cursor(conn, statement, params)
    return int(cursor.rowcount)
