"""The `jwtkeep` command line: a thin edge over the use cases (see `jwtkeep.cli.main`)."""

__all__: list[str] = []
