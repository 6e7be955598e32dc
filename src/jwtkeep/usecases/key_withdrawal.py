"""Withdrawing a signing key: the key-leak drill (`keys compromised`) and retirement.

DESIGN.md "Contract: command line": at once, at every replica and subscribed SDK
verifier, the key leaves the JWKS and every token it signed is refused. The steps:
1. the key's status changes in the key repository (one transaction, `KeyManager`; a
   compromised key never changes status again);
2. the token store publishes the kid event, then drops every access token the key
   signed (`TokenStore.revoke_signed_by`): every replica reloads its ring at once and
   every SDK verifier drops the kid from its key ring and its verdict cache;
3. the audit trail records the drill and how many tokens it killed (`KeyManager`'s
   `key.compromised` / `key.retired` event, with the operator, reason and
   `tokens_killed`).
A token forged with the leaked key was never on the allowlist: it was refused before.
"""

from __future__ import annotations

from dataclasses import dataclass

from jwtkeep.usecases.context import AuthContext, Operator

__all__ = ["Withdrawal", "key_compromised", "retire_key"]


@dataclass(frozen=True)
class Withdrawal:
    kid: str
    new_kid: str | None  # the new signing key, if the withdrawn one was signing
    tokens_killed: int


async def key_compromised(ctx: AuthContext, kid: str, *, op: Operator) -> Withdrawal:
    killed = _Killer(ctx)
    new_kid = await ctx.keys.compromised(kid, actor=op.actor, reason=op.reason or "",
                                         revoke=killed.revoke)  # fmt: skip
    return Withdrawal(kid, new_kid, killed.count)


async def retire_key(ctx: AuthContext, kid: str, *, op: Operator) -> Withdrawal:
    killed = _Killer(ctx)
    await ctx.keys.retire(kid, actor=op.actor, reason=op.reason or "", revoke=killed.revoke)
    return Withdrawal(kid, None, killed.count)


class _Killer:
    """Step 2 for `KeyManager`, which audits (step 3) with the count it returns."""

    def __init__(self, ctx: AuthContext) -> None:
        self._ctx = ctx
        self.count = 0

    async def revoke(self, kid: str) -> int:
        self.count = await self._ctx.store.revoke_signed_by(kid, self._ctx.clock())
        return self.count
