"""Withdrawing a signing key: the key-leak drill (`keys compromised`) and retirement.

DESIGN.md "Contract: command line": at once, at every replica and subscribed SDK
verifier, the key leaves the JWKS and every token it signed is refused. The steps:
1. the key's status changes in the key repository (one transaction, `KeyManager`; a
   compromised key never changes status again);
2. the token store publishes the kid event, then drops every access token the key
   signed (`TokenStore.revoke_signed_by`): every replica reloads its ring at once and
   every SDK verifier drops the kid from its key ring and its verdict cache;
3. the audit trail records the drill and how many tokens it killed.
A token forged with the leaked key was never on the allowlist: it was refused before.
"""

from __future__ import annotations

from dataclasses import dataclass

from jwtkeep.usecases.context import AuthContext

__all__ = ["Withdrawal", "key_compromised", "retire_key"]


@dataclass(frozen=True)
class Withdrawal:
    kid: str
    new_kid: str | None  # the new signing key, if the withdrawn one was signing
    tokens_killed: int


async def key_compromised(ctx: AuthContext, kid: str, *, by: str) -> Withdrawal:
    new_kid = await ctx.keys.compromised(kid)
    killed = await ctx.store.revoke_signed_by(kid, ctx.clock())
    await ctx.record("key.compromised", kid=kid, new_kid=new_kid, tokens_killed=killed, by=by)
    return Withdrawal(kid, new_kid, killed)


async def retire_key(ctx: AuthContext, kid: str, *, by: str) -> Withdrawal:
    await ctx.keys.retire(kid)
    killed = await ctx.store.revoke_signed_by(kid, ctx.clock())
    await ctx.record("key.retired", kid=kid, tokens_killed=killed, by=by)
    return Withdrawal(kid, None, killed)
