"""A CLI that never surprises: `--version`, a busy port, `--help` metavars, and the
audit trail's `--until` and `--follow`."""

from __future__ import annotations

import asyncio
import socket
import string
from collections.abc import Callable
from importlib import metadata
from typing import Any

import typer.main
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.cli.audit import AuditFilter, follow
from jwtkeep.cli.common import IdCommand
from jwtkeep.cli.main import app
from jwtkeep.ports import AuditEvent
from jwtkeep.runtime import Runtime
from tests.cli.support import Cli, one_json


def test_version(cli: Cli) -> None:
    result = cli.ok("--version")
    assert result.stdout == f"jwtkeep {metadata.version('jwtkeep')}\n"


def test_a_busy_port_is_one_line_naming_the_setting_and_exit_code_4(ready: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ready("serve", "--insecure-http", "--port", str(port))
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port or JWTKEEP_PORT" in result.stderr
    assert result.stdout == ""


def test_help_shows_ranges_and_readable_metavars(cli: Cli) -> None:
    rotate = cli.ok("app", "rotate-secret", "--help").stdout
    assert "--overlap SECONDS" in rotate
    assert "0<=x<=604800" in rotate
    assert "{APP}" in rotate
    assert "{SID}" in cli.ok("sessions", "revoke", "--help").stdout
    assert "--since TIME" in cli.ok("audit", "--help").stdout


def test_audit_until_and_bad_times(ready: Cli) -> None:
    ready.ok("user", "create", "alice", "--password-stdin", input="correct horse battery staple")
    assert one_json(ready.ok("audit", "--until", "2000-01-01T00:00:00Z", "--json")) == []
    until_now = one_json(ready.ok("audit", "--until", "0s", "--json", "--event", "user.created"))
    assert [e["event"] for e in until_now] == ["user.created"]
    bad = ready("audit", "--until", "yesterday")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --until 'yesterday'")


def test_follow_prints_the_backlog_then_new_events_in_order(ready: Cli) -> None:
    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(1000):  # a bound, not a timing: polls run every 10 ms
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("follow never printed the events")

    async def action(runtime: Runtime) -> list[str]:
        audit = runtime.database.audit
        for name in ("a.1", "b.1", "a.2"):
            await audit.record(AuditEvent(at=1.0, event=name))
        seen: list[str] = []
        tail = asyncio.create_task(follow(runtime, AuditFilter(events=("a.",)),
                                          lambda event: seen.append(event.event),
                                          backlog=10, interval=0.01))  # fmt: skip
        await until(lambda: len(seen) == 2)
        for name in ("a.3", "b.2", "a.4"):  # recorded while it follows, as a server would
            await audit.record(AuditEvent(at=2.0, event=name))
        await until(lambda: len(seen) == 4)
        tail.cancel()
        return seen

    assert ready.with_runtime(action) == ["a.1", "a.2", "a.3", "a.4"]


def _leaf_commands() -> list[tuple[str, Any]]:
    """Every `jwtkeep` command that runs (not a group), by its full name."""
    found: list[tuple[str, Any]] = []

    def walk(name: str, command: Any) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            found.append((name, command))
        for sub_name, sub in (subs or {}).items():
            walk(f"{name} {sub_name}", sub)

    walk("jwtkeep", typer.main.get_command(app))
    return found


def _has_argument(command: Any) -> bool:
    return any(p.param_type_name == "argument" for p in command.params)


ID_COMMANDS = [(n, c) for n, c in _leaf_commands() if isinstance(c, IdCommand)]
BASE64URL_ID = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=22,
                       max_size=22).map(lambda rest: "-" + rest[1:])  # fmt: skip


def test_every_command_with_an_id_or_name_argument_is_an_id_command() -> None:
    """Ids and names may start with `-`: every argument must be read as `IdCommand` does."""
    with_argument = {name for name, command in _leaf_commands() if _has_argument(command)}
    assert with_argument == {name for name, _ in ID_COMMANDS}
    assert {"jwtkeep sessions revoke", "jwtkeep user create", "jwtkeep app create"} <= with_argument


@given(word=BASE64URL_ID, before=st.booleans())
def test_an_id_that_starts_with_a_dash_is_always_the_argument(word: str, before: bool) -> None:
    """Click alone read `-xhq...` as the short options `-x -h -q` and showed the help."""
    for name, command in ID_COMMANDS:
        (argument,) = [p for p in command.params if p.param_type_name == "argument"]
        valued = [p for p in command.params if p.param_type_name == "option"
                  and (p.required or "--reason" in p.opts)]  # fmt: skip
        options = [part for p in valued for part in (p.opts[0], "-value")]
        args = [*options, word] if before else [word, *options]
        ctx = command.make_context(name, args)
        assert ctx.params[argument.name] == word, name
        assert all(ctx.params[p.name] == "-value" for p in valued), name
