"""Run a corpus case through one API and one output mode, and normalize the result.

The harness never looks inside a library: it only calls ``invoke``/``stream`` (or their
async twins) on the compiled graph a case built, exactly as a user program would.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio
import attrs

from .normalize import Normalizer, is_interrupt, sort_key

# How a case is driven.  "trio" exists only for stepgraph; LangGraph's async API is
# asyncio-only, so the trio run of stepgraph is compared with LangGraph on asyncio.
APIS = ("sync", "asyncio", "trio")
# Every case is compared in these modes: "invoke" compares the return value, the others
# the chunks of stream(stream_mode=...).  A case may add ``extra_modes``.
MODES = (
    "invoke",
    "updates",
    "values",
    "updates+values",
    "tasks",
    "debug",
    "checkpoints",
    # every chunk-producing mode at once, nested graphs included: the interleaving of
    # modes within a step is compared too
    "values+updates+custom+messages+tasks@sub",
)

# A run that takes longer than this is recorded as a HarnessTimeout error, so a
# hanging engine fails one comparison instead of stalling the whole suite.
RUN_TIMEOUT = float(os.environ.get("STEPGRAPH_DIFF_RUN_TIMEOUT", "15"))


@attrs.frozen
class ModeSpec:
    """A mode name parsed: ``"invoke"``, ``"invoke:updates"`` (invoke with a
    stream_mode), ``"a+b"`` (a list of stream modes), ``"...@sub"`` (subgraphs=True)."""

    invoke: bool
    stream_mode: Any
    subgraphs: bool

    @classmethod
    def parse(cls, name: str) -> ModeSpec:
        base, _, flag = name.partition("@")
        if flag not in ("", "sub"):
            raise ValueError(f"unknown mode flag in {name!r}")
        invoke = base == "invoke" or base.startswith("invoke:")
        if base.startswith("invoke:"):
            base = base[len("invoke:") :]
        elif base == "invoke":
            base = ""
        parts = base.split("+") if base else []
        stream_mode: Any = None
        if len(parts) == 1:
            stream_mode = parts[0]
        elif parts:
            stream_mode = parts
        return cls(invoke=invoke, stream_mode=stream_mode, subgraphs=flag == "sub")

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.stream_mode is not None:
            out["stream_mode"] = self.stream_mode
        if self.subgraphs:
            out["subgraphs"] = True
        return out


@attrs.frozen
class FollowupContext:
    """What a follow-up input may depend on: the previous run's interrupts."""

    lib: Any
    interrupts: tuple[Any, ...]


@attrs.frozen
class Followup:
    """A follow-up input computed from the previous run (e.g. a resume map by id)."""

    make: Callable[[FollowupContext], Any]


@attrs.frozen
class Case:
    """One graph program plus how to drive it.

    ``followups`` are further inputs sent on the same config after ``input`` (for
    example ``Command(resume=...)`` after an interrupt); an entry may be a
    :class:`Followup` to compute the input from what the previous run produced.
    ``kwargs`` go to every ``invoke``/``stream`` call (``output_keys``,
    ``interrupt_before``, ...).
    """

    graph: Any
    input: Any
    config: Mapping[str, Any] | None = None
    followups: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    is_async: bool = False
    # Several tasks share a step: LangGraph streams their updates in completion order
    # (a thread-pool race in the sync API), so updates are compared as a multiset per
    # step, and interrupt lists as multisets.
    parallel: bool = False
    # Modes whose LangGraph output is itself a race and cannot be compared.
    racy: frozenset[str] = frozenset()
    # More modes to compare for this case (see ModeSpec), e.g. "custom", "tasks".
    extra_modes: tuple[str, ...] = ()
    # Called after each input's run; its (normalized) result is compared too: side
    # effects such as which nodes ran or how often a node was attempted.
    observe: Callable[[], Any] | None = None
    # Called once after all inputs as inspect(graph, config) (sync API) or awaited
    # (async API); compared as a last record.  For get_state and friends.
    inspect: Callable[[Any, Any], Any] | None = None
    # Stop reading each stream after this many chunks (closing it explicitly).
    take: int | None = None
    # LangGraph on Python < 3.11 asyncio loses the task's config in this case without
    # raising (langgraph issue #5927): test_differential skips the async comparison there.
    needs_task_context: bool = False
    note: str = ""

    def modes(self) -> tuple[str, ...]:
        return MODES + tuple(m for m in self.extra_modes if m not in MODES)


def apis_for(case: Case) -> tuple[str, ...]:
    return ("asyncio", "trio") if case.is_async else APIS


