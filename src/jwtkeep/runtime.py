"""The composition root: settings in, wired use-case context out.

The only place that knows which adapter backs which port. The server and the CLI both
build a `Runtime` here, so they can never disagree about configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from jwtkeep.adapters.factory import open_token_store
from jwtkeep.adapters.sql import Database
from jwtkeep.core.claims import ClaimRules
from jwtkeep.core.hmac_secret import parse_hmac_secret
from jwtkeep.core.passwords import Argon2Params, PasswordHasher
from jwtkeep.core.sealing import Sealer, parse_master_key
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import ConfigurationError
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.settings import MAX_ACCESS_TOKEN_TTL, Settings
from jwtkeep.usecases.app_cache import CachedApps
from jwtkeep.usecases.context import AuditRetention, AuthContext, SessionPolicy, SignInContext
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.key_schedule import KeyPolicy
from jwtkeep.usecases.subscription import RevocationFollower
from jwtkeep.usecases.verification import TokenVerifier

__all__ = [
    "MASTER_KEY_FILE",
    "Runtime",
    "build_runtime",
    "data_file",
    "open_runtime",
    "prepare_data_dir",
]

MASTER_KEY_FILE = "master.key"


@dataclass
class Runtime:
    settings: Settings
    database: Database
    context: AuthContext
    verifier: TokenVerifier  # any app's token (introspection): never to authorize a request
    account_verifier: TokenVerifier  # the account API's own audience, the issuer URL
    sign_in: SignInContext  # the browser sign-in (authorization codes, login sessions)
    form_key: bytes  # HMAC key of the hosted pages' CSRF tokens (derived from the master key)
    # Follows the store's revocation events (`jwtkeep serve` runs it): kid events reload
    # the key ring at once; the account verifier's verdict cache lives by it.
    follower: RevocationFollower

    async def close(self) -> None:
        if self.context.store is not self.database.tokens:
            await self.context.store.close()
        await self.database.close()


def prepare_data_dir(settings: Settings) -> None:
    """Create the data folder (0700) and, without JWTKEEP_MASTER_KEY, a master key file
    (0600) that seals private signing keys at rest. Idempotent."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file = settings.data_dir / MASTER_KEY_FILE
    if settings.master_key is None and not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))


def _sealer(settings: Settings, master_key: bytes) -> Sealer:
    """The master key seals; JWTKEEP_PREVIOUS_MASTER_KEY, if set, also unseals (the
    switch to a new master key, `jwtkeep keys reseal`)."""
    previous: tuple[bytes, ...] = ()
    if settings.previous_master_key is not None:
        try:
            previous = (parse_master_key(settings.previous_master_key.get_secret_value()),)
        except ValueError as exc:
            raise ConfigurationError(f"JWTKEEP_PREVIOUS_MASTER_KEY: {exc}") from None
    return Sealer(master_key, previous=previous)


def _key_policy(settings: Settings) -> KeyPolicy:
    # HS256 keys are all the one JWTKEEP_HMAC_SECRET: a new kid would not be a new key.
    days = 0 if settings.signing_alg == "HS256" else settings.key_rotation_days
    return KeyPolicy.derive(
        rotation_days=days, refresh_seconds=settings.key_refresh_seconds,
        token_lifetime=MAX_ACCESS_TOKEN_TTL + settings.leeway,
    )  # fmt: skip


def _master_key(settings: Settings) -> bytes:
    if settings.master_key is not None:
        text = settings.master_key.get_secret_value()
    else:
        key_file = settings.data_dir / MASTER_KEY_FILE
        if not key_file.is_file():
            raise ConfigurationError(
                "no master key: set JWTKEEP_MASTER_KEY or run `jwtkeep init` "
                f"(looked in {key_file})"
            )
        if stat.S_IMODE(key_file.stat().st_mode) & 0o077:
            raise ConfigurationError(f"{key_file} must not be readable by others (chmod 600)")
        text = key_file.read_text()
    try:
        return parse_master_key(text)
    except ValueError as exc:
        raise ConfigurationError(f"master key: {exc}") from None


