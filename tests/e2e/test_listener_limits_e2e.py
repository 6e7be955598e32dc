"""End to end: the listener's bounds, against a real `jwtkeep serve` over TLS.

The deadlines are set short (1.5 s) so the tests stay bounded; each test only asserts that
the server closed the connection (recv returns b'' or the connection is reset) before a
generous bound (`CLOSE_WITHIN`), never how fast. A client that waited out `CLOSE_WITHIN`
with the connection still open means the server did not enforce the limit.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.serve_process import (
    Server,
    clean_environment,
    cli_ok,
    serving,
)
from tests.support.services import free_port

pytestmark = pytest.mark.e2e

DEADLINE = 1.5  # every listener timeout, in seconds
CLOSE_WITHIN = 20.0  # generous: the server must have closed by then
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 32
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=31536000",
    "cache-control": "no-store",
    "connection": "close",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("listener") / "data"
    env = clean_environment(data_dir)
    cli_ok(env, "init")
    env.update(
        JWTKEEP_TLS_HANDSHAKE_TIMEOUT=str(DEADLINE), JWTKEEP_REQUEST_HEADER_TIMEOUT=str(DEADLINE),
        JWTKEEP_REQUEST_BODY_TIMEOUT=str(DEADLINE), JWTKEEP_KEEP_ALIVE_TIMEOUT="1",
        JWTKEEP_MAX_HEADER_BYTES=str(MAX_HEADER_BYTES), JWTKEEP_MAX_HEADERS=str(MAX_HEADERS),
        JWTKEEP_METRICS_PORT=str(free_port()),
    )  # fmt: skip
    with serving(data_dir, env) as served:
        yield served


def _context(server: Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def _tls(server: Server, context: ssl.SSLContext | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=CLOSE_WITHIN)
    return (context or _context(server)).wrap_socket(raw, server_hostname="localhost")


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after
    `CLOSE_WITHIN` (socket timeout)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, BrokenPipeError):
            return received
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; received {received[:200]!r}")
        if not chunk:
            return received
        received += chunk


def _head(response: bytes) -> tuple[int, dict[str, str]]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = dict(line.split(": ", 1) for line in head[1:])
    return status, {name.lower(): value for name, value in headers.items()}


def _request(*headers: str, path: str = "/healthz") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _assert_security_headers(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name


def test_headers_within_the_bounds_are_served(server: Server) -> None:
    with _tls(server) as sock:
        many = [f"X-Fill-{i}: {'v' * 100}" for i in range(MAX_HEADERS - 2)]
        sock.sendall(_request(*many, "Connection: close"))
        status, _ = _head(_read_until_closed(sock))
    assert status == 200


def test_an_oversized_header_is_431_and_closed(server: Server) -> None:
    with _tls(server) as sock:
        sock.sendall(_request(f"X-Big: {'a' * (4 * MAX_HEADER_BYTES)}"))
        response = _read_until_closed(sock)
    status, headers = _head(response)
    assert status == 431
    _assert_security_headers(headers)


def test_a_header_with_no_end_is_431_after_the_bound(server: Server) -> None:
    """Bytes never reaching the end of the headers are refused once the bound is used."""
    with _tls(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: ")
        try:
            for _ in range(64):
                sock.sendall(b"a" * 1024)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        status, _ = _head(_read_until_closed(sock))
    assert status == 431


def test_too_many_headers_is_431_and_closed(server: Server) -> None:
    with _tls(server) as sock:
        sock.sendall(_request(*(f"X-N{i}: 1" for i in range(MAX_HEADERS + 1))))
        status, headers = _head(_read_until_closed(sock))
    assert status == 431
    _assert_security_headers(headers)


def test_a_malformed_request_line_is_400_with_security_headers(server: Server) -> None:
    with _tls(server) as sock:
        sock.sendall(b"NOT A REQUEST LINE\r\n\r\n")
        status, headers = _head(_read_until_closed(sock))
    assert status == 400
    _assert_security_headers(headers)


def test_a_header_dribbled_byte_by_byte_is_cut_off(server: Server) -> None:
    """A byte every 0.3 s: each read is "recent", but the header deadline is a total."""
    request = _request(f"X-Slow: {'s' * 200}")  # 100 s at this pace
    with _tls(server) as sock:
        for position in range(len(request)):
            try:
                sock.sendall(request[position : position + 1])
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                break
            if select.select([sock], [], [], 0.3)[0]:
                break  # the server answered (408) or closed
        else:
            pytest.fail("the whole dribbled request was accepted")
        response = _read_until_closed(sock)
    assert b"HTTP/1.1 200" not in response


def test_a_stalled_body_is_closed(server: Server) -> None:
    with _tls(server) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\ngrant_type")  # fmt: skip
        response = _read_until_closed(sock)
    assert b"HTTP/1.1 200" not in response
    # The app saw the client go: an ordinary event, not a server failure with a traceback.
    deadline = time.monotonic() + CLOSE_WITHIN
    while b"request.client_disconnected" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"request.client_disconnected" in server.output()
    assert b"request.failed" not in server.output()


def test_an_idle_tls_connection_is_closed(server: Server) -> None:
    with _tls(server) as sock:
        response = _read_until_closed(sock)
    assert response == b"" or _head(response)[0] == 408


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with _tls(server) as sock:
        sock.sendall(_request())
        response = _read_until_closed(sock)
    status, headers = _head(response)
    assert status == 200
    assert headers.get("connection") != "close"  # kept alive, then closed when idle


def test_stray_crlfs_do_not_keep_an_idle_connection_open(server: Server) -> None:
    """CRLFs between requests start no request but cancel uvicorn's keep-alive timer."""
    with _tls(server) as sock:
        sock.sendall(_request())
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += sock.recv(65536)
        try:
            for _ in range(int(CLOSE_WITHIN / 0.3)):
                sock.sendall(b"\r\n")
                if select.select([sock], [], [], 0.3)[0]:
                    break  # the server answered (408) or closed
            else:
                pytest.fail("CRLFs kept the connection open")
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        assert b"HTTP/1.1 200" not in _read_until_closed(sock)


