"""The key rotation schedule: publish the next key, let it sign, retire the old one.

A rollover that no verifier notices (RFC 7517 §4.5 `kid`; NIST SP 800-57 Part 1 Rev. 5
§5.3: a signing key is used for a bounded cryptoperiod, then only verifies):

1. The next key is added as an `active` key whose `activates_at` lies ahead, at least
   `publish_ahead` away: one JWKS cache lifetime (`JWKS_MAX_AGE`, the JWKS's
   `Cache-Control: max-age`), plus one ring reload of every replica
   (`JWTKEEP_KEY_REFRESH_SECONDS`: until then a replica still serves the JWKS without
   it), plus `CLOCK_SKEW`. Scheduled rotations publish it earlier still
   (`KeyPolicy.scheduled_lead`: up to a day, covering caches up to the SDK's 24 h cap).
2. From `activates_at` on it signs, on every replica at once: which key signs is a pure
   function of the key set and the clock (`jwtkeep.core.keyring.signing_kid`).
3. The key it superseded becomes `retiring` with `retires_at` = the activation plus
   `retire_after` (the longest access token lifetime, the verifiers' leeway, one ring
   reload and `CLOCK_SKEW`): by then every token it signed has expired (RFC 9068 §2.2
   `exp`), and it is `retired` (it leaves the JWKS).

`scheduled_change` decides one step of that on the keys as they are; the key manager runs
it inside `KeyRepository.change_keys`, so replicas that run it together run it one after
the other, and the second finds nothing left to do (no double rotation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jwtkeep.core.keyring import JWKS_MAX_AGE, KeyStatus, signing_kid, signs_from
from jwtkeep.ports import KeyChange, StoredKey

__all__ = ["CLOCK_SKEW", "DAY", "KeyPolicy", "pending_keys", "scheduled_change"]

CLOCK_SKEW = 60.0  # seconds two replicas' clocks may disagree (NTP keeps them far closer)
DAY = 86_400.0


@dataclass(frozen=True)
class KeyPolicy:
    """How keys roll over; `rotation_period` None: only by hand (`jwtkeep keys rotate`)."""

    rotation_period: float | None = None
    publish_ahead: float = JWKS_MAX_AGE + 30 + CLOCK_SKEW
    retire_after: float = 3600 + 30 + 30 + CLOCK_SKEW

    @classmethod
    def derive(
        cls, *, rotation_days: float, refresh_seconds: float, token_lifetime: float
    ) -> KeyPolicy:
        """The policy for the settings: `token_lifetime` is the longest access token TTL
        plus the verifiers' leeway."""
        return cls(
            rotation_period=rotation_days * DAY if rotation_days > 0 else None,
            publish_ahead=JWKS_MAX_AGE + refresh_seconds + CLOCK_SKEW,
            retire_after=token_lifetime + refresh_seconds + CLOCK_SKEW,
        )

    @property
    def scheduled_lead(self) -> float:
        """How long before its time a scheduled next key is published: a day (a JWKS
        cached by any verifier honouring up to 24 h has it), at most half the period."""
        period = self.rotation_period or 0.0
        return max(self.publish_ahead, min(DAY, period / 2))


def pending_keys(keys: Sequence[StoredKey], now: float) -> list[StoredKey]:
    """Active keys whose time to sign has not come: published, not signing. Soonest first."""
    pending = [k for k in keys if k.status == KeyStatus.ACTIVE and signs_from(k) > now]
    return sorted(pending, key=signs_from)


def scheduled_change(
    keys: Sequence[StoredKey],
    now: float,
    policy: KeyPolicy,
    new_key: Callable[[float], StoredKey],
) -> KeyChange:
    """One step of the schedule at `now` (empty when nothing is due). `new_key(at)` makes
    the next key, signing from `at`. Nothing signs: left to the operator."""
    signer = signing_kid(keys, now)
    current = next((k for k in keys if k.kid == signer), None)
    if current is None:
        return KeyChange()
    replace: list[StoredKey] = []
    retired: dict[str, str] = {}
    for key in keys:
        if key.status == KeyStatus.ACTIVE and key.kid != signer and signs_from(key) <= now:
            # Superseded (it stopped signing when `current` began, or earlier).
            until = signs_from(current) + policy.retire_after
            replace.append(dataclasses.replace(key, status=KeyStatus.RETIRING, retires_at=until))
        elif key.status == KeyStatus.RETIRING:
            if key.retires_at is None:
                # Retiring since before the schedule existed: it may have signed until now.
                replace.append(dataclasses.replace(key, retires_at=now + policy.retire_after))
            elif key.retires_at <= now:  # every token it signed has expired
                retired[key.kid] = KeyStatus.RETIRED
    return KeyChange(add=_next_key(keys, current, now, policy, new_key),
                     statuses=retired, replace=tuple(replace))  # fmt: skip


def _next_key(
    keys: Sequence[StoredKey],
    current: StoredKey,
    now: float,
    policy: KeyPolicy,
    new_key: Callable[[float], StoredKey],
) -> tuple[StoredKey, ...]:
    if policy.rotation_period is None or pending_keys(keys, now):
        return ()
    due = signs_from(current) + policy.rotation_period
    if now < due - policy.scheduled_lead:
        return ()
    # Late (the schedule was off, or nothing ran): still publish a full lead ahead.
    return (new_key(max(due, now + policy.scheduled_lead)),)
