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

The listener is `jwtkeep.server.listener` (header bounds, request deadlines, a TLS
handshake deadline; no WebSocket upgrades) with the TLS context of
`jwtkeep.server.tls.server_context`. With `JWTKEEP_METRICS_PORT` set, a second listener
on `JWTKEEP_METRICS_HOST` (loopback by default, plain HTTP there; anywhere else over the
same TLS as the main one) serves `/metrics`, in this process and on the same loop.
"""

from __future__ import annotations

import errno
import shlex
import shutil
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from jwtkeep.cli.common import (
    EXIT_PORT_IN_USE,
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
    Prometheus /metrics is served only on a second listener, when JWTKEEP_METRICS_PORT is
    set (JWTKEEP_METRICS_HOST, default 127.0.0.1). Listener limits: docs/operations.md.
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
        _check_metrics_listener(settings, tls)
        options = uvicorn_options(settings, tls)
    _check_port_free(settings.host, settings.port, "--port or JWTKEEP_PORT")
    if settings.metrics_port is not None:
        _check_port_free(settings.metrics_host, settings.metrics_port, "JWTKEEP_METRICS_PORT")
    state = ctx.find_object(CliState) or CliState()
    _run_uvicorn(settings, tls, options, banner(settings, tls, state.config_file))


def _check_port_free(host: str, port: int, setting: str) -> None:
    """One line and exit code 4 when another process listens there (not uvicorn's log
    line and a generic failure). A bind-and-close on the same address, with the
    SO_REUSEADDR the server itself uses, so a port in TIME_WAIT does not count."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # an unresolvable host: the server's own bind reports it
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    fail(f"port {port} on {host} is already in use: stop the other process "
                         f"or choose another port with {setting}", EXIT_PORT_IN_USE)  # fmt: skip
                return


async def _check_signing_key(runtime: Any) -> None:
    ring = await runtime.context.keys.reload()
    if not any(key.status.value == "active" for key in ring.keys):
        raise ConfigurationError("no active signing key: run `jwtkeep init`")


def _check_metrics_listener(settings: Settings, tls: tuple[str, str] | None) -> None:
    if settings.metrics_port is not None and tls is None and not is_loopback(settings.metrics_host):
        fail(f"JWTKEEP_METRICS_HOST={settings.metrics_host} is refused with --insecure-http: "
             "metrics off loopback are served over TLS only", EXIT_USAGE)  # fmt: skip


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
    `JWTKEEP_TRUSTED_PROXIES`, `jwtkeep.server.client_ip`). The protocol is the bounded
    one of `jwtkeep.server.listener`; TLS is `jwtkeep.server.tls.server_context`.
    """
    from jwtkeep.server import UVICORN_OPTIONS  # noqa: PLC0415 (the web stack: serve only)
    from jwtkeep.server.listener import ListenerLimits, protocol_class  # noqa: PLC0415

    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "workers": 1, "lifespan": "on",
        "access_log": False, "log_level": settings.log_level.lower(),
        "server_header": False, "proxy_headers": False, "ws": "none",
        "http": protocol_class(ListenerLimits.from_settings(settings)),
        "timeout_keep_alive": settings.keep_alive_timeout,
    }  # fmt: skip
    if tls is not None:
        options["ssl_context_factory"] = _tls_context_factory(tls)
    # uvicorn's loggers go through jwtkeep's redacting, locals-free handler (jwtkeep.logs).
    options["log_config"] = logging_config(settings.log_level, settings.log_format)
    options.update(UVICORN_OPTIONS)
    return options


def _tls_context_factory(tls: tuple[str, str]) -> Callable[..., ssl.SSLContext]:
    from jwtkeep.server.tls import server_context  # noqa: PLC0415

    return lambda _config, _default: server_context(*tls)


def _run_uvicorn(
    settings: Settings, tls: tuple[str, str] | None, options: dict[str, Any], text: str
) -> None:
    import uvicorn  # noqa: PLC0415 (only `serve` needs it)

    from jwtkeep.server import create_app_from_settings, create_metrics_app  # noqa: PLC0415
    from jwtkeep.server.listener import ListenerServer  # noqa: PLC0415

    class Server(ListenerServer):
        """Prints the banner once the socket is bound and the app has started."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                typer.echo(text)

    app = create_app_from_settings(settings)
    companions = []
    if settings.metrics_port is not None:
        metrics_options = {**options, "host": settings.metrics_host,
                           "port": settings.metrics_port, "lifespan": "off"}  # fmt: skip
        if not _metrics_over_tls(settings, tls):
            metrics_options.pop("ssl_context_factory", None)
        metrics_config = uvicorn.Config(create_metrics_app(app), **metrics_options)
        companions.append(ListenerServer(
            metrics_config, handshake_timeout=settings.tls_handshake_timeout))  # fmt: skip
    config = uvicorn.Config(app, **options)
    Server(config, handshake_timeout=settings.tls_handshake_timeout, companions=companions).run()