def test_a_tcp_connection_that_never_starts_tls_is_closed(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=CLOSE_WITHIN) as sock:
        assert _read_until_closed(sock) == b""


def test_tls12_with_only_cbc_suites_is_refused(server: Server) -> None:
    context = _context(server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(
        "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA"
    )
    # The server has no suite in common and ends the handshake (uvloop closes, no alert).
    with pytest.raises(ssl.SSLError, match="UNEXPECTED_EOF_WHILE_READING"):
        _tls(server, context).close()


def test_tls12_with_aead_and_tls13_are_served(server: Server) -> None:
    tls12 = _context(server)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    tls12.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    tls13 = _context(server)
    tls13.minimum_version = ssl.TLSVersion.TLSv1_3
    for context, version in ((tls12, "TLSv1.2"), (tls13, "TLSv1.3")):
        with _tls(server, context) as sock:
            assert sock.version() == version
            sock.sendall(_request("Connection: close"))
            assert _head(_read_until_closed(sock))[0] == 200


def test_tls13_is_chosen_when_the_client_has_it(server: Server) -> None:
    with _tls(server) as sock:
        assert sock.version() == "TLSv1.3"


def test_metrics_are_on_their_own_loopback_listener_only(server: Server) -> None:
    with server.client() as client:
        assert client.get("/metrics").status_code == 404
    metrics_port = server.env["JWTKEEP_METRICS_PORT"]
    assert f"metrics: http://127.0.0.1:{metrics_port}/metrics" in server.stdout.read_text()
    response = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
    assert response.status_code == 200
    healthz = 'jwtkeep_http_requests_total{method="GET",route="/healthz",status="200"}'
    assert healthz in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_server_still_answers_after_the_abuse(server: Server) -> None:
    with server.client() as client:
        assert client.get("/healthz").status_code == 200
