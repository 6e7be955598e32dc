"""`jwtkeep keys rotate | import | reseal` (issue 9), against a real data folder: the next
key is published before it signs, a key brought from outside is checked against the
signing algorithm, the master key can be changed without downtime, and every key
operation is in the audit trail. Exit codes as docs/cli.md lists them."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from jwtkeep.ports import AuditEvent
from jwtkeep.runtime import MASTER_KEY_FILE, Runtime
from tests.cli.support import PASSWORD, Cli, login, one_json, verifies


def statuses(cli: Cli) -> dict[str, str]:
    return {k["kid"]: k["status"] for k in one_json(cli.ok("keys", "list", "--json"))}


def signing(cli: Cli) -> str:
    (kid,) = [kid for kid, status in statuses(cli).items() if status == "active"]
    return kid


def jwks_kids(cli: Cli) -> set[str]:
    async def action(runtime: Runtime) -> set[str]:
        return {k["kid"] for k in (await runtime.context.keys.reload()).jwks()["keys"]}

    return cli.with_runtime(action)


def key_events(cli: Cli) -> list[AuditEvent]:
    async def action(runtime: Runtime) -> list[AuditEvent]:
        return await runtime.context.audit.query(limit=100)

    return [e for e in cli.with_runtime(action) if e.event.startswith(("key.", "keys."))]


def pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


# --- rotate ---------------------------------------------------------------------------


def test_rotate_publishes_the_next_key_before_it_signs(ready: Cli) -> None:
    # Before issue 9 the new key signed at once, unknown to every API's cached JWKS.
    old = signing(ready)
    rotated = one_json(ready.ok("keys", "rotate", "--reason", "quarterly", "--json"))
    new = rotated["kid"]
    assert statuses(ready) == {old: "active", new: "next"}
    assert jwks_kids(ready) == {old, new}
    listed = {k["kid"]: k for k in one_json(ready.ok("keys", "list", "--json"))}
    assert listed[new]["signs_from"] == rotated["signs_from"] > listed[old]["signs_from"]
    assert "SIGNS FROM" in ready.ok("keys", "list").stdout

    again = one_json(ready.ok("keys", "rotate", "--json"))
    assert again == rotated  # the published next key is kept: no second rotation
    refused = ready("keys", "retire", old)
    assert refused.exit_code == 1
    assert "the only key that signs; run `jwtkeep keys rotate --now` first" in refused.stderr

    ready.ok("keys", "rotate", "--now")  # promotes the published key, makes no new one
    assert statuses(ready) == {old: "retiring", new: "active"}
    rotations = [e for e in key_events(ready) if e.event == "key.rotated"]
    assert [e.detail["kid"] for e in rotations] == [new, new]  # newest first
    assert rotations[-1].reason == "quarterly"
    assert str(rotations[-1].actor).startswith("cli")


# --- import ---------------------------------------------------------------------------


def test_import_an_ed25519_key_as_the_next_key(ready: Cli) -> None:
    old = signing(ready)
    key = ed25519.Ed25519PrivateKey.generate()
    result = ready("keys", "import", "--pem-stdin", "--json", input=pem(key))
    assert result.exit_code == 0, result.output
    kid = one_json(result)["kid"]
    assert statuses(ready) == {old: "active", kid: "next"}
    assert b"PRIVATE" not in result.stdout_bytes + result.stderr_bytes
    (event,) = [e for e in key_events(ready) if e.event == "key.imported"]
    assert event.detail["kid"] == kid
    raw = (ready.data_dir / "jwtkeep.db").read_bytes()
    private = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())  # fmt: skip
    assert base64.urlsafe_b64encode(private).rstrip(b"=") not in raw  # sealed at rest


def test_import_with_activate_signs_at_once(ready: Cli) -> None:
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "aud", "--json"))
    ready.ok("user", "create", "alice", "--password-stdin", input=PASSWORD)
    before = login(ready, client_id["client_id"], "alice")
    kid = one_json(ready.ok("keys", "import", "--pem-stdin", "--activate", "--json",
                            input=pem(ed25519.Ed25519PrivateKey.generate())))["kid"]  # fmt: skip
    assert signing(ready) == kid
    assert verifies(ready, before)  # the old key still verifies its tokens
    assert verifies(ready, login(ready, client_id["client_id"], "alice"))


def test_import_an_rsa_key_for_rs256(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_SIGNING_ALG", "RS256")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = one_json(ready.ok("keys", "import", "--pem-stdin", "--json", input=pem(key)))["kid"]
    (jwk,) = [k for k in one_json(ready.ok("keys", "list", "--json")) if k["kid"] == kid]
    assert jwk["alg"] == "RS256"


@pytest.mark.parametrize(
    ("alg", "key", "message"),
    [
        ("EdDSA", ec.generate_private_key(ec.SECP256R1()), "an EC secp256r1 key cannot sign EdDSA"),
        ("ES256", ec.generate_private_key(ec.SECP384R1()), "ES256 needs a P-256 key"),
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024),
         "RSA key of 1024 bits is too weak: at least 2048 bits"),
        ("EdDSA", rsa.generate_private_key(public_exponent=65537, key_size=2048),
         "an RSA key cannot sign EdDSA"),
    ],
)  # fmt: skip
def test_import_refuses_a_key_that_does_not_fit(
    ready: Cli, monkeypatch: pytest.MonkeyPatch, alg: str, key: PrivateKeyTypes, message: str
) -> None:
    monkeypatch.setenv("JWTKEEP_SIGNING_ALG", alg)
    before = statuses(ready)
    result = ready("keys", "import", "--pem-stdin", input=pem(key))
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert b"PRIVATE" not in result.stderr_bytes
    assert statuses(ready) == before


def test_import_refuses_what_is_not_a_private_pem(ready: Cli) -> None:
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for text in (b"not a key", public):
        result = ready("keys", "import", "--pem-stdin", input=text)
        assert result.exit_code == 1
        assert "not an unencrypted PEM private key" in result.stderr
    missing = ready("keys", "import", input=b"")
    assert missing.exit_code == 2
    assert "--pem-stdin" in missing.stderr


# --- reseal ---------------------------------------------------------------------------


def new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def test_reseal_switches_the_master_key_without_downtime(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "aud", "--json"))
    ready.ok("user", "create", "alice", "--password-stdin", input=PASSWORD)
    token = login(ready, client_id["client_id"], "alice")
    old = (ready.data_dir / MASTER_KEY_FILE).read_text()
    new = new_master_key()
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", new)
    assert ready("keys", "list").exit_code == 2  # the new key alone opens nothing yet

    monkeypatch.setenv("JWTKEEP_PREVIOUS_MASTER_KEY", old)  # the switch: both accepted
    assert verifies(ready, token)
    assert one_json(ready.ok("keys", "reseal", "--json")) == {"resealed": [signing(ready)]}
    assert one_json(ready.ok("keys", "reseal", "--json")) == {"resealed": []}  # idempotent
    (event,) = [e for e in key_events(ready) if e.event == "keys.resealed"]
    assert event.detail["kids"] == [signing(ready)]

    monkeypatch.delenv("JWTKEEP_PREVIOUS_MASTER_KEY")  # the old master key is not needed
    assert verifies(ready, token)
    assert verifies(ready, login(ready, client_id["client_id"], "alice"))
    monkeypatch.delenv("JWTKEEP_MASTER_KEY")  # the old key (master.key) opens nothing now
    result = ready("keys", "list")
    assert result.exit_code == 2
    assert "wrong master key" in result.stderr


def test_reseal_with_neither_master_key_changes_nothing(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", new_master_key())
    monkeypatch.setenv("JWTKEEP_PREVIOUS_MASTER_KEY", new_master_key())
    result = ready("keys", "reseal")
    assert result.exit_code == 2
    assert "with JWTKEEP_MASTER_KEY or JWTKEEP_PREVIOUS_MASTER_KEY: nothing was re-sealed" in (
        result.stderr
    )
    monkeypatch.delenv("JWTKEEP_MASTER_KEY")
    monkeypatch.delenv("JWTKEEP_PREVIOUS_MASTER_KEY")
    assert len(statuses(ready)) == 1  # still opens with the original master key


def test_a_bad_previous_master_key_is_one_line_exit_2(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_PREVIOUS_MASTER_KEY", "too-short")
    result = ready("keys", "reseal")
    assert result.exit_code == 2
    assert "JWTKEEP_PREVIOUS_MASTER_KEY: master key must be" in result.stderr
