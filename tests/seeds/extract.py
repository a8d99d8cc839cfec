"""Extract every code block from the seed docs (``shared/seeds``) and classify it.

Two renderings exist:

* Markdown pages (``000``, ``002``, ``003``, ``004``): fenced blocks, often indented
  inside ``=== "tab"`` / ``??? example`` sections; ``:::python`` / ``:::js`` regions.
* ``001``: an HTML-to-text rendering of a notebook.  Every line of a cell carries a
  ``[](...#__codelineno-N-M)`` anchor, the space after ``from``/``import``/``def``/``class``
  was lost, the text is UTF-8 read as Mac Roman, and output cells are plain fences.

A Python block becomes an :class:`Example` whose id is ``"<file prefix>:<fence line>"``.
Its kind is ``program`` (runs as is), ``fragment`` (uses names it does not define, or a
``graph = ...`` placeholder: completed from :data:`COMPLETIONS`, the only hand-written
part), ``server`` (LangGraph Platform SDK clients: they need the server) or ``magic``
(notebook shell magic such as ``%pip``).  :func:`program` builds what a test runs: the
completion cells, then the example, each rewritten by :func:`rewrite` for one target.

``python -m tests.seeds.extract`` (or running this file) prints the inventory.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _seeds_dir() -> Path:
    """The seed docs: $STEPGRAPH_SEEDS_DIR, else ``shared/seeds`` beside the checkout
    (the workplace layout), else the workplace's fixed location (clean CI clones live
    elsewhere)."""
    import os

    candidates = [
        os.environ.get("STEPGRAPH_SEEDS_DIR"),
        Path(__file__).resolve().parents[3] / "shared" / "seeds",
        "/work/shared/seeds",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(__file__).resolve().parents[3] / "shared" / "seeds"


SEEDS_DIR = _seeds_dir()

# The issue that owns examples which need a running LangGraph Platform server.
SERVER_ISSUE = "the server"


@dataclass(frozen=True)
class Block:
    """One fenced block exactly as the docs show it (dedented)."""

    id: str
    file: str
    line: int  # 1-based line of the opening fence
    lang: str  # info string: "python", "typescript", "output", "" ...
    source: str
    region: str | None  # "python" / "js" inside a :::python / :::js region
    heading: str
    cell: int | None = None  # notebook cell number (001 only)


@dataclass(frozen=True)
class Example:
    """A Python block and what the docs print for it."""

    block: Block
    kind: str  # "program" | "fragment" | "server" | "magic"
    undefined: tuple[str, ...]  # names used but never bound in the block
    docs_output: str | None = None
    docs_output_id: str | None = None
    notebook: bool = False

    @property
    def id(self) -> str:
        return self.block.id

    @property
    def source(self) -> str:
        return self.block.source


@dataclass(frozen=True)
class Completion:
    """The minimal missing definitions the docs imply for a fragment.

    ``before``: ids of other examples run first (their output is not compared);
    ``code``: extra definitions run first; ``edits``: exact ``(old, new)`` replacements in
    the example itself (only where a placeholder line stands for a definition).
    """

    why: str
    before: tuple[str, ...] = ()
    code: str = ""
    edits: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Cell:
    id: str
    source: str
    notebook: bool = False  # show the last expression's value like Jupyter does


@dataclass(frozen=True)
class Program:
    """Cells run in one interpreter; only the last cell's stdout is compared."""

    example_id: str
    cells: tuple[Cell, ...]

    def text(self) -> str:
        parts = [
            f"# --- cell {c.id}{' (notebook)' if c.notebook else ''}\n{c.source}"
            for c in self.cells
        ]
        return "\n".join(parts)


@dataclass
class Inventory:
    blocks: list[Block] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    def example(self, example_id: str) -> Example:
        for ex in self.examples:
            if ex.id == example_id:
                return ex
        raise KeyError(example_id)


# --------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<info>[\w+-]*)")
_HEADING = re.compile(r"^#{1,6} ")


def _prefix(path: Path) -> str:
    return path.name.split("_", 1)[0]


