"""Shared rules for tests that need a real server process (Redis, PostgreSQL).

Where the server binary is missing on a developer's machine the test is skipped with a
loud reason; in CI (`CI=true`) a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

__all__ = ["free_port", "in_ci", "service_missing"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str) -> NoReturn:
    """Fail in CI, skip loudly elsewhere. Never returns."""
    message = f"{what} is not available: install it (see README 'Running the tests')"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(f"SKIPPED, NOT TESTED: {message}")
    raise AssertionError("unreachable")  # pytest.skip raises


def free_port() -> int:
    """A free TCP port on loopback (tests only ever bind 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
