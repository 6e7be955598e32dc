"""The pure core: no I/O, no web framework, database or network client.

Token issuing and verification, the claim policy, the key ring, password hashing,
fingerprints, sealing of private keys. Everything here is deterministic given an injected
clock and random source, so it can be tested exhaustively.
"""

__all__: list[str] = []
