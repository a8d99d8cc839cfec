"""Seed-docs examples, run on stepgraph and compared with LangGraph and the docs."""
