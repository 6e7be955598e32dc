"""The Lua scripts that make every multi-key step of the token store atomic.

CONVENTIONS "State": atomic steps are atomic in the store. Each script touches only keys
of one user (one hash tag, so one Cluster slot). The `.lua` files sit next to this module;
`common.lua` is prepended to each. The store runs them with EVALSHA and, on NOSCRIPT (a
restarted or failed-over server has an empty script cache), loads them with SCRIPT LOAD
and sends the same EVALSHA again: NOSCRIPT means it did not run, so that is always safe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["SCRIPT_NAMES", "LuaScript", "load_scripts"]

SCRIPT_NAMES = (
    "add_access",
    "remove_access",
    "start_session",
    "rotate_refresh",
    "end_session",
    "end_user_sessions",
    "list_sessions",
    "end_sessions_before",
    "raise_cutoff",
    "revoke_kid",
)


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: bytes
    sha: bytes  # SHA-1 hex digest, as EVALSHA wants it (not a security use)


@cache
def load_scripts() -> dict[str, LuaScript]:
    """Every script, `common.lua` first; read once, on the first store's creation."""
    folder = resources.files(__package__)
    common = folder.joinpath("common.lua").read_bytes()
    scripts = {}
    for name in SCRIPT_NAMES:
        source = common + b"\n" + folder.joinpath(f"{name}.lua").read_bytes()
        sha = hashlib.sha1(source, usedforsecurity=False).hexdigest().encode("ascii")
        scripts[name] = LuaScript(name, source, sha)
    return scripts
