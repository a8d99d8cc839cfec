"""stepgraph: LangGraph-compatible state graphs on anyio — trio and asyncio alike."""

from ._builder import StateGraph as StateGraph
from ._compiled import CompiledStateGraph as CompiledStateGraph
from ._spec import END as END
from ._spec import START as START
from .config import RunnableConfig as RunnableConfig
from .config import get_config as get_config
from .config import get_stream_writer as get_stream_writer
from .errors import GraphRecursionError as GraphRecursionError
from .errors import InvalidUpdateError as InvalidUpdateError
from .errors import StepgraphError as StepgraphError
from .graph.message import MessagesState as MessagesState
from .graph.message import add_messages as add_messages
from .runtime import Runtime as Runtime
from .runtime import get_runtime as get_runtime
from .types import Command as Command
from .types import Interrupt as Interrupt
from .types import RetryPolicy as RetryPolicy
from .types import Send as Send
from .types import StreamWriter as StreamWriter
from .types import interrupt as interrupt

__version__ = "0.1.0"

__all__ = [
    "END",
    "START",
    "Command",
    "CompiledStateGraph",
    "GraphRecursionError",
    "Interrupt",
    "InvalidUpdateError",
    "MessagesState",
    "RetryPolicy",
    "RunnableConfig",
    "Runtime",
    "Send",
    "StateGraph",
    "StepgraphError",
    "StreamWriter",
    "add_messages",
    "get_config",
    "get_runtime",
    "get_stream_writer",
    "interrupt",
]
