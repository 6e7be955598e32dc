"""The composition root: settings in, wired use-case context out.

The only place that knows which adapter backs which port (the SQL database, the token
store chosen by `JWTKEEP_TOKEN_STORE_URL`, the rate-limit counters), the only place that
runs migrations, and the only place that builds the use cases and verifiers from
`Settings`. The server and the CLI both build a `Runtime` here, so they can never
disagree about configuration; the server only wires HTTP around one
(`jwtkeep.server.create_app`). `serve_runtime` adds what a serving process runs in the
background: the revocation follower and the key rotation schedule.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import structlog

from jwtkeep.adapters.rate_limits import open_rate_limits
from jwtkeep.adapters.sql import Database, normalize_url
from jwtkeep.core.claims import ClaimRules
from jwtkeep.core.hmac_secret import parse_hmac_secret
from jwtkeep.core.passwords import Argon2Params, PasswordHasher
from jwtkeep.core.sealing import Sealer, parse_master_key
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import ConfigurationError
from jwtkeep.ports import TokenStore
from jwtkeep.ports.rate_limits import RateLimits
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.settings import MAX_ACCESS_TOKEN_TTL, Settings
from jwtkeep.usecases.app_cache import CachedApps
from jwtkeep.usecases.context import AuditRetention, AuthContext, SessionPolicy, SignInContext
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.key_schedule import KeyPolicy
from jwtkeep.usecases.subscription import RevocationFollower, stop_following
from jwtkeep.usecases.verification import TokenVerifier

__all__ = [
    "MASTER_KEY_FILE",
    "REDIS_SCHEMES",
    "Runtime",
    "build_runtime",
    "open_runtime",
    "open_token_store",
    "prepare_data_dir",
    "serve_runtime",
]

MASTER_KEY_FILE = "master.key"
REDIS_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")
_log = structlog.get_logger("jwtkeep.keys")


@dataclass
class Runtime:
    settings: Settings
    database: Database
    context: AuthContext
    verifier: TokenVerifier  # any app's token (introspection): never to authorize a request
    account_verifier: TokenVerifier  # the account API's own audience, the issuer URL
    sign_in: SignInContext  # the browser sign-in (authorization codes, login sessions)
    form_key: bytes  # HMAC key of the hosted pages' CSRF tokens (derived from the master key)
    # Follows the store's revocation events (`following`): kid events reload the key
    # ring at once; the account verifier's verdict cache lives by it.
    follower: RevocationFollower
    # The login guard's counters (`jwtkeep.server.ratelimit`): memory, or the token
    # store's Redis so that every replica counts together.
    rate_limits: RateLimits

    @asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """Run the revocation follower meanwhile. Every replica listens (DESIGN "Contract:
        the token store"): kid events reload its key ring at once, its verdict cache
        lives by the subscription, and the HTTPS event stream
        (`/oauth/revocation-events`) relays what it hears."""
        task = asyncio.create_task(self.follower.run())
        try:
            yield
        finally:
            await stop_following(task)

    async def close(self) -> None:
        try:
            await self.rate_limits.close()
        finally:
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


async def open_token_store(
    url: str | None,
    *,
    database: Database | None = None,
    pool_size: int = 50,
    io_timeout: float = 0.25,
) -> TokenStore:
    """The token store for `JWTKEEP_TOKEN_STORE_URL`: `sqlite://`/`postgresql://` (or
    `None`: the database itself) give the SQL store; `redis://`, `rediss://`,
    `redis+sentinel://`, `redis+cluster://` the Redis store.

    A separate SQL token-store database is migrated here (idempotent), since nothing else
    would create its tables."""
    same_database = (
        url is not None
        and database is not None
        and not url.startswith(REDIS_SCHEMES)
        and normalize_url(url) == database.url
    )
    if url is None or same_database:
        if database is None:
            raise ConfigurationError("a token store URL or a database is required")
        return database.tokens
    if url.startswith(REDIS_SCHEMES):
        try:
            from jwtkeep.adapters.redis import RedisTokenStore  # noqa: PLC0415 (optional extra)
        except ImportError as exc:
            raise ConfigurationError(
                "Redis token store needs: pip install 'jwtkeep[redis]'"
            ) from exc
        return RedisTokenStore.from_url(url, pool_size=pool_size, timeout=io_timeout)
    if url.startswith(("sqlite", "postgresql", "postgres")):
        separate = Database.connect(url, pool_size=pool_size, timeout=max(io_timeout, 1.0))
        await separate.migrate()
        return separate.tokens  # closing the store closes this Database's engine
    raise ConfigurationError(
        "JWTKEEP_TOKEN_STORE_URL must start with one of: sqlite, postgresql, "
        + ", ".join(REDIS_SCHEMES)
    )


@asynccontextmanager
async def open_runtime(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Runtime]:
    runtime = await build_runtime(settings, migrate=migrate)
    try:
        yield runtime
    finally:
        await runtime.close()


@asynccontextmanager
async def serve_runtime(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Runtime]:
    """The runtime of a serving process (`jwtkeep serve`, the uvicorn factory), with its
    background work: the revocation follower, and the key rotation schedule
    (`KeyManager.step`) every `JWTKEEP_KEY_REFRESH_SECONDS`. Every replica runs the
    schedule; the steps are atomic in the database, so one wins each change."""
    async with open_runtime(settings, migrate=migrate) as runtime:
        await _key_schedule_step(runtime)  # a replica that was down catches up first
        schedule = asyncio.create_task(_key_schedule(runtime))
        try:
            async with runtime.following():
                yield runtime
        finally:
            schedule.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schedule


async def _key_schedule(runtime: Runtime) -> None:
    """Run the key rotation schedule every JWTKEEP_KEY_REFRESH_SECONDS (the first step ran
    before serving)."""
    while True:
        await asyncio.sleep(runtime.settings.key_refresh_seconds)
        await _key_schedule_step(runtime)


async def _key_schedule_step(runtime: Runtime) -> None:
    """One step; a failed one (database down, a concurrent change) is logged and tried
    again next time: the schedule publishes a day ahead and retires late, so a missed
    step costs nothing."""
    try:
        change = await runtime.context.keys.step()
    except Exception as exc:  # noqa: BLE001 (keep the schedule alive, whatever failed)
        _log.warning("keys.schedule_failed", reason=type(exc).__name__)
        return
    if change:
        _log.info("keys.schedule_step", added=[k.kid for k in change.add],
                  retired=list(change.statuses))  # fmt: skip


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
        rate_limits=open_rate_limits(settings.token_store_url, timeout=settings.store_timeout),
    )  # fmt: skip


def _form_key(master_key: bytes) -> bytes:
    """A key of its own for the CSRF tokens (NIST SP 800-108 style derivation with HMAC):
    never the sealing key itself; the same on every replica that shares the master key."""
    return hmac.new(master_key, b"jwtkeep hosted-page CSRF v1", hashlib.sha256).digest()
