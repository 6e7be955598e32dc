"""The `jwtkeep` command line: a thin edge over the use cases (entry point: `jwtkeep.cli.entry`)."""

__all__: list[str] = []
