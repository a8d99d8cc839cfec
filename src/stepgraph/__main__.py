"""``python -m stepgraph serve ...``: the same as the ``stepgraph`` console script."""

from stepgraph.server.cli import main

main()