def parse_markdown(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    region: str | None = None
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _HEADING.match(line):
            heading = line.lstrip("#").strip()
        if stripped in (":::python", ":::js"):
            region = stripped[3:]
        elif stripped == ":::":
            region = None
        m = _FENCE.match(line)
        if m is None:
            i += 1
            continue
        indent = len(m["indent"])
        body: list[str] = []
        j = i + 1
        # A closing fence may carry trailing table junk ("```      |"): anything after it
        # is not code.
        while j < len(lines) and not lines[j].lstrip().startswith("```"):
            raw = lines[j]
            body.append(raw[indent:] if raw[:indent].strip() == "" else raw.lstrip())
            j += 1
        blocks.append(
            Block(
                id=f"{_prefix(path)}:{i + 1}",
                file=path.name,
                line=i + 1,
                lang=m["info"],
                source="\n".join(body).rstrip() + "\n",
                region=region,
                heading=heading,
            )
        )
        i = j + 1
    return blocks


_ANCHOR = re.compile(r"^\[\]\([^)]*#__codelineno-(?P<cell>\d+)-\d+\)")
# The HTML rendering dropped the space after these keywords; put it back.
_GLUED = (
    (re.compile(r"^(\s*)from(\S+?)import (.*)$"), r"\1from \2 import \3"),
    (re.compile(r"^(\s*)import(?=[A-Za-z_])(?!lib)"), r"\1import "),
    (re.compile(r"^(\s*)def([A-Za-z_]\w*\(.*:)$"), r"\1def \2"),
    (re.compile(r"^(\s*)class([A-Za-z_]\w*[(:].*)$"), r"\1class \2"),
)


def _unmojibake(text: str) -> str:
    """001 is UTF-8 decoded as Mac Roman ("¬∂" for "¶"); undo it line by line."""
    out = []
    for line in text.splitlines():
        try:
            out.append(line.encode("mac_roman").decode("utf-8"))
        except (UnicodeEncodeError, UnicodeDecodeError):
            out.append(line)
    return "\n".join(out)


def _unglue(line: str) -> str:
    for pattern, repl in _GLUED:
        if pattern.match(line):
            return pattern.sub(repl, line)
    return line


def parse_notebook_render(path: Path) -> list[Block]:
    lines = _unmojibake(path.read_text(encoding="utf-8")).splitlines()
    blocks: list[Block] = []
    heading = ""
    i = 0
    while i < len(lines):
        if _HEADING.match(lines[i]):
            heading = re.sub(r"\[¶\].*$", "", lines[i].lstrip("#")).strip()
        if lines[i].strip() != "```":
            i += 1
            continue
        body: list[str] = []
        cell: int | None = None
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            m = _ANCHOR.match(lines[j])
            if m is not None:
                cell = int(m["cell"])
                body.append(_unglue(lines[j][m.end() :]))
            elif lines[j].strip():
                body.append(lines[j])
            j += 1
        blocks.append(
            Block(
                id=f"{_prefix(path)}:{i + 1}",
                file=path.name,
                line=i + 1,
                lang="",
                source="\n".join(body).rstrip() + "\n",
                region=None,
                heading=heading,
                cell=cell,
            )
        )
        i = j + 1
    return blocks


# ----------------------------------------------------------------------- classifying


def _is_literal_only(source: str) -> bool:
    """True for notebook output cells such as ``{'topic': 'ice cream'}``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return True
    if not tree.body or not all(isinstance(s, ast.Expr) for s in tree.body):
        return False
    try:
        for stmt in tree.body:
            assert isinstance(stmt, ast.Expr)
            ast.literal_eval(stmt.value)
    except ValueError:
        return False
    return True


def undefined_names(source: str) -> tuple[str, ...]:
    """Names a block reads at module level or in its functions but never binds.

    Deliberately simple (one namespace for the whole block): enough to tell a complete
    program from a fragment that leans on definitions elsewhere on the page.
    """
    tree = ast.parse(source)
    bound: set[str] = set(dir(builtins))
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                used.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    seen: dict[str, None] = {}
    for name in used:
        if name not in bound:
            seen.setdefault(name)
    return tuple(seen)


_PLACEHOLDER = re.compile(r"^\s*\w+\s*=\s*\.\.\.\s*(#.*)?$", re.MULTILINE)
_SDK_NAMES = {"client", "thread_id", "assistant_id"}


def _kind(source: str, undefined: Sequence[str], page_is_server: bool) -> str:
    if any(line.lstrip().startswith("%") for line in source.splitlines()):
        return "magic"
    if page_is_server or _SDK_NAMES & set(undefined):
        return "server"
    if undefined or _PLACEHOLDER.search(source):
        return "fragment"
    return "program"


def _is_server_page(blocks: Sequence[Block]) -> bool:
    return any("client.runs." in b.source for b in blocks)


def _markdown_examples(blocks: list[Block]) -> list[Example]:
    server_page = _is_server_page(blocks)
    examples: list[Example] = []
    for idx, block in enumerate(blocks):
        if block.lang != "python" and not (server_page and block.lang):
            continue
        if block.lang != "python":
            # JS/cURL clients of the server: listed so they are skipped visibly.
            examples.append(Example(block=block, kind="server", undefined=()))
            continue
        undefined = undefined_names(block.source)
        kind = _kind(block.source, undefined, server_page)
        output, output_id = _docs_output_after(blocks, idx)
        examples.append(
            Example(
                block=block,
                kind=kind,
                undefined=undefined,
                docs_output=output,
                docs_output_id=output_id,
            )
        )
    return examples


def _docs_output_after(blocks: list[Block], idx: int) -> tuple[str | None, str | None]:
    """The output block the docs show for ``blocks[idx]``, if any.

    An output block (```output or an unlabelled fence) belongs to the nearest code block
    before it in the same section.  When that nearest block is JavaScript, the output is
    the JavaScript example's, unless the output sits in an explicit :::python region
    (003 shows the Python output of the subgraph example after the JS tab that way).
    """
    me = blocks[idx]
    for later in blocks[idx + 1 :]:
        if later.heading != me.heading:
            return None, None
        if later.lang in ("output", ""):
            return later.source, later.id
        if later.lang == "python":
            return None, None
        # a JS/TS block in between: only an explicit :::python output is ours
        for out in blocks[blocks.index(later) + 1 :]:
            if out.heading != me.heading:
                return None, None
            if out.lang in ("output", "") and out.region == "python":
                return out.source, out.id
            if out.lang not in ("typescript", "js", "output", ""):
                return None, None
        return None, None
    return None, None


def _notebook_examples(blocks: list[Block]) -> list[Example]:
    examples: list[Example] = []
    for block in blocks:
        if block.source.lstrip().startswith("%") or "\n%" in block.source:
            examples.append(Example(block=block, kind="magic", undefined=(), notebook=True))
            continue
        if _is_literal_only(block.source):
            # An output cell: attach it to the code cell right before it.
            if examples and examples[-1].docs_output is None and examples[-1].kind != "magic":
                prev = examples[-1]
                examples[-1] = Example(
                    block=prev.block,
                    kind=prev.kind,
                    undefined=prev.undefined,
                    docs_output=block.source,
                    docs_output_id=block.id,
                    notebook=True,
                )
            continue
        undefined = undefined_names(block.source)
        examples.append(
            Example(
                block=block,
                kind="program" if not undefined else "fragment",
                undefined=undefined,
                notebook=True,
            )
        )
    return examples


def load(seeds_dir: Path = SEEDS_DIR) -> Inventory:
    inv = Inventory()
    for path in sorted(seeds_dir.glob("*.txt")):
        if path.read_text(encoding="utf-8").startswith("---\nurl:"):
            blocks = parse_notebook_render(path)
            inv.blocks.extend(blocks)
            inv.examples.extend(_notebook_examples(blocks))
        else:
            blocks = parse_markdown(path)
            inv.blocks.extend(blocks)
            inv.examples.extend(_markdown_examples(blocks))
    return inv


# ----------------------------------------------------------------------- completions

_WEATHER_TOOL = '''\
def get_weather(city: str) -> str:
    """Get weather for a given city."""
    return f"It's always sunny in {city}!"
'''
_AGENT = "from langgraph.prebuilt import create_react_agent\n"
_AGENT_WHY = (
    "create_react_agent is not imported and get_weather is defined in the "
    "'Tool updates' example of the same page"
)
_AGENT_WHY_TOOL = "create_react_agent is not imported"

_TAGS_GRAPH = """\
from typing import TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict):
    topic: str
    joke: str
    poem: str


async def call_model(state, config):
    topic = state["topic"]
    joke_response = await llm_1.ainvoke(
        [{"role": "user", "content": f"Write a joke about {topic}"}], config
    )
    poem_response = await llm_2.ainvoke(
        [{"role": "user", "content": f"Write a short poem about {topic}"}], config
    )
    return {"joke": joke_response.content, "poem": poem_response.content}


graph = StateGraph(State).add_node(call_model).add_edge(START, "call_model").compile()
"""
_TOOL_GRAPH = """\
from typing import TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict):
    query: str
    answer: str


def call_tool(state: State):
    return {"answer": query_database.invoke({"query": state["query"]})}


graph = StateGraph(State).add_node(call_tool).add_edge(START, "call_tool").compile()
inputs = {"query": "example"}
"""
_ANY_LLM_CODE = """\
from typing import TypedDict

from langgraph.graph import START, StateGraph

from fakes import your_custom_streaming_client


class State(TypedDict):
    topic: str
    result: str
"""
_ANY_LLM_EDIT = (
    "    # Add other nodes and edges as needed\n",
    '    # Add other nodes and edges as needed\n    .add_edge(START, "call_arbitrary_model")\n',
)
_TAGS_EDIT = ("graph = ... # define a graph that uses these LLMs\n", _TAGS_GRAPH)
_TOOL_EDIT = ("graph = ... # define a graph that uses this tool\n", _TOOL_GRAPH)


def _page_completions(
    *,
    agents: Sequence[str],
    agent_tools: Sequence[str],
    basic: Sequence[str],
    state_graph: str,
    multi: Sequence[str],
    custom_node: str,
    graph_state: Sequence[str],
    subgraph_frag: str,
    subgraph_full: str,
    debug: str,
    tags: str,
    by_node: str,
    by_node_full: str,
    tool: str,
    any_llm: str,
    arbitrary_defs: str,
    arbitrary_run: str,
    writer_async: str,
) -> dict[str, Completion]:
    c: dict[str, Completion] = {}
    for ex in agents:
        c[ex] = Completion(why=_AGENT_WHY, code=_AGENT + "\n" + _WEATHER_TOOL)
    for ex in agent_tools:
        c[ex] = Completion(why=_AGENT_WHY_TOOL, code=_AGENT)
    for ex in basic:
        c[ex] = Completion(
            why="graph and inputs: the two-node graph of 'Stream graph state', run on its input",
            before=(state_graph,),
            code='inputs = {"topic": "ice cream"}\n',
        )
    for ex in multi:
        c[ex] = Completion(
            why="graph and inputs: the 'Stream custom data' node example (it writes custom data)",
            before=(custom_node,),
        )
    for ex in graph_state:
        c[ex] = Completion(why="graph: defined in the block above", before=(state_graph,))
    c[subgraph_frag] = Completion(
        why="graph: the parent graph of 'Extended example: streaming from subgraphs'",
        before=(subgraph_full,),
    )
    c[debug] = Completion(
        why="graph: the two-node graph of 'Stream graph state'", before=(state_graph,)
    )
    c[tags] = Completion(
        why="graph = ...: a graph calling llm_1 and llm_2 like 'Extended example: filtering by tags'",
        edits=(_TAGS_EDIT,),
    )
    c[by_node] = Completion(
        why="graph and inputs: 'Extended example: streaming LLM tokens from specific nodes'",
        before=(by_node_full,),
        code='inputs = {"topic": "cats"}\n',
    )
    c[tool] = Completion(
        why="graph = ...: a one-node graph whose node invokes the tool; inputs as in the node tab",
        edits=(_TOOL_EDIT,),
    )
    c[any_llm] = Completion(
        why=(
            "State, StateGraph, START and your_custom_streaming_client are not defined; "
            "'Add other nodes and edges as needed' must at least add the entry edge"
        ),
        code=_ANY_LLM_CODE,
        edits=(_ANY_LLM_EDIT,),
    )
    c[arbitrary_defs] = Completion(
        why="get_stream_writer is used but not imported",
        code="from langgraph.config import get_stream_writer\n",
    )
    c[arbitrary_run] = Completion(why="continues the block above", before=(arbitrary_defs,))
    c[writer_async] = Completion(
        why="StateGraph and START are not imported",
        code="from langgraph.graph import START, StateGraph\n",
    )
    return c


COMPLETIONS: dict[str, Completion] = {
    # 000: the custom-data page
    "000:51": Completion(
        why="graph = ...: a one-node graph whose node invokes the tool", edits=(_TOOL_EDIT,)
    ),
    **_page_completions(
        agents=("003:44", "003:61", "003:104", "003:122", "003:276", "003:293"),
        agent_tools=("003:168", "003:197"),
        basic=("003:345", "003:352"),
        state_graph="003:497",
        multi=("003:459", "003:466"),
        custom_node="003:1244",
        graph_state=("003:558", "003:584"),
        subgraph_frag="003:612",
        subgraph_full="003:648",
        debug="003:772",
        tags="003:911",
        by_node="003:1089",
        by_node_full="003:1126",
        tool="003:1278",
        any_llm="003:1386",
        arbitrary_defs="003:1464",
        arbitrary_run="003:1554",
        writer_async="003:1804",
    ),
    **_page_completions(
        agents=(),
        agent_tools=(),
        basic=("004:11", "004:18"),
        state_graph="004:104",
        multi=("004:85", "004:92"),
        custom_node="004:483",
        graph_state=("004:137", "004:150"),
        subgraph_frag="004:166",
        subgraph_full="004:180",
        debug="004:240",
        tags="004:314",
        by_node="004:398",
        by_node_full="004:414",
        tool="004:517",
        any_llm="004:550",
        arbitrary_defs="004:586",
        arbitrary_run="004:676",
        writer_async="004:789",
    ),
}

# 001 is a notebook: each code cell runs after every code cell above it (its
# "fragments" lean on the cells before them).  The four tab blocks at the top come before
# the graph is defined; they are completed with the "Define graph" cell and its input.
NOTEBOOK_INTRO = {
    "001:130": "001:200",
    "001:137": "001:200",
    "001:148": "001:200",
    "001:155": "001:200",
}
NOTEBOOK_INTRO_CODE = 'inputs = {"topic": "ice cream"}\n'


# ------------------------------------------------------------------------- rewriting

# Imports the seed docs use that need a network or a server: replaced by test fakes.
FAKE_IMPORTS = {
    "from langchain.chat_models import init_chat_model": "from fakes import init_chat_model",
    "from langchain_openai import ChatOpenAI": "from fakes import ChatOpenAI",
    "from openai import AsyncOpenAI": "from fakes import AsyncOpenAI",
}
_FROM_LANGGRAPH = re.compile(r"^(\s*)from langgraph((?:\.\w+)*) import ", re.MULTILINE)
_IMPORT_LANGGRAPH = re.compile(r"^(\s*)import langgraph\b", re.MULTILINE)


def rewrite(source: str, target: str) -> str:
    """Change imports only: ``langgraph.*`` to ``stepgraph.*`` (for target "stepgraph")
    and network clients to :mod:`fakes` (for both targets)."""
    for old, new in FAKE_IMPORTS.items():
        source = re.sub(rf"^(\s*){re.escape(old)}\b", rf"\g<1>{new}", source, flags=re.MULTILINE)
    if target == "stepgraph":
        source = _FROM_LANGGRAPH.sub(r"\1from stepgraph\2 import ", source)
        source = _IMPORT_LANGGRAPH.sub(r"\1import stepgraph", source)
    elif target != "langgraph":
        raise ValueError(f"unknown target {target!r}")
    return source


def imported_modules(source: str) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
        elif isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
    return mods


def _apply_edits(example: Example, completion: Completion | None) -> str:
    source = example.source
    for old, new in completion.edits if completion else ():
        if source.count(old) != 1:
            raise ValueError(f"{example.id}: edit target not found exactly once: {old!r}")
        source = source.replace(old, new)
    return source


def program(inv: Inventory, example_id: str, target: str) -> Program:
    """The cells a test runs for ``example_id`` on ``target``, imports rewritten."""
    cells = _cells(inv, example_id, seen=())
    return Program(
        example_id=example_id,
        cells=tuple(Cell(c.id, rewrite(c.source, target), c.notebook) for c in cells),
    )


def _cells(inv: Inventory, example_id: str, seen: tuple[str, ...]) -> list[Cell]:
    if example_id in seen:
        raise ValueError(f"completion cycle: {(*seen, example_id)}")
    ex = inv.example(example_id)
    if ex.kind not in ("program", "fragment"):
        raise ValueError(f"{example_id} is {ex.kind}, not runnable")
    if ex.notebook:
        return _notebook_cells(inv, ex)
    completion = COMPLETIONS.get(example_id)
    if ex.kind == "fragment" and completion is None:
        raise KeyError(f"{example_id} is a fragment without a completion")
    cells: list[Cell] = []
    for before in completion.before if completion else ():
        cells.extend(_cells(inv, before, (*seen, example_id)))
    if completion and completion.code:
        cells.append(Cell(f"{example_id}+completion", completion.code))
    cells.append(Cell(example_id, _apply_edits(ex, completion)))
    return cells


def notebook_flow(inv: Inventory, file_prefix: str) -> list[Example]:
    """The notebook's code cells in order, as "Run all" executes them."""
    return [
        ex
        for ex in inv.examples
        if ex.notebook
        and ex.id.startswith(file_prefix + ":")
        and ex.kind in ("program", "fragment")
        and ex.id not in NOTEBOOK_INTRO
    ]


def _notebook_cells(inv: Inventory, ex: Example) -> list[Cell]:
    if ex.id in NOTEBOOK_INTRO:
        graph = inv.example(NOTEBOOK_INTRO[ex.id])
        return [
            Cell(graph.id, graph.source, notebook=True),
            Cell(f"{ex.id}+completion", NOTEBOOK_INTRO_CODE, notebook=True),
            Cell(ex.id, ex.source, notebook=True),
        ]
    flow = notebook_flow(inv, ex.id.split(":")[0])
    upto = [c for c in flow if c.block.line <= ex.block.line]
    return [Cell(c.id, c.source, notebook=True) for c in upto]


def run_plan(inv: Inventory, example_id: str, target: str) -> tuple[Program, int]:
    """The program to run for ``example_id`` and the index of the cell whose stdout is
    the example's.  The notebook's cells share one run of the whole notebook: a cell's
    output does not depend on the cells after it."""
    ex = inv.example(example_id)
    if ex.notebook and example_id not in NOTEBOOK_INTRO:
        whole = program(inv, notebook_flow(inv, example_id.split(":")[0])[-1].id, target)
        return whole, [c.id for c in whole.cells].index(example_id)
    prog = program(inv, example_id, target)
    return prog, len(prog.cells) - 1


def runnable(inv: Inventory) -> Iterator[Example]:
    return (ex for ex in inv.examples if ex.kind in ("program", "fragment"))


def _main(argv: Sequence[str]) -> None:
    inv = load()
    target = argv[0] if argv else None
    for ex in inv.examples:
        print(f"== {ex.id} [{ex.kind}] {ex.block.heading!r}")
        if ex.undefined:
            print(f"   undefined: {', '.join(ex.undefined)}")
        if ex.id in COMPLETIONS:
            print(f"   completion: {COMPLETIONS[ex.id].why}")
        if ex.docs_output is not None:
            print(f"   docs output ({ex.docs_output_id}):")
            print(textwrap.indent(ex.docs_output, "   | "), end="")
        if target and ex.kind in ("program", "fragment"):
            print(textwrap.indent(program(inv, ex.id, target).text(), "   > "), end="")


if __name__ == "__main__":
    _main(sys.argv[1:])
