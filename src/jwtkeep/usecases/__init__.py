"""Use cases: login, refresh, logout, revoke, introspect, rotate keys — on top of the ports."""

__all__: list[str] = []
