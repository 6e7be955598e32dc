"""The README's one-minute tour, pasted twice into bash against a real `jwtkeep serve`:
no traceback, no error from an app or user that already exists, and the status codes it
promises (200, 204, then 401 after the logout) both times. Standard error holds only the
password-grant warning the tour announces, once: when the first paste creates the app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jwtkeep.cli.apps import RISKY_GRANT_WARNING
from tests.support.serve_process import clean_environment, cli_ok, serving

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def tour(port: int) -> str:
    text = README.read_text()
    start = text.index("## A one-minute tour")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.DOTALL)
    assert block is not None
    script = block.group(1).replace(". .venv/bin/activate\n", "")  # PATH has the venv
    assert "https://127.0.0.1:8443" in script
    return script.replace("https://127.0.0.1:8443", f"https://127.0.0.1:{port}")


def test_the_readme_tour_can_be_pasted_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / ".jwtkeep"  # the tour's CACERT is .jwtkeep/tls/cert.pem
    env = clean_environment(data_dir)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cli_ok(env, "init")
    with serving(data_dir, env) as server:
        for expected_stderr in (RISKY_GRANT_WARNING + "\n", ""):
            ran = subprocess.run(
                ["bash", "-c", tour(server.port)], cwd=tmp_path, env=env,
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert "Traceback" not in ran.stdout + ran.stderr
            assert ran.stderr == expected_stderr, ran.stderr
            calls = ran.stdout.split("Header:")[0]  # before `token inspect`'s output
            statuses = re.findall(r"(?m)(?:^| )(\d{3})$", calls)  # curl -w, not an id
            assert statuses == ["200", "204", "401"], ran.stdout
            assert "Payload:" in ran.stdout  # token inspect ran on a real token
