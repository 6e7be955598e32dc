"""The SDK installs little: importing it pulls in no server-only or framework module."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_ONLY = [
    "sqlalchemy", "aiosqlite", "asyncpg", "alembic", "argon2", "uvicorn", "typer",
    "jwtkeep.server", "jwtkeep.cli", "jwtkeep.adapters.sql",
]  # fmt: skip
FRAMEWORKS = ["fastapi", "starlette", "flask", "werkzeug"]


def loaded_after(*statements: str) -> list[list[str]]:
    """The modules loaded after each import statement, in one fresh interpreter."""
    lines = ["import sys, json", "snapshots = []"]
    for statement in statements:
        lines += [statement, "snapshots.append(sorted(sys.modules))"]
    lines.append("print(json.dumps(snapshots))")
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    snapshots: list[list[str]] = json.loads(result.stdout)
    return snapshots


def offending(modules: list[str], forbidden: list[str]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]


def test_sdk_and_flask_module_import_no_server_only_dependency() -> None:
    sdk, with_flask = loaded_after("import jwtkeep.sdk", "import jwtkeep.sdk.flask")
    assert "jwtkeep.sdk.asgi" in sdk
    assert offending(sdk, SERVER_ONLY + FRAMEWORKS) == []
    assert "flask" in with_flask
    assert offending(with_flask, [*SERVER_ONLY, "fastapi", "starlette"]) == []


def test_fastapi_module_imports_no_server_only_dependency() -> None:
    (with_fastapi,) = loaded_after("import jwtkeep.sdk.fastapi")
    assert "fastapi" in with_fastapi
    assert offending(with_fastapi, [*SERVER_ONLY, "flask"]) == []


# The SDK's public surface is checked strictly, against an explicit list, in
# tests/test_public_surface.py::test_the_sdk_surface_is_the_expected_list.


def test_the_logging_helper_imports_no_server_only_dependency() -> None:
    (with_logs,) = loaded_after("import jwtkeep.logs; jwtkeep.logs.configure_logging()")
    assert "structlog" in with_logs
    assert offending(with_logs, SERVER_ONLY + FRAMEWORKS) == []
