"""LangGraph-compatible module path: ``langgraph.graph.state``."""

from .._builder import StateGraph as StateGraph
from .._compiled import CompiledStateGraph as CompiledStateGraph

__all__ = ["CompiledStateGraph", "StateGraph"]
