"""`python -m jwtkeep.cli`: the same as the `jwtkeep` console script."""

from jwtkeep.cli.entry import main

main()
