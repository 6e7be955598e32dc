"""CONVENTIONS "Public surface": what is public is listed, everything else is visibly private.

For every module under src/jwtkeep that is not private (no `_`-prefixed part in its dotted
name, `__init__` aside): it defines `__all__`; every name in `__all__` exists once the
module is imported; and every public name the module itself defines at top level (a
function, class or assignment not starting with `_`; imported names excluded) is listed.

Read from the source (ast), so a name defined under `if`/`try` at top level counts too,
and imported to check `__all__` against what really exists. Alembic's migration scripts
are not modules anyone imports (env.py runs only inside Alembic's context), so they are
left out.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import jwtkeep
import jwtkeep.sdk

SRC = Path(jwtkeep.__file__).resolve().parent
NOT_MODULES = ("adapters/sql/migrations/",)


def module_name(path: Path) -> str:
    parts = ("jwtkeep", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def public_modules() -> list[Path]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if any(relative.startswith(prefix) for prefix in NOT_MODULES):
            continue
        if any(part.startswith("_") for part in module_name(path).split(".")):
            continue
        found.append(path)
    return found


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Top-level statements, looking into `if`/`try` blocks (not into defs or classes)."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level(block)
            for handler in node.handlers:
                yield from _top_level(handler.body)
        else:
            yield node


def _targets(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _targets(element)


def _is_type_variable(value: ast.expr) -> bool:
    """`T = TypeVar("T")`: typing machinery for the module's own signatures, not a name
    anyone imports (so it need not be listed)."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name | ast.Attribute)
        and (value.func.id if isinstance(value.func, ast.Name) else value.func.attr)
        in ("TypeVar", "ParamSpec", "TypeVarTuple")
    )


def defined_names(tree: ast.Module) -> set[str]:
    """Names the module itself defines at top level (imports excluded)."""
    names: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and not _is_type_variable(node.value):
            for target in node.targets:
                names.update(_targets(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_targets(node.target))
    return names - {"__all__"}


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in _top_level(tree.body):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            names = ast.literal_eval(value)
            assert isinstance(names, list | tuple), "__all__ must be a literal list"
            return [str(name) for name in names]
    return None


MODULES = public_modules()


def test_the_walk_sees_the_package() -> None:
    # So the parametrized checks below cannot pass by checking nothing.
    names = {module_name(path) for path in MODULES}
    assert {"jwtkeep.sdk", "jwtkeep.core.compact", "jwtkeep.server.app"} <= names
    assert "jwtkeep.__main__" not in names
    assert len(MODULES) > 80


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_public_names_are_exactly_the_listed_ones(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    listed = declared_all(tree)
    assert listed is not None, f"{module_name(path)} has no __all__"
    assert len(listed) == len(set(listed)), f"a name is listed twice: {sorted(listed)}"
    module = importlib.import_module(module_name(path))
    missing = [name for name in listed if not hasattr(module, name)]
    assert missing == [], f"listed in __all__ but not defined: {missing}"
    unlisted = sorted(n for n in defined_names(tree) if not n.startswith("_") and n not in listed)
    assert unlisted == [], f"public but not in __all__ (list them or prefix _): {unlisted}"


def test_the_checker_catches_an_unlisted_name() -> None:
    tree = ast.parse("import os\n__all__ = ['a']\ndef a(): ...\ndef b(): ...\n_c = 1\nD = 2\n")
    assert declared_all(tree) == ["a"]
    assert {n for n in defined_names(tree) if not n.startswith("_")} - {"a"} == {"b", "D"}
    assert defined_names(ast.parse("T = TypeVar('T')\nU: int = 1\n")) == {"U"}


# The SDK's public surface, spelled out: a name added to or dropped from jwtkeep.sdk
# must change this list too (and docs/sdk.md with it).
SDK_SURFACE = [
    "AccessClaims",
    "AllowlistCheck",
    "EventStreamFeed",
    "InsufficientScope",
    "IntrospectionAllowlist",
    "InvalidRequest",
    "InvalidToken",
    "JwksKeySource",
    "JwtkeepMiddleware",
    "KeyRingSource",
    "MissingToken",
    "PathRule",
    "RequestEvent",
    "RequestHook",
    "RouteRule",
    "StoreAllowlist",
    "StoreUnavailable",
    "VerdictCache",
    "Verifier",
    "authorize",
    "log_request",
    "parse_route_rule",
    "parse_routes",
]


def test_the_sdk_surface_is_the_expected_list() -> None:
    assert sorted(jwtkeep.sdk.__all__) == sorted(SDK_SURFACE)
    assert [name for name in SDK_SURFACE if not hasattr(jwtkeep.sdk, name)] == []
    public = {name for name in vars(jwtkeep.sdk) if not name.startswith("_")}
    submodules = {name for name in public if name in {m.split(".")[-1] for m in _sdk_modules()}}
    assert sorted(public - submodules - set(SDK_SURFACE)) == []


def _sdk_modules() -> list[str]:
    return [module_name(path) for path in MODULES if module_name(path).startswith("jwtkeep.sdk.")]


def test_sdk_names_come_from_the_sdk_and_the_core() -> None:
    # CONVENTIONS "Public surface": never from a use-case module. (Type aliases such as
    # RequestHook have no module of their own and are skipped.)
    origins = {
        name: getattr(getattr(jwtkeep.sdk, name), "__module__", "") for name in jwtkeep.sdk.__all__
    }
    # jwtkeep.ports too: the ports are contracts, not use cases. AllowlistCheck and
    # KeyRingSource are what an API implements to plug in its own key source or
    # allowlist, and the use case TokenVerifier needs them, which may not import the SDK.
    allowed = ("jwtkeep.sdk", "jwtkeep.core", "jwtkeep.errors", "jwtkeep.ports")
    wrong = {
        name: origin
        for name, origin in origins.items()
        if origin.startswith("jwtkeep.") and not origin.startswith(allowed)
    }
    assert wrong == {}
