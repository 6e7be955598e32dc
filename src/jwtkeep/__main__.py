"""`python -m jwtkeep` is the `jwtkeep` command."""

from jwtkeep.cli.entry import main

main()
