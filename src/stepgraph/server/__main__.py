"""``python -m stepgraph.server [serve] --config langgraph.json ...``"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    main(args if args[:1] in (["serve"], ["dev"], ["-h"], ["--help"]) else ["serve", *args])
