"""A local, self-signed TLS certificate so `jwtkeep serve` is HTTPS from the first run.

The article: "always prefer HTTPS over HTTP to transmit JWT tokens" (RFC 6750 §5.3,
RFC 9700 §2: bearer tokens travel only over TLS). For production, set `JWTKEEP_TLS_CERT`
and `JWTKEEP_TLS_KEY` to a certificate from a real CA; this one is for loopback only.

The certificate: EC P-256, valid one year, names `localhost`, `127.0.0.1` and `::1`
(RFC 5280 §4.2.1.6 subjectAltName; clients ignore the CN, RFC 6125 §6.4.4), a leaf
(`CA:FALSE`) for server authentication. It lives in `<data>/tls/` (0700), the key file is
0600. It is created once and reused; a missing, unreadable or (nearly) expired one is
replaced. Files are written next to their final name and renamed, so a crash never
leaves half a certificate behind.

`server_context(cert, key)` is the one place the listener's TLS is configured (the
main listener and, off loopback, the metrics listener), after Mozilla's "intermediate"
server-side TLS profile (https://wiki.mozilla.org/Security/Server_Side_TLS, version 5.7)
and RFC 9325: TLS 1.2 or 1.3 only (§3.1; RFC 8996 retired 1.0 and 1.1), TLS 1.3 whenever
the client has it (the highest common version wins), and in TLS 1.2 only ephemeral ECDHE
key exchange with an AEAD cipher, AES-GCM or ChaCha20-Poly1305 (§4.1, §4.2): no CBC
suite (Lucky13 and padding oracles), no static RSA key transport (no forward secrecy),
and none of the profile's finite-field DHE suites (every client this serves has ECDHE).
TLS 1.3 protects records with AEAD only (RFC 8446 §5.2). No TLS compression (CRIME,
RFC 9325 §3.3), no renegotiation (§3.5).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERT_FILE",
    "KEY_FILE",
    "LOOPBACK_NAMES",
    "RENEW_BEFORE",
    "TLS12_CIPHERS",
    "TLS_DIR",
    "VALIDITY",
    "certificate_is_usable",
    "ensure_local_certificate",
    "local_certificate_paths",
    "server_context",
]

TLS_DIR = "tls"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=1)  # replace a certificate this close to its end
LOOPBACK_NAMES: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
)

# Mozilla intermediate v5.7, ECDHE only, in its order; OpenSSL names.
TLS12_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))  # fmt: skip


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """The server's TLS context: TLS 1.2+, ECDHE + AEAD only in 1.2 (see the docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)  # TLS 1.2 and below; 1.3 suites are all AEAD
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def local_certificate_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where the local certificate and its key live: `<data>/tls/cert.pem`, `key.pem`."""
    folder = data_dir / TLS_DIR
    return folder / CERT_FILE, folder / KEY_FILE


def ensure_local_certificate(
    data_dir: Path, *, now: datetime.datetime | None = None
) -> tuple[Path, Path]:
    """The local certificate and key paths, creating (or renewing) them if needed."""
    now = now or datetime.datetime.now(datetime.UTC)
    cert_path, key_path = local_certificate_paths(data_dir)
    if certificate_is_usable(cert_path, key_path, now):
        return cert_path, key_path
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(cert_path.parent, 0o700)  # mkdir's mode is masked by the umask
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _self_signed(key, now)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def certificate_is_usable(cert_path: Path, key_path: Path, now: datetime.datetime) -> bool:
    """True if both files exist, the certificate parses and is valid past `RENEW_BEFORE`."""
    if not key_path.is_file():
        return False
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    return (
        certificate.not_valid_before_utc <= now
        and certificate.not_valid_after_utc - RENEW_BEFORE > now
    )


_SERVER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
    encipher_only=False, decipher_only=False,
)  # fmt: skip


def _self_signed(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwtkeep local (localhost)")])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # small clock skew
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(list(LOOPBACK_NAMES)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_SERVER_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write to a sibling temp file created with `mode`, then rename over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)  # the umask may have narrowed it
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
