"""Adapters: one per backend, each implementing the ports in `jwtkeep.ports`."""

__all__: list[str] = []
