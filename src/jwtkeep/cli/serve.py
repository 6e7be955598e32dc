"""`jwtkeep serve [--host H] [--port P] [--insecure-http]`: run the auth server.

HTTPS by default (the article: "always prefer HTTPS"; RFC 6750 §5.3: bearer tokens only
over TLS), with `JWTKEEP_TLS_CERT`/`KEY` or the local certificate `jwtkeep init` made
(created here if missing or expired). Plain HTTP only on a loopback address and only when
asked for with `--insecure-http`.

uvicorn runs in this process, one worker, with no `Server` header. Its access log stays
off: it would write every request line, and a client that wrongly puts a token in a URL
would get it written to the log (the server logs requests itself, without query strings).
`X-Forwarded-For` is believed only from `JWTKEEP_TRUSTED_PROXIES`, by the app itself
(uvicorn's own proxy-header handling stays off, so there is one rule, not two).
"""

from __future__ import annotations

import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from jwtkeep.cli.common import (
    EXIT_USAGE,
    CliState,
    fail,
    handled_errors,
    is_loopback,
    load_cli_settings,
    require_initialized,
    run_with_runtime,
)
from jwtkeep.cli.setup import configured_certificate
from jwtkeep.errors import ConfigurationError
from jwtkeep.logs import logging_config
from jwtkeep.settings import Settings

__all__ = ["banner", "serve", "uvicorn_options"]


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default 8443).", min=1, max=65535)
    ] = None,
    insecure_http: Annotated[
        bool,
        typer.Option("--insecure-http", help="Plain HTTP; only allowed on a loopback address."),
    ] = False,
) -> None:
    """Run the server (HTTPS with the local certificate unless JWTKEEP_TLS_CERT/KEY are set).

    Needs `jwtkeep init` first. Prints the URL, the issuer and copy-paste commands to try
    it: create an app and a user, get a token with curl, call /userinfo, log out.
    """
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    with handled_errors():
        settings = load_cli_settings(ctx, **overrides)
        if insecure_http and not is_loopback(settings.host):
            fail(f"--insecure-http is refused on {settings.host}: plain HTTP would expose "
                 "tokens on the network; use a loopback address or HTTPS", EXIT_USAGE)  # fmt: skip
        if insecure_http and settings.issuer is None:
            settings = load_cli_settings(ctx, **overrides, issuer=_base_url(settings, "http"))
        require_initialized(settings)
        run_with_runtime(settings, _check_signing_key)
        tls = None if insecure_http else _certificate(settings)
        options = uvicorn_options(settings, tls)
    state = ctx.find_object(CliState) or CliState()
    _run_uvicorn(settings, options, banner(settings, tls, state.config_file))


async def _check_signing_key(runtime: Any) -> None:
    ring = await runtime.context.keys.reload()
    if not any(key.status.value == "active" for key in ring.keys):
        raise ConfigurationError("no active signing key: run `jwtkeep init`")


def _certificate(settings: Settings) -> tuple[str, str]:
    configured = configured_certificate(settings)
    if configured is not None:
        return configured
    from jwtkeep.server.tls import ensure_local_certificate  # noqa: PLC0415

    if not is_loopback(settings.host):
        typer.echo(f"warning: the local certificate only names localhost, 127.0.0.1 and ::1; "
                   f"clients reaching {settings.host} by another name will refuse it. "
                   "Set JWTKEEP_TLS_CERT and JWTKEEP_TLS_KEY.", err=True)  # fmt: skip
    cert, key = ensure_local_certificate(settings.data_dir)
    return str(cert.resolve()), str(key.resolve())


def uvicorn_options(settings: Settings, tls: tuple[str, str] | None) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` (without the app).

    The server's own `UVICORN_OPTIONS` come last so they win: no `Server` header, and no
    `X-Forwarded-For` rewriting by uvicorn (the app believes it only from
    `JWTKEEP_TRUSTED_PROXIES`, `jwtkeep.server.client_ip`).
    """
    from jwtkeep.server import UVICORN_OPTIONS  # noqa: PLC0415 (the web stack: serve only)

    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "workers": 1, "lifespan": "on",
        "access_log": False, "log_level": settings.log_level.lower(),
        "server_header": False, "proxy_headers": False,
    }  # fmt: skip
    if tls is not None:
        options.update(ssl_certfile=tls[0], ssl_keyfile=tls[1])
    # uvicorn's loggers go through jwtkeep's redacting, locals-free handler (jwtkeep.logs).
    options["log_config"] = logging_config(settings.log_level, settings.log_format)
    options.update(UVICORN_OPTIONS)
    return options


def _run_uvicorn(settings: Settings, options: dict[str, Any], text: str) -> None:
    import uvicorn  # noqa: PLC0415 (only `serve` needs it)

    from jwtkeep.server import create_app_from_settings  # noqa: PLC0415

    class Server(uvicorn.Server):
        """Prints the banner once the socket is bound and the app has started."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                typer.echo(text)

    Server(uvicorn.Config(create_app_from_settings(settings), **options)).run()


def _base_url(settings: Settings, scheme: str) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.port}"


def _activate_hint() -> list[str]:
    """`. .venv/bin/activate` when `jwtkeep` runs from a virtualenv that is not on PATH."""
    script = Path(sys.prefix) / "bin" / "jwtkeep"
    if sys.prefix == sys.base_prefix or shutil.which("jwtkeep") == str(script):
        return []
    return [f"  . {shlex.quote(str(Path(sys.prefix) / 'bin' / 'activate'))}"]


def banner(settings: Settings, tls: tuple[str, str] | None, config_file: Path | None = None) -> str:
    """What a newcomer needs: the URL, the issuer, and commands to try the whole flow."""
    url = _base_url(settings, "https" if tls else "http")
    curl = "curl -sS"
    if tls is not None:
        curl += f" --cacert {shlex.quote(str(Path(tls[0]).resolve()))}"
    cli = "jwtkeep" + (f" --config {shlex.quote(str(config_file))}" if config_file else "")
    lines = [
        f"jwtkeep is listening on {url}",
        f"  issuer:  {settings.effective_issuer}",
        f"  JWKS:    {url}/.well-known/jwks.json",
        f"  TLS:     {tls[0] if tls else 'OFF (--insecure-http, loopback only)'}",
        f"  data:    {settings.data_dir.resolve()}",
        "",
        "Try it from another terminal, in this folder (or with the same JWTKEEP_DATA_DIR):",
        *_activate_hint(),
        f"  CLIENT_ID=$({cli} app create demo --audience https://api.example --scope read "
        "--json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"client_id\"])')",
        f"  printf '%s' 'correct horse battery staple' | {cli} user create alice --password-stdin",
        f"  TOKEN=$(printf '%s' 'correct horse battery staple' | {curl} {url}/oauth/token "
        "-d grant_type=password -d client_id=$CLIENT_ID -d username=alice "
        "--data-urlencode password@- | python3 -c 'import json,sys; "
        'print(json.load(sys.stdin)["access_token"])\')',
        f'  {curl} {url}/userinfo -H "Authorization: Bearer $TOKEN"',
        f'  {curl} -X POST {url}/auth/logout -H "Authorization: Bearer $TOKEN"',
        f'  {curl} {url}/userinfo -H "Authorization: Bearer $TOKEN"   # now 401: logged out',
        "",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)
