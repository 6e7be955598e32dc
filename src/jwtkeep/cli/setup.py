"""`jwtkeep init`: everything a first start needs, created once.

Idempotent: each step checks what is already there, so running it again changes nothing
(and says so). Steps: the data folder (0700), the master key file (0600) that seals the
private signing keys at rest unless `JWTKEEP_MASTER_KEY` is set, the database schema, the
first signing key, and a local TLS certificate unless `JWTKEEP_TLS_CERT`/`KEY` are set.
"""

from __future__ import annotations

import datetime
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from jwtkeep.cli.common import (
    JsonOption,
    emit_json,
    handled_errors,
    load_cli_settings,
    operator,
    run_with_runtime,
    sqlite_file,
)
from jwtkeep.errors import ConfigurationError
from jwtkeep.settings import Settings

if TYPE_CHECKING:
    from jwtkeep.runtime import Runtime

__all__ = ["configured_certificate", "init"]


@dataclass
class _Steps:
    done_steps: list[dict[str, str]] = field(default_factory=list)
    changed: bool = False

    def done(self, text: str, *, changed: bool) -> None:
        self.done_steps.append({"status": "created" if changed else "kept", "what": text})
        self.changed = self.changed or changed

    def checked(self, text: str) -> None:
        self.done_steps.append({"status": "ok", "what": text})


def init(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """Prepare the data folder, master key, database, first signing key and TLS cert.

    Safe to run again: what exists is kept, and it says "nothing changed".
    JSON: {"data_dir": ..., "changed": true|false, "steps": [{"status", "what"}]}.
    """
    with handled_errors():
        settings = load_cli_settings(ctx)
        steps = _Steps()
        _prepare_folder(settings, steps)
        run_with_runtime(settings, lambda runtime: _prepare_database(runtime, steps), migrate=True)
        _prepare_certificate(settings, steps)
    data_dir = str(settings.data_dir.resolve())
    if as_json:
        emit_json({"data_dir": data_dir, "changed": steps.changed, "steps": steps.done_steps})
        return
    typer.echo(f"jwtkeep data folder: {data_dir}")
    for step in steps.done_steps:
        typer.echo(f"  {step['status']:<8} {step['what']}")
    if steps.changed:
        typer.echo("Initialised. Next: `jwtkeep serve`.")
    else:
        typer.echo("Already initialised: nothing changed.")


def _prepare_folder(settings: Settings, steps: _Steps) -> None:
    from jwtkeep.runtime import MASTER_KEY_FILE, prepare_data_dir  # noqa: PLC0415

    folder_existed = settings.data_dir.is_dir()
    key_file = settings.data_dir / MASTER_KEY_FILE
    key_existed = key_file.is_file()
    database = sqlite_file(settings.effective_database_url)
    database_existed = database is None or database.is_file()
    prepare_data_dir(settings)
    mode = stat.S_IMODE(settings.data_dir.stat().st_mode)
    note = "" if mode & 0o077 == 0 else f" (WARNING: mode {mode:o}; `chmod 700` it)"
    steps.done(f"data folder (0700){note}", changed=not folder_existed)
    if settings.master_key is not None:
        steps.done("master key: from JWTKEEP_MASTER_KEY (no file written)", changed=False)
    else:
        steps.done(f"master key file {key_file.resolve()} (0600)", changed=not key_existed)
    if database is not None:
        steps.done(f"SQLite database {database}", changed=not database_existed)


async def _prepare_database(runtime: Runtime, steps: _Steps) -> None:
    steps.checked("database schema is at the newest version")
    kid = await runtime.context.keys.ensure_signing_key(actor=operator(None).actor)
    if kid is None:
        steps.done("signing key", changed=False)
    else:
        steps.done(f"signing key {kid} ({runtime.context.keys.alg})", changed=True)


def _prepare_certificate(settings: Settings, steps: _Steps) -> None:
    # Imported here: `jwtkeep.server` pulls in the whole web stack, which --help need not.
    from jwtkeep.server.tls import (  # noqa: PLC0415
        certificate_is_usable,
        ensure_local_certificate,
        local_certificate_paths,
    )

    configured = configured_certificate(settings)
    if configured is not None:
        steps.done(f"TLS certificate from JWTKEEP_TLS_CERT: {configured[0]}", changed=False)
        return
    cert, key = local_certificate_paths(settings.data_dir)
    usable = certificate_is_usable(cert, key, datetime.datetime.now(datetime.UTC))
    cert, key = ensure_local_certificate(settings.data_dir)
    steps.done(f"local TLS certificate {cert.resolve()} (localhost, 127.0.0.1, ::1)",
               changed=not usable)  # fmt: skip


def configured_certificate(settings: Settings) -> tuple[str, str] | None:
    """`JWTKEEP_TLS_CERT`/`KEY` when both are set and readable; None when neither is."""
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigurationError("set both JWTKEEP_TLS_CERT and JWTKEEP_TLS_KEY, or neither")
    for path in (cert, key):
        if not path.is_file():
            raise ConfigurationError(f"TLS file not found: {path}")
    return str(cert), str(key)