def _collect_interrupts(obj: Any, out: list[Any], seen: set[str]) -> None:
    if is_interrupt(obj):
        key = str(obj.id)
        if key not in seen:
            seen.add(key)
            out.append(obj)
    elif isinstance(obj, Mapping):
        for value in obj.values():
            _collect_interrupts(value, out, seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect_interrupts(value, out, seen)


def _inputs(case: Case) -> list[Any]:
    return [case.input, *case.followups]


def _config(case: Case) -> Any:
    return None if case.config is None else copy.deepcopy(dict(case.config))


def _resolve(item: Any, lib: Any, previous: list[Any]) -> Any:
    if isinstance(item, Followup):
        found: list[Any] = []
        _collect_interrupts(previous, found, set())
        return item.make(FollowupContext(lib=lib, interrupts=tuple(found)))
    return item


def _record(
    norm: Normalizer, spec: ModeSpec, case: Case, produced: list[Any], result: Any, error: Any
) -> dict:
    rec: dict[str, Any] = {}
    if spec.invoke:
        rec["output"] = norm(result) if error is None else None
    else:
        rec["chunks"] = [norm(chunk) for chunk in produced]
    rec["error"] = None if error is None else norm.error(error)
    if case.observe is not None:
        rec["observed"] = norm(case.observe())
    return rec


class HarnessTimeout(Exception):
    """A case run did not finish within RUN_TIMEOUT seconds."""


@contextlib.contextmanager
def _sync_deadline(seconds: float) -> Any:
    """SIGALRM-based deadline for sync runs (main thread only; else no deadline)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise HarnessTimeout(f"no result after {seconds:g} s")

    previous_handler = signal.signal(signal.SIGALRM, expire)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0]:
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)


def _strip_seq(chunks: list[Any]) -> list[Any]:
    """stepgraph numbers ``version="v2"`` parts (``seq``, gap-free from 0); LangGraph's
    carry no number. Check the numbering, then compare the parts without it."""
    if not any(isinstance(c, dict) and "type" in c and "seq" in c for c in chunks):
        return chunks
    seqs = [c.get("seq") for c in chunks]
    assert seqs == list(range(len(chunks))), f"v2 'seq' numbers are not gap-free: {seqs}"
    return [{k: v for k, v in c.items() if k != "seq"} for c in chunks]


def run_sync(case: Case, lib: Any, mode: str) -> list[dict]:
    spec = ModeSpec.parse(mode)
    norm = Normalizer()
    records = []
    previous: list[Any] = []
    for item in _inputs(case):
        value = _resolve(item, lib, previous)
        produced: list[Any] = []
        result = error = None
        try:
            with _sync_deadline(RUN_TIMEOUT):
                if spec.invoke:
                    result = case.graph.invoke(value, _config(case), **spec.kwargs(), **case.kwargs)
                    produced.append(result)
                else:
                    stream = case.graph.stream(value, _config(case), **spec.kwargs(), **case.kwargs)
                    try:
                        for chunk in stream:
                            produced.append(chunk)
                            if case.take is not None and len(produced) >= case.take:
                                break
                    finally:
                        close = getattr(stream, "close", None)
                        if close is not None:
                            close()
        except Exception as exc:
            error = exc
        records.append(_record(norm, spec, case, _strip_seq(produced), result, error))
        previous = produced
    if case.inspect is not None:
        records.append({"inspect": norm(case.inspect(case.graph, _config(case)))})
    return records


async def _run_async(case: Case, lib: Any, mode: str) -> list[dict]:
    spec = ModeSpec.parse(mode)
    norm = Normalizer()
    records = []
    previous: list[Any] = []
    for item in _inputs(case):
        value = _resolve(item, lib, previous)
        produced: list[Any] = []
        result = error = None
        try:
            with anyio.fail_after(RUN_TIMEOUT if RUN_TIMEOUT > 0 else None):
                if spec.invoke:
                    result = await case.graph.ainvoke(
                        value, _config(case), **spec.kwargs(), **case.kwargs
                    )
                    produced.append(result)
                else:
                    stream = case.graph.astream(
                        value, _config(case), **spec.kwargs(), **case.kwargs
                    )
                    try:
                        async for chunk in stream:
                            produced.append(chunk)
                            if case.take is not None and len(produced) >= case.take:
                                break
                    finally:
                        aclose = getattr(stream, "aclose", None)
                        if aclose is not None:
                            await aclose()
        except TimeoutError:
            error = HarnessTimeout(f"no result after {RUN_TIMEOUT:g} s")
        except Exception as exc:
            error = exc
        records.append(_record(norm, spec, case, _strip_seq(produced), result, error))
        previous = produced
    if case.inspect is not None:
        found = case.inspect(case.graph, _config(case))
        if hasattr(found, "__await__"):
            found = await found
        records.append({"inspect": norm(found)})
    return records


def run_case(
    case_fn: Callable[[Any], Case], lib: Any, api: str, mode: str
) -> tuple[Case, list[dict]]:
    """Build the case afresh on ``lib`` and run it: the case and one record per input."""
    if api == "sync":
        case = case_fn(lib)
        return case, run_sync(case, lib, mode)

    async def main() -> tuple[Case, list[dict]]:
        # Build inside the event loop: a case may create loop-bound objects.
        case = case_fn(lib)
        return case, await _run_async(case, lib, mode)

    return anyio.run(main, backend=api)


def run_build(build_fn: Callable[[Any], None], lib: Any) -> dict:
    """Run a builder-validation case: the error it raised, normalized (or None)."""
    try:
        build_fn(lib)
    except Exception as exc:
        return {"error": Normalizer().error(exc)}
    return {"error": None}


# -- canonical forms ----------------------------------------------------------------
#
# LangGraph streams the updates of one step in completion order, and with interrupts
# also one values chunk per interrupting task.  For ``parallel`` cases these are
# compared as multisets *within a step*; steps keep their order.  A step boundary is a
# values chunk that carries no ``__interrupt__`` key.  A plain "updates" stream has no
# boundaries of its own, so it is cut into steps with the sizes seen in the same
# case's ["updates", "values"] stream of the reference (``segment_sizes``).


def _mode_payload(chunk: Any) -> tuple[str | None, Any]:
    if isinstance(chunk, dict) and list(chunk) == ["$tuple"] and len(chunk["$tuple"]) == 2:
        mode, payload = chunk["$tuple"]
        if isinstance(mode, str):
            return mode, payload
    return None, chunk


def _has_interrupt(payload: Any) -> bool:
    return isinstance(payload, dict) and "__interrupt__" in payload


def _is_step_boundary(chunk: Any) -> bool:
    mode, payload = _mode_payload(chunk)
    return mode == "values" and not _has_interrupt(payload)


def _sort_interrupts(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {k: _sort_interrupts(v) for k, v in obj.items()}
        pending = out.get("__interrupt__")
        if isinstance(pending, list):
            out["__interrupt__"] = sorted(pending, key=sort_key)
        elif isinstance(pending, dict) and isinstance(pending.get("$tuple"), list):
            out["__interrupt__"] = {"$tuple": sorted(pending["$tuple"], key=sort_key)}
        return out
    if isinstance(obj, list):
        return [_sort_interrupts(v) for v in obj]
    return obj


def _sort_between_boundaries(chunks: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    segment: list[Any] = []
    for chunk in chunks:
        if _is_step_boundary(chunk):
            out.extend(sorted(segment, key=sort_key))
            segment = []
            out.append(chunk)
        else:
            segment.append(chunk)
    out.extend(sorted(segment, key=sort_key))
    return out


def _sort_interrupt_runs(chunks: Iterable[Any]) -> list[Any]:
    """In a values stream, sort each run of consecutive ``__interrupt__`` chunks."""
    out: list[Any] = []
    run: list[Any] = []
    for chunk in chunks:
        if _has_interrupt(chunk):
            run.append(chunk)
            continue
        out.extend(sorted(run, key=sort_key))
        run = []
        out.append(chunk)
    out.extend(sorted(run, key=sort_key))
    return out


def segment_sizes(combined: list[dict]) -> list[list[int]]:
    """Per input: how many "updates" chunks each step of an updates+values stream had."""
    sizes = []
    for rec in combined:
        counts = [0]
        for chunk in rec.get("chunks", []):
            if _is_step_boundary(chunk):
                counts.append(0)
            elif _mode_payload(chunk)[0] == "updates":
                counts[-1] += 1
        sizes.append([n for n in counts if n])
    return sizes


def _sort_by_sizes(chunks: list[Any], sizes: list[int] | None) -> list[Any]:
    if sizes is None or sum(sizes) != len(chunks):
        # Unknown or different step structure: compare the multiset; a count mismatch
        # still shows up as a difference.
        return sorted(chunks, key=sort_key)
    out: list[Any] = []
    start = 0
    for n in sizes:
        out.extend(sorted(chunks[start : start + n], key=sort_key))
        start += n
    return out


def canonical(
    case: Case, mode: str, records: list[dict], sizes: list[list[int]] | None = None
) -> list[dict]:
    """Erase the orderings LangGraph leaves to chance (see ``Case.parallel``).

    ``sizes`` (from :func:`segment_sizes`) is used for the plain "updates" mode.
    """
    if not case.parallel:
        return records
    out = []
    for index, rec in enumerate(records):
        rec = _sort_interrupts(rec)
        chunks = rec.get("chunks")
        if chunks is not None:
            if mode == "updates":
                step_sizes = sizes[index] if sizes is not None and index < len(sizes) else None
                rec["chunks"] = _sort_by_sizes(chunks, step_sizes)
            elif mode == "values":
                rec["chunks"] = _sort_interrupt_runs(chunks)
            elif "values" in (ModeSpec.parse(mode).stream_mode or ()):
                rec["chunks"] = _sort_between_boundaries(chunks)
            else:
                # No step boundaries in this stream: compare the multiset.
                rec["chunks"] = sorted(chunks, key=sort_key)
        out.append(rec)
    return out


def observe(
    case_fn: Callable[[Any], Case],
    lib: Any,
    api: str,
    mode: str,
    sizes: list[list[int]] | None = None,
) -> list[dict]:
    """``run_case`` followed by ``canonical``: what the tests compare."""
    case, records = run_case(case_fn, lib, api, mode)
    if mode == "updates" and case.parallel and sizes is None:
        # Cut the updates into steps as this library's own combined stream shows them.
        sizes = segment_sizes(run_case(case_fn, lib, api, "updates+values")[1])
    return canonical(case, mode, records, sizes)
