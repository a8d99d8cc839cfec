"""Build graphs: ``StateGraph``, ``START``, ``END``, messages state."""

from .._builder import StateGraph as StateGraph
from .._compiled import CompiledStateGraph as CompiledStateGraph
from .._spec import END as END
from .._spec import START as START
from .message import MessagesState as MessagesState
from .message import add_messages as add_messages

__all__ = ["END", "START", "CompiledStateGraph", "MessagesState", "StateGraph", "add_messages"]