def _hmac_secret(settings: Settings) -> bytes | None:
    """The HS256 key: the *decoded* bytes of JWTKEEP_HMAC_SECRET (base64url), never its
    characters (RFC 7518 §3.2 counts key bits; RFC 8725 §3.5 forbids passwords as keys)."""
    if settings.signing_alg != "HS256" or settings.hmac_secret is None:
        return None
    try:
        return parse_hmac_secret(settings.hmac_secret.get_secret_value())
    except ValueError as exc:
        raise ConfigurationError(f"JWTKEEP_HMAC_SECRET: {exc}") from None


@asynccontextmanager
async def open_runtime(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Runtime]:
    runtime = await build_runtime(settings, migrate=migrate)
    try:
        yield runtime
    finally:
        await runtime.close()


async def build_runtime(settings: Settings, *, migrate: bool = False) -> Runtime:
    database = Database.connect(settings.effective_database_url, pool_size=10)
    if migrate:
        await database.migrate()
    store = await open_token_store(
        settings.token_store_url, database=database, pool_size=settings.store_pool_size,
        io_timeout=settings.store_timeout,
    )  # fmt: skip
    master_key = _master_key(settings)
    keys = KeyManager(
        database.keys, _sealer(settings, master_key), alg=settings.signing_alg,
        hmac_secret=_hmac_secret(settings), refresh_seconds=settings.key_refresh_seconds,
        policy=_key_policy(settings), audit=database.audit,
    )  # fmt: skip
    hasher = PasswordHasher(
        Argon2Params(settings.argon2_time_cost, settings.argon2_memory_kib,
                     settings.argon2_parallelism)
    )  # fmt: skip
    issuer = TokenIssuer(settings.effective_issuer, settings.access_token_ttl, MAX_ACCESS_TOKEN_TTL)
    context = AuthContext(
        users=database.users, apps=CachedApps(database.apps), store=store,
        audit=database.audit, keys=keys, issuer=issuer, hasher=hasher,
        sessions=SessionPolicy(settings.session_idle_timeout, settings.session_absolute_lifetime,
                               settings.refresh_reuse_interval),
        retention=AuditRetention(settings.audit_retention_days, settings.audit_ip_retention_days),
    )  # fmt: skip
    rules = ClaimRules(issuer=issuer.issuer, audience=None, leeway=settings.leeway,
                       max_lifetime=MAX_ACCESS_TOKEN_TTL)  # fmt: skip
    allowlist = StoreAllowlist(store)
    # The account API is a resource of its own: its audience is the issuer (RFC 9068 §4).
    account_rules = replace(rules, audience=issuer.issuer)
    sign_in = SignInContext(
        auth=context,
        codes=database.codes,
        logins=database.logins,
        consents=database.consents,
        login_ttl=settings.login_session_ttl,
    )
    entries = settings.verdict_cache_entries
    cache = VerdictCache(max_entries=entries) if entries else None
    follower = RevocationFollower(
        store.revocation_feed(), [cache] if cache else [], [keys.on_revocation]
    )
    return Runtime(
        settings=settings, database=database, context=context,
        verifier=TokenVerifier(keys, allowlist, rules),
        account_verifier=TokenVerifier(keys, allowlist, account_rules, cache=cache),
        follower=follower, sign_in=sign_in, form_key=_form_key(master_key),
    )  # fmt: skip


def _form_key(master_key: bytes) -> bytes:
    """A key of its own for the CSRF tokens (NIST SP 800-108 style derivation with HMAC):
    never the sealing key itself; the same on every replica that shares the master key."""
    return hmac.new(master_key, b"jwtkeep hosted-page CSRF v1", hashlib.sha256).digest()


def data_file(settings: Settings, name: str) -> Path:
    return settings.data_dir / name
