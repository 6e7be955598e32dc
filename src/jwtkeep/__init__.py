"""jwtkeep: JWT authentication where a signed token is necessary but not sufficient.

Every access token the server issues is also recorded, as a SHA-256 fingerprint, in a
token store; a token is accepted only if its signature and claims verify *and* its
fingerprint is present. See DESIGN.md for the contract.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
