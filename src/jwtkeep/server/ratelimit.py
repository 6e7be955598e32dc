"""Brute-force protection for password checks that cannot be turned against the users it
protects (OWASP ASVS v4 §2.2.1; NIST SP 800-63B §5.2.2; RFC 6749 §4.3.2: "the
authorization server MUST protect the endpoint against brute force attacks").

What is counted: *failed* password checks (wrong password, unknown user, disabled user:
the use case raises `InvalidGrant`). A successful login counts nothing, and an attempt
refused here is not a password check, so it counts nothing either. Counting successes
let anyone keep a user at 429 with ten requests a minute, and throttled an office NAT at
its eleventh login (OWASP "Blocking Brute Force Attacks": lockout is a denial of service).

Three limits, checked *before* the password is (`LoginLimiter.password_check`):

(a) failures per (account, address bucket), 15-minute moving window, cleared by a
    success from that pair: over `login_failures_per_address` that pair gets 429 +
    `Retry-After`. The guessing address is stopped on that account; the owner from any
    other address is not.
(b) failures per account over all addresses, 15 minutes: from
    `login_failures_before_slowdown` on, every check for the account waits 1 s, 2 s,
    4 s ... capped at `login_slowdown_max_seconds` (an asyncio sleep, never a refusal):
    a distributed attack is slowed, the owner still gets in. NIST SP 800-63B §5.2.2
    lists increasing waits among the ways to slow attackers without locking the owner
    out; its hard cap of 100 consecutive failures per account is deliberately not
    applied account-wide (it is the lockout), only per address, by (a).
(c) per address bucket over all accounts: failures over `address_failures_per_hour`
    (credential stuffing from one address), and all password checks over
    `address_attempts_per_minute`, a generous ceiling so one address cannot keep every
    core busy with argon2 (a hash-flooding DoS); both 429.

Self-registration hashes a password each time: `count_registration` limits all attempts
per address bucket (`registrations_per_minute`).

An address bucket is the IPv4 address, or the IPv6 /64 (RFC 4291 §2.5.4 and RFC 6177: a
/64 is one subscriber's LAN, so per-address IPv6 buckets would give one attacker 2^64 of
them). Account keys are SHA-256 digests, so the counters hold no usernames.

Counters: the rate-limit port (`jwtkeep.ports.rate_limits`), built by the composition
root (`jwtkeep.runtime`): memory (one process) by default; the Redis named by
`settings.token_store_url` when that is a Redis URL, so every replica counts together
(`jwtkeep.adapters.rate_limits`). If the counters cannot be reached, the attempt is
refused with 503 (fail closed): an unreachable counter must never open the gate to
unlimited guessing.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from jwtkeep.errors import InvalidGrant, InvalidRequest
from jwtkeep.ports.rate_limits import RateLimit, RateLimits
from jwtkeep.settings import Settings

__all__ = [
    "FAILURE_WINDOW_MINUTES",
    "IPV6_SUBSCRIBER_PREFIX",
    "BruteForcePolicy",
    "LoginLimiter",
    "Sleep",
    "SlowdownStarted",
    "TooManyAttempts",
    "address_bucket",
    "slowdown_delay",
]

FAILURE_WINDOW_MINUTES = 15
IPV6_SUBSCRIBER_PREFIX = 64  # RFC 4291 §2.5.4, RFC 6177
_SLOWDOWN_DEPTH = 32  # failures past the threshold worth counting: by then the cap applies

Sleep = Callable[[float], Awaitable[None]]
# (action, account digest, address bucket) when an account first comes under the slowdown.
SlowdownStarted = Callable[[str, str, str], Awaitable[None]]


class TooManyAttempts(InvalidRequest):
    """429 (RFC 6585 §4) with `Retry-After`, in the RFC 6749 §5.2 shape: RFC 6749 has no
    throttling code, so the generic `invalid_request` (see docs/http-api.md)."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many attempts; try again later.", reason="rate limited")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class BruteForcePolicy:
    """The thresholds, from settings (docs/settings.md, docs/operations.md)."""

    failures_per_address: int = 10
    failures_before_slowdown: int = 5
    slowdown_max_seconds: float = 4.0
    address_failures_per_hour: int = 100
    address_attempts_per_minute: int = 300
    registrations_per_minute: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> BruteForcePolicy:
        return cls(
            failures_per_address=settings.login_failures_per_address,
            failures_before_slowdown=settings.login_failures_before_slowdown,
            slowdown_max_seconds=settings.login_slowdown_max_seconds,
            address_failures_per_hour=settings.address_failures_per_hour,
            address_attempts_per_minute=settings.address_attempts_per_minute,
            registrations_per_minute=settings.registrations_per_minute,
        )


def slowdown_delay(account_failures: int, policy: BruteForcePolicy) -> float:
    """Seconds to wait before checking a password for an account with this many recent
    failures: 0 below the threshold, then 1, 2, 4 ... up to the cap (limit (b))."""
    excess = account_failures - policy.failures_before_slowdown
    if excess < 0:
        return 0.0
    return min(policy.slowdown_max_seconds, 2.0 ** min(excess, _SLOWDOWN_DEPTH))


