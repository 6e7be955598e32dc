"""Logging for every jwtkeep process, configured once at the edge (CONVENTIONS "Logging").

    from jwtkeep.logs import configure_logging
    configure_logging("info", "json")   # or "console"; None: json unless stderr is a TTY

`jwtkeep serve` and every CLI command call it with `JWTKEEP_LOG_LEVEL` and
`JWTKEEP_LOG_FORMAT`; `logging_config()` is the same configuration as a `dictConfig`, which
`serve` hands to uvicorn as `log_config` so uvicorn's own loggers go the same way. An
application using the SDK may call `configure_logging` itself (docs/sdk.md).

structlog events and stdlib records (uvicorn, libraries) end in one handler on standard
error, through one processor chain:

- An exception is rendered as type, message and stack by `traceback` (structlog's
  `format_exc_info`): never frame locals, no rich/pretty printer. Locals are how a request's
  scope (its `Authorization` header) and body (a password) once reached the log.
- `redact_event` runs last before the renderer, on every event, through nested dicts,
  lists and strings, the exception text included. It removes anything shaped like a
  compact JWS/JWE (RFC 7515 §7.1 / RFC 7516 §7.1: base64url segments, the header always
  `eyJ...`), jwtkeep refresh tokens (`jkrt_`) and client secrets (`jkcs_`), HTTP
  credentials (RFC 9110 §11.6.2 `Authorization`, RFC 7617 Basic, RFC 6750 Bearer),
  argon2 hashes, and the value of any key named like a password, secret, token, cookie,
  authorization or code verifier. OWASP Logging Cheat Sheet ("Data to exclude"): session
  identifiers, access tokens, passwords never go to a log.
- The same walk caps sizes: long strings are cut (the stack keeps its head and its tail,
  where the exception is), long lists and dicts are shortened, so one failed request
  writes a few KB at most (a log flood is a disk-fill).

This module needs only structlog and the standard library, so the SDK can use it.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, get_args

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from jwtkeep.errors import ConfigurationError

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MAX_DEPTH",
    "MAX_EXCEPTION_CHARS",
    "MAX_ITEMS",
    "MAX_KEY_CHARS",
    "MAX_STRING_CHARS",
    "REDACTED",
    "LogFormat",
    "LogLevel",
    "configure_logging",
    "logging_config",
    "redact",
    "redact_event",
    "redact_text",
    "warn_unknown_variables",
]

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["json", "console"]
LOG_LEVELS: Final[tuple[str, ...]] = get_args(LogLevel)
LOG_FORMATS: Final[tuple[str, ...]] = get_args(LogFormat)
REDACTED: Final = "[REDACTED]"

MAX_STRING_CHARS: Final = 1024
MAX_EXCEPTION_CHARS: Final = 4096  # head and tail of the stack; the tail names the error
MAX_ITEMS: Final = 32
MAX_DEPTH: Final = 6
MAX_KEY_CHARS: Final = 64
_EXCEPTION_KEYS: Final = frozenset({"exception", "stack"})
# Libraries that log statement arguments or raw I/O at debug/info level.
_QUIET_LIBRARIES: Final = ("alembic", "aiosqlite", "asyncpg", "sqlalchemy", "httpcore", "multipart",
                           "python_multipart", "hpack")  # fmt: skip

_SENSITIVE = (
    r"passw|passphrase|secret|token|authori[sz]ation|cookie|code_verifier|credential"
    r"|api[-_]?key|private[-_]?key|master[-_]?key"
)
_SENSITIVE_KEY = re.compile(_SENSITIVE, re.IGNORECASE)
# Every pattern runs in linear time (possessive quantifiers, and lookbehinds so a match
# starts only at the beginning of a run): log text may come from an attacker.
_KEY = rf"(?<![\w-])(?=[\w-]*?(?:{_SENSITIVE}))[\w-]++"
_QUOTED = r"\"(?:[^\"\\]|\\.)*+\"|'(?:[^'\\]|\\.)*+'"
_TEXT_PATTERNS: Final = (
    # Compact JWS (3 segments) / JWE (5): the protected header is JSON, so base64url `eyJ`.
    (re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*+(?:\.[A-Za-z0-9_-]*+){2,4}"), REDACTED),
    # jwtkeep's own prefixed secrets (refresh tokens `jkrt_<sid>.<secret>`, `jkcs_...`).
    (re.compile(r"(?<![A-Za-z0-9_.-])jk(?:rt|cs)_[A-Za-z0-9_.-]*+"), REDACTED),
    (re.compile(r"(?<![^\s'\"=:,;(\[{])\$argon2(?:id|i|d)\$[^\s'\",;]*+"), REDACTED),
    # RFC 7235 §2.1 credentials: a scheme, then token68 (or auth-params up to the line end).
    (
        re.compile(r"\b(basic|bearer|digest|dpop|negotiate|ntlm)(\s++)[^\s'\",;]++", re.I),
        rf"\1\2{REDACTED}",
    ),
    # ('authorization', 'value') pairs, as in a repr of ASGI headers.
    (re.compile(rf"((['\"]){_KEY}\2\s*+,\s*+b?)(?:{_QUOTED})", re.I), rf"\1'{REDACTED}'"),
    # key=value, key: value, "key": "value" (forms, query strings, headers, reprs, JSON).
    (
        re.compile(rf"({_KEY}['\"]?\s*+[:=]\s*+b?)(?:{_QUOTED}|[^\s&,;()\[\]{{}}]++)", re.I),
        rf"\1{REDACTED}",
    ),
)


def redact_text(text: str) -> str:
    """`text` with every secret-shaped part replaced by `[REDACTED]`."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]} ...[{len(text) - limit} chars cut]... {text[-tail:]}"


