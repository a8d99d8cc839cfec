"""Differential tests: the same graph programs run on LangGraph and on stepgraph."""
