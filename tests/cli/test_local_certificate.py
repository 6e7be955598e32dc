"""The local TLS certificate `jwtkeep init` and `jwtkeep serve` use (jwtkeep.server.tls)."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from jwtkeep.server.tls import ensure_local_certificate

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def load(cert: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert.read_bytes())


def test_a_p256_certificate_for_loopback_names(tmp_path: Path) -> None:
    cert_path, key_path = ensure_local_certificate(tmp_path, now=NOW)
    cert = load(cert_path)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=365) <= validity <= datetime.timedelta(days=366)
    key = load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == public.public_numbers()


def test_files_are_private(tmp_path: Path) -> None:
    cert_path, key_path = ensure_local_certificate(tmp_path, now=NOW)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert cert_path.parent == tmp_path / "tls"
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_created_once_then_reused(tmp_path: Path) -> None:
    cert_path, key_path = ensure_local_certificate(tmp_path, now=NOW)
    before = cert_path.read_bytes(), key_path.read_bytes()
    later = NOW + datetime.timedelta(days=300)
    assert ensure_local_certificate(tmp_path, now=later) == (cert_path, key_path)
    assert (cert_path.read_bytes(), key_path.read_bytes()) == before


def test_replaced_when_expired_or_broken(tmp_path: Path) -> None:
    cert_path, key_path = ensure_local_certificate(tmp_path, now=NOW)
    first = cert_path.read_bytes()
    expired = NOW + datetime.timedelta(days=400)
    ensure_local_certificate(tmp_path, now=expired)
    renewed = load(cert_path)
    assert cert_path.read_bytes() != first
    assert renewed.not_valid_after_utc > expired + datetime.timedelta(days=364)
    key_path.unlink()
    ensure_local_certificate(tmp_path, now=expired)
    assert key_path.is_file()
    assert load(cert_path).serial_number != renewed.serial_number
