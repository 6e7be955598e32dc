"""Fixtures for the `jwtkeep` command line, run in-process with Typer's CliRunner.

Every test gets its own data folder (SQLite default) and fast argon2 parameters. An
initialised folder is made once per session by `jwtkeep init` and copied for each test
that needs one, so each test starts from the same real state without paying for `init`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.support import Cli, isolate_environment


@pytest.fixture(scope="session")
def initialised_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder `jwtkeep init` prepared, to be copied (never used in place)."""
    data_dir = tmp_path_factory.mktemp("cli-template") / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, data_dir)
        Cli(data_dir).ok("init")
    return data_dir


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A CLI on an empty, not yet initialised data folder."""
    data_dir = tmp_path / "data"
    isolate_environment(monkeypatch, data_dir)
    monkeypatch.chdir(tmp_path)
    return Cli(data_dir)


@pytest.fixture
def ready(cli: Cli, initialised_template: Path) -> Cli:
    """A CLI on an initialised data folder (a copy of the session template)."""
    shutil.copytree(initialised_template, cli.data_dir)
    return cli
