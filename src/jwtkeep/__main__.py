"""`python -m jwtkeep` is the `jwtkeep` command."""

from jwtkeep.cli.main import main

main()
