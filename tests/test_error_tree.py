"""One error tree (CONVENTIONS "Errors"): every exception class jwtkeep defines, the core's
included, is a `JwtkeepError`, so each edge needs one handler for all of them (the CLI's
`handled_errors`, the server's exception handlers) and none can slip out as a 500 or a
traceback because an edge did not know its name."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType

import jwtkeep
from jwtkeep.errors import JwtkeepError, OAuthError, StoreUnavailable, TokenError

PACKAGE = Path(jwtkeep.__file__).resolve().parent

# Modules that do something when imported (run the CLI, run Alembic): never imported here.
NOT_IMPORTED = ("jwtkeep.__main__", "jwtkeep.cli.__main__", "jwtkeep.adapters.sql.migrations")

# Framework carriers, not errors of jwtkeep's own: each wraps or stands for a rendered
# response so that the framework passes it through its own machinery.
EXEMPT = {
    "jwtkeep.server.errors.PayloadTooLarge": (
        "a Starlette HTTPException on purpose: FastAPI's body reader lets only those through "
        "unchanged; rendered as 413 by server/errors.py"
    ),
    "jwtkeep.sdk.fastapi.JwtkeepHTTPException": (
        "the FastAPI adapter's HTTPException carrying an already rendered JwtkeepError"
    ),
}


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not any(name == skip or name.startswith(f"{skip}.") for skip in NOT_IMPORTED):
            names.append(name)
    return names


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    """The exception classes `module` itself defines (not the ones it imports)."""
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
    ]


def qualified(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def outside_the_tree(classes: list[type[BaseException]]) -> list[str]:
    return sorted(
        qualified(cls)
        for cls in classes
        if not issubclass(cls, JwtkeepError) and qualified(cls) not in EXEMPT
    )


def all_exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for name in module_names():
        found += exception_classes(importlib.import_module(name))
    return found


def test_every_exception_jwtkeep_defines_is_a_jwtkeep_error() -> None:
    classes = all_exception_classes()
    # The walk sees the core's errors, private ones included, so it cannot pass by
    # checking nothing.
    names = {qualified(cls) for cls in classes}
    assert {
        "jwtkeep.core.compact.MalformedToken",
        "jwtkeep.core.claims.ClaimError",
        "jwtkeep.core.jose.SignatureInvalid",
        "jwtkeep.core.access_token.TokenRejected",
        "jwtkeep.core.access_token.UnknownKeyId",
        "jwtkeep.core.sealing.SealError",
        "jwtkeep.core.inspector._NotAJwt",
        "jwtkeep.errors.InvalidValue",
    } <= names
    assert set(EXEMPT) <= names, "an exemption names a class that no longer exists"
    assert outside_the_tree(classes) == []


def test_the_check_catches_an_exception_outside_the_tree() -> None:
    class Stray(ValueError):
        pass

    class Inside(JwtkeepError):
        pass

    assert outside_the_tree([Stray, Inside]) == [qualified(Stray)]


def test_the_core_token_errors_are_one_family_apart_from_client_and_outage_errors() -> None:
    from jwtkeep.core.access_token import TokenRejected, UnknownKeyId  # noqa: PLC0415
    from jwtkeep.core.claims import ClaimError  # noqa: PLC0415
    from jwtkeep.core.compact import MalformedToken  # noqa: PLC0415
    from jwtkeep.core.jose import SignatureInvalid  # noqa: PLC0415

    for cls in (MalformedToken, ClaimError, SignatureInvalid, TokenRejected, UnknownKeyId):
        assert issubclass(cls, TokenError)
        # A reason for the audit log: never rendered to a client as it stands, never an
        # outage (an edge turns it into InvalidToken).
        assert not issubclass(cls, OAuthError | StoreUnavailable)