def redact(value: object, *, limit: int = MAX_STRING_CHARS, depth: int = 0) -> object:
    """A JSON-ready copy of `value`: secrets removed (then sizes capped), recursively."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DEPTH:
        return "[...]"
    if isinstance(value, Mapping):
        return _redact_mapping(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact(item, depth=depth + 1) for item in list(value)[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"[{len(value) - MAX_ITEMS} more]")
        return items
    text = value if isinstance(value, str) else repr(value)
    # Redact before cutting: a cut could leave a secret too short for its pattern.
    return _cut(redact_text(text), limit)


def _redact_mapping(value: Mapping[Any, Any], depth: int) -> dict[str, object]:
    clean: dict[str, object] = {}
    for index, (key, item) in enumerate(value.items()):
        if index == MAX_ITEMS:
            clean["[more]"] = f"{len(value) - MAX_ITEMS} more keys"
            break
        name = _cut(redact_text(str(key)), MAX_KEY_CHARS)
        if _SENSITIVE_KEY.search(name):
            clean[name] = REDACTED
        else:
            limit = MAX_EXCEPTION_CHARS if name in _EXCEPTION_KEYS else MAX_STRING_CHARS
            clean[name] = redact(item, limit=limit, depth=depth + 1)
    return clean


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the last one before rendering (see the module docstring)."""
    redacted = redact(event_dict)
    assert isinstance(redacted, dict)
    return redacted


def _renderer(log_format: LogFormat) -> Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
    )


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is now (not the one at configuration time)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 (a log line must never crash the caller)
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (stdlib name)
        # The stdlib default prints a traceback with the record's message and arguments.
        with contextlib.suppress(Exception):  # nowhere left to report it
            sys.stderr.write(f"jwtkeep: could not write a log event ({record.name})\n")


def _pre_chain() -> list[Processor]:
    """What both structlog events and stdlib records get before the formatter."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _checked(level: str, log_format: str | None) -> tuple[str, LogFormat]:
    level = level.lower()
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"log level must be one of {', '.join(LOG_LEVELS)}: {level!r}")
    if log_format is None:
        log_format = "console" if sys.stderr.isatty() else "json"
    log_format = log_format.lower()
    if log_format == "json":
        return level, "json"
    if log_format == "console":
        return level, "console"
    raise ConfigurationError(f"log format must be one of {', '.join(LOG_FORMATS)}")


def logging_config(level: str = "info", log_format: str | None = None) -> dict[str, Any]:
    """The stdlib `dictConfig` (also uvicorn's `log_config`): one redacting handler on
    the root logger; uvicorn's loggers propagate to it; chatty libraries at WARNING."""
    level, log_format = _checked(level, log_format)
    number = logging.getLevelName(level.upper())
    quiet = logging.getLevelName(max(number, logging.WARNING))
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _pre_chain(),
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # traceback.format_exception: no locals
            redact_event,
            _renderer(log_format),
        ],
    }
    inherit = {"level": level.upper(), "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"jwtkeep": formatter},
        "handlers": {"jwtkeep": {"()": _StderrHandler, "formatter": "jwtkeep"}},
        "root": {"level": level.upper(), "handlers": ["jwtkeep"]},
        "loggers": {
            **{name: dict(inherit) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
            **{name: {"level": quiet} for name in _QUIET_LIBRARIES},
        },
    }


def configure_logging(level: str = "info", log_format: str | None = None) -> None:
    """Configure structlog and the stdlib root logger for this process (idempotent).

    `level`: debug, info, warning, error or critical (any case). `log_format`: `json`
    (one JSON object a line) or `console`; None picks json unless stderr is a terminal.
    Raises `ConfigurationError` for anything else."""
    logging.config.dictConfig(logging_config(level, log_format))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_pre_chain(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def warn_unknown_variables(found: Iterable[tuple[str, str | None]]) -> None:
    """One warning per unknown `JWTKEEP_*` variable (`settings.unknown_variables`): its
    name and the closest valid one, never its value."""
    log = structlog.get_logger("jwtkeep.settings")
    for name, closest in found:
        log.warning("settings.unknown_variable", variable=name, did_you_mean=closest)
