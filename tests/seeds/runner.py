"""Run the cells of one seed program in this interpreter: ``python runner.py SPEC STATUS``.

SPEC is JSON ``{"cells": [{"source": ..., "notebook": bool}, ...]}``.  Cells share one
namespace, like a notebook or one script pasted together.  A cell may use top-level
``await`` / ``async for`` (the docs do, as in Jupyter): it then runs to completion on
one asyncio event loop kept for the whole program (or, with ``"async_backend": "trio"``
in SPEC, each such cell in its own ``trio.run``).  A notebook cell whose last
statement is an expression shows that value the way IPython does.

stdout is exactly what the cells print, each cell's output followed by the separator
``\\x1e<index>\\x1e``.  STATUS receives JSON ``[{"ok": bool, "error": str|null}, ...]``;
the run stops at the first failing cell, as "Run all" does.
"""

from __future__ import annotations

import ast
import asyncio
import faulthandler
import inspect
import json
import linecache
import os
import pprint
import sys
import traceback
import types
from pathlib import Path
from typing import Any

SEPARATOR = "\x1e"


def _install_langchain_stub() -> None:
    """Libraries resolve "provider:model" strings through ``langchain.chat_models``
    (LangGraph's create_react_agent does); serve them the offline fake."""
    import fakes

    chat_models = types.ModuleType("langchain.chat_models")
    chat_models.init_chat_model = fakes.init_chat_model  # type: ignore[attr-defined]
    package = types.ModuleType("langchain")
    package.__path__ = []
    package.chat_models = chat_models  # type: ignore[attr-defined]
    sys.modules["langchain"] = package
    sys.modules["langchain.chat_models"] = chat_models


class _Program:
    def __init__(self, async_backend: str = "asyncio") -> None:
        self.async_backend = async_backend
        # A real __main__ module, as for ``python script.py``: typing.get_type_hints and
        # pickle look classes' modules up in sys.modules.
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        self.namespace: dict[str, Any] = main.__dict__
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self, code: types.CodeType, mode: str) -> Any:
        if code.co_flags & inspect.CO_COROUTINE and self.async_backend == "trio":
            import trio

            async def cell() -> Any:
                return await eval(code, self.namespace)

            return trio.run(cell)
        if code.co_flags & inspect.CO_COROUTINE:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self.loop)
            return self.loop.run_until_complete(eval(code, self.namespace))
        if mode == "eval":
            return eval(code, self.namespace)
        exec(code, self.namespace)
        return None

    def cell(self, index: int, source: str, notebook: bool) -> None:
        filename = f"<seed cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tree = ast.parse(source, filename)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        last: ast.expr | None = None
        if notebook and tree.body and isinstance(tree.body[-1], ast.Expr):
            last = tree.body.pop().value
        self._run(compile(tree, filename, "exec", flags=flags, dont_inherit=True), "exec")
        if last is not None:
            value = self._run(
                compile(ast.Expression(last), filename, "eval", flags=flags, dont_inherit=True),
                "eval",
            )
            if value is not None:
                # IPython's display: the repr, pretty-printed at 79 columns, dicts in
                # insertion order.
                print(pprint.pformat(value, width=79, sort_dicts=False))

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


def main(spec_path: str, status_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    watchdog = float(os.environ.get("SEED_RUNNER_WATCHDOG", "0"))
    if watchdog > 0:
        # A hung program reports every thread's stack instead of dying silently.
        faulthandler.dump_traceback_later(watchdog, exit=True)
    _install_langchain_stub()
    program = _Program(spec.get("async_backend", "asyncio"))
    status: list[dict[str, Any]] = []
    try:
        for index, cell in enumerate(spec["cells"]):
            try:
                program.cell(index, cell["source"], cell["notebook"])
            except BaseException:
                error = traceback.format_exc()
                sys.stderr.write(error)
                status.append({"ok": False, "error": error})
                break
            else:
                status.append({"ok": True, "error": None})
            finally:
                sys.stdout.flush()
                sys.stdout.write(f"{SEPARATOR}{index}{SEPARATOR}")
                sys.stdout.flush()
                # written after every cell: a hung cell still leaves the others' status
                Path(status_path).write_text(json.dumps(status), encoding="utf-8")
    finally:
        program.close()
    return 0 if all(s["ok"] for s in status) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