def address_bucket(ip: str) -> str:
    """The key an address is counted under: an IPv4 address (IPv4-mapped IPv6 included)
    as itself, an IPv6 address as its /64 (RFC 4291 §2.5.4, RFC 6177); anything else
    (no peer, a test client's name) as its text."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((int(address), IPV6_SUBSCRIBER_PREFIX), strict=False)
        return str(network)  # int(): a zone id (fe80::1%eth0) is not part of the bucket
    return str(address)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _items(policy: BruteForcePolicy) -> dict[str, RateLimit]:
    window = FAILURE_WINDOW_MINUTES * 60
    return {
        "pair": RateLimit(policy.failures_per_address, window),
        "account": RateLimit(policy.failures_before_slowdown + _SLOWDOWN_DEPTH, window),
        "address": RateLimit(policy.address_failures_per_hour, 3600),
        "checks": RateLimit(policy.address_attempts_per_minute, 60),
        "register": RateLimit(policy.registrations_per_minute, 60),
    }


class LoginLimiter:
    """The three limits and the slowdown over the rate-limit counters. `sleep` is injected
    so tests record the slowdown instead of waiting it out (CONVENTIONS "State")."""

    def __init__(
        self,
        counters: RateLimits,
        policy: BruteForcePolicy,
        *,
        on_throttled: Callable[[str], None] | None = None,
        on_slowed: Callable[[str, float], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        on_slowdown_started: SlowdownStarted | None = None,
    ) -> None:
        self._counters = counters
        self._policy = policy
        self._items = _items(policy)
        self._on_throttled = on_throttled
        self._on_slowed = on_slowed
        self._sleep = sleep
        self._on_slowdown_started = on_slowdown_started

    @asynccontextmanager
    async def password_check(self, action: str, *, account: str, ip: str) -> AsyncIterator[None]:
        """Guard one password check of `account` from `ip`: refuse (429) or slow it down
        before; count a failure if the body raises `InvalidGrant` (the use cases' answer
        for a wrong password, an unknown user and a disabled one).

        The (account, address) failure slot is taken atomically *before* the check, so a
        burst of parallel guesses cannot all pass a test made before any of them failed;
        a success gives it back by clearing that pair ("consecutive failed attempts",
        NIST SP 800-63B §5.2.2: only the account's owner can succeed). Any other error
        keeps the slot (fail closed).
        """
        bucket, account_key = address_bucket(ip), _digest(account)
        pair = (action, "pair", account_key, bucket)
        await self._refuse_over_limits(action, pair, bucket)
        await self._slow_down(action, account_key)
        try:
            yield
        except InvalidGrant:
            await self._record_failure(action, account_key, bucket)
            raise
        await self._counters.clear(self._items["pair"], pair)

    async def count_registration(self, ip: str) -> None:
        """Count one self-registration (each hashes a password); 429 over the limit."""
        key = ("register", address_bucket(ip))
        await self._take("register", "register", key)

    async def _refuse_over_limits(self, action: str, pair: tuple[str, ...], bucket: str) -> None:
        # (c) failures from the address over all accounts: only tested here (successes
        # must not count), recorded after a failure.
        key = ("address", bucket)
        if not await self._counters.test(self._items["address"], key):
            await self._throttle(action, "address", key)
        # (c) the ceiling on all checks from the address, then (a) the pair's slot.
        await self._take(action, "checks", ("checks", bucket))
        await self._take(action, "pair", pair)

    async def _take(self, action: str, item: str, key: tuple[str, ...]) -> None:
        """Count one hit atomically (a Lua script in Redis); 429 when it does not fit."""
        if not await self._counters.hit(self._items[item], key):
            await self._throttle(action, item, key)

    async def _slow_down(self, action: str, account_key: str) -> None:
        stats = await self._counters.window(self._items["account"], (action, account_key))
        delay = slowdown_delay(stats.hits, self._policy)
        if delay > 0:
            if self._on_slowed is not None:
                self._on_slowed(action, delay)
            await self._sleep(delay)

    async def _record_failure(self, action: str, account_key: str, bucket: str) -> None:
        # The pair's slot was taken before the check; a full counter here just stays full.
        for item, key in (("address", ("address", bucket)), ("account", (action, account_key))):
            await self._counters.hit(self._items[item], key)
        if self._on_slowdown_started is None:
            return
        # The security event (docs/operations.md): once, when this failure is the one that
        # puts the account under the slowdown, so an attack costs the audit trail one row
        # per account and window, not one per guess.
        stats = await self._counters.window(self._items["account"], (action, account_key))
        if stats.hits == self._policy.failures_before_slowdown:
            await self._on_slowdown_started(action, account_key, bucket)

    async def _throttle(self, action: str, item: str, key: tuple[str, ...]) -> None:
        stats = await self._counters.window(self._items[item], key)
        if self._on_throttled is not None:
            self._on_throttled(action)
        raise TooManyAttempts(max(1, math.ceil(stats.reset_at - time.time())))
