"""Ready-made graphs and nodes for tool-calling chat agents (needs langchain-core:
``pip install 'stepgraph[langchain]'``)."""

from .chat_agent import AgentState, create_react_agent
from .tool_node import ToolNode, tools_condition

__all__ = ["AgentState", "ToolNode", "create_react_agent", "tools_condition"]