def _base_url(settings: Settings, scheme: str) -> str:
    return _url(scheme, settings.host, settings.port)


def _url(scheme: str, host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _metrics_over_tls(settings: Settings, tls: tuple[str, str] | None) -> bool:
    """Plain HTTP on loopback; anywhere else the main listener's TLS (or refused)."""
    return tls is not None and not is_loopback(settings.metrics_host)


def _activate_hint() -> list[str]:
    """`. .venv/bin/activate` when `jwtkeep` runs from a virtualenv that is not on PATH."""
    script = Path(sys.prefix) / "bin" / "jwtkeep"
    if sys.prefix == sys.base_prefix or shutil.which("jwtkeep") == str(script):
        return []
    return [f"  . {shlex.quote(str(Path(sys.prefix) / 'bin' / 'activate'))}"]


def _metrics_line(settings: Settings, tls: tuple[str, str] | None) -> list[str]:
    if settings.metrics_port is None:
        return []
    scheme = "https" if _metrics_over_tls(settings, tls) else "http"
    return [f"  metrics: {_url(scheme, settings.metrics_host, settings.metrics_port)}/metrics"]


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
        *_metrics_line(settings, tls),
        f"  TLS:     {tls[0] if tls else 'OFF (--insecure-http, loopback only)'}",
        f"  data:    {settings.data_dir.resolve()}",
        "",
        "Try it from another terminal, in this folder (or with the same JWTKEEP_DATA_DIR):",
        *_activate_hint(),
        f"  CLIENT_ID=$( ({cli} app show demo --json 2>/dev/null || {cli} app create demo "
        "--audience https://api.example --scope read --grant password --grant refresh_token "
        "--grant authorization_code --redirect-uri http://127.0.0.1:9999/callback --json) "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"client_id\"])')",
        f"  {cli} user show alice >/dev/null 2>&1 || printf '%s' 'correct horse battery "
        f"staple' | {cli} user create alice --password-stdin",
        f"  TOKEN=$(printf '%s' 'correct horse battery staple' | {curl} {url}/oauth/token "
        "-d grant_type=password -d client_id=$CLIENT_ID -d username=alice "
        "--data-urlencode password@- --data-urlencode 'scope=read account' "
        "| python3 -c 'import json,sys; r=json.load(sys.stdin); "
        'print(r.get("access_token") or sys.exit(r))\')',
        f"  {curl} -w ' %{{http_code}}\\n' {url}/userinfo -H \"Authorization: Bearer $TOKEN\""
        "   # 200",
        f"  {curl} -w '%{{http_code}}\\n' -X POST {url}/auth/logout "
        '-H "Authorization: Bearer $TOKEN"   # 204',
        f"  {curl} -w ' %{{http_code}}\\n' {url}/userinfo -H \"Authorization: Bearer $TOKEN\""
        "   # 401: logged out",
        "Or sign in in a browser (authorization code + PKCE): see the README's browser path;",
        f"  the authorization endpoint is {url}/oauth/authorize.",
        "",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)
