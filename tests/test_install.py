"""The install contract (CONVENTIONS "Shape": an API that only verifies tokens installs
little): `pip install jwtkeep` without extras, into a fresh venv, from this checkout.

It builds the wheel and installs it from the configured package index (no other network),
so it takes about a minute; it is marked `install` (deselect with `-m "not install"`).
The allow-list is explicit: a new base dependency must be added here on purpose, and
the budget is at most 15 distributions and under 30 MB on disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What `pip install jwtkeep` may bring (normalized names): the SDK and the core need
# joserfc (JOSE), cryptography (Ed25519, AES-GCM), httpx (JWKS, introspection) and structlog.
ALLOWED = {
    "jwtkeep",
    "joserfc",
    "cryptography",
    "cffi",  # cryptography's
    "pycparser",  # cffi's
    "httpx",
    "httpcore",  # httpx's
    "h11",  # httpcore's
    "anyio",  # httpx's
    "idna",  # httpx's, anyio's
    "certifi",  # httpx's
    "sniffio",  # older anyio's
    "typing-extensions",  # anyio's, on Python < 3.13
    "structlog",
}
MAX_DISTRIBUTIONS = 15
MAX_BYTES = 30 * 1024 * 1024
# Server-only modules: none may be imported by the SDK, nor be installed at all.
SERVER_MODULES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "argon2",
                  "typer", "click", "rich", "pydantic", "zxcvbn", "jwtkeep.server")  # fmt: skip

INVENTORY = """
import json, sys, importlib.metadata as md
from pathlib import Path
dists = {}
for dist in md.distributions():
    name = dist.metadata["Name"].lower().replace("_", "-")
    size = 0
    for file in dist.files or ():
        path = Path(dist.locate_file(file))
        if path.is_file():
            size += path.stat().st_size
    dists[name] = size
json.dump(dists, sys.stdout)
"""
SDK_IMPORT = """
import json, sys
import jwtkeep.sdk
json.dump(sorted(sys.modules), sys.stdout)
"""
# A JWT without exp (a HIGH pitfall at the default --fail-on would exit 1; --fail-on never).
TOKEN = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no pip of its own) with `pip install <this checkout>`, no extras."""
    target = tmp_path_factory.mktemp("base-install") / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return target


def run(base_venv: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(base_venv / "bin" / args[0]), *args[1:]],
        input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.install
def test_the_base_install_is_the_allow_list_and_small(base_venv: Path) -> None:
    result = run(base_venv, "python", "-c", INVENTORY)
    assert result.returncode == 0, result.stderr
    installed: dict[str, int] = json.loads(result.stdout)
    assert set(installed) <= ALLOWED, f"not on the allow-list: {set(installed) - ALLOWED}"
    assert len(installed) <= MAX_DISTRIBUTIONS, sorted(installed)
    total = sum(installed.values())
    assert total < MAX_BYTES, f"{total / 2**20:.1f} MB: {installed}"


@pytest.mark.install
def test_the_sdk_imports_without_the_server(base_venv: Path) -> None:
    result = run(base_venv, "python", "-c", SDK_IMPORT)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "jwtkeep.sdk" in loaded
    assert not {m for m in loaded if m.startswith(SERVER_MODULES)}


@pytest.mark.install
def test_token_inspect_runs_on_the_base_install(base_venv: Path) -> None:
    result = run(base_venv, "jwtkeep", "token", "inspect", "-", "--fail-on", "never", stdin=TOKEN)
    assert result.returncode == 0, result.stderr
    assert "NOT checked" in result.stdout
    as_json = run(base_venv, "jwtkeep", "token", "inspect", TOKEN, "--json")
    assert as_json.returncode == 1  # no exp: a HIGH pitfall
    report = json.loads(as_json.stdout)
    assert report["jwt"] is True
    assert "no-exp" in {pitfall["code"] for pitfall in report["pitfalls"]}


@pytest.mark.install
def test_version_and_logs_work_on_the_base_install(base_venv: Path) -> None:
    version = run(base_venv, "jwtkeep", "--version")
    assert (version.returncode, version.stderr) == (0, "")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert version.stdout == f"jwtkeep {project['version']}\n"
    logs = run(base_venv, "python", "-c", "import jwtkeep.logs")
    assert logs.returncode == 0, logs.stderr


@pytest.mark.install
@pytest.mark.parametrize("command", [("serve",), ("init",), ("user", "list")])
def test_a_server_command_names_the_extra_in_one_line(
    base_venv: Path, command: tuple[str, ...]
) -> None:
    result = run(base_venv, "jwtkeep", *command)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install 'jwtkeep[server]'" in lines[0]
    assert f"`jwtkeep {command[0]}`" in lines[0]
