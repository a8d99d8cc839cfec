"""A bounded FIFO from one run (its event loop and its worker threads) to one reader.

Cheaper than a memory object stream per item: putting or taking a ready item is a
deque operation; only waiting goes through the event loop. Writers on the loop
thread either wait for room (:meth:`Handoff.put`) or, when they cannot wait (sync code
on the loop thread), append past the bound (:meth:`Handoff.put_nowait`); writers in
worker threads block their thread while the buffer is full
(:meth:`Handoff.put_from_thread`). Items leave in the order they were put.

Custom-mode data travels as a plain ``(namespace, data)`` tuple instead of a
:class:`~stepgraph._events.CustomEvent` (a stream may carry a million of them); every
other item is an event record.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

__all__ = ["Handoff"]


def _threadsafe_scheduler() -> Callable[[Callable[[], object]], object]:
    """A function that schedules a callback on the current event loop from any thread,
    without waiting for it."""
    try:
        import asyncio

        return asyncio.get_running_loop().call_soon_threadsafe
    except RuntimeError:
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon


class Handoff:
    """Items from a run to its reader; at most ``capacity`` wait unless a writer cannot.

    Create it on the event loop thread (in a task). The reader and loop-side writers
    live on that thread; :meth:`put_from_thread` is for worker threads.
    """

    def __init__(self, capacity: int) -> None:
        self.items: deque[Any] = deque()
        self.capacity = max(1, capacity)
        self.closed = False
        """The run ended: nothing more comes (the reader sees the end once empty)."""
        self.abandoned = False
        """The reader left: writes are dropped and nobody waits any more."""
        self.reader: anyio.Event | None = None
        """Set while the reader waits for an item."""
        self.room: anyio.Event | None = None
        """Set while loop-side writers wait for room."""
        self._cond = threading.Condition(threading.Lock())
        self._thread_waiters = 0
        self._woken: list[anyio.Event] = []
        self._schedule = _threadsafe_scheduler()
        self._loop_thread = threading.get_ident()

    # -- writers ---------------------------------------------------------------------

    def put_nowait(self, item: Any) -> None:
        """Append now (loop thread, never waits: may exceed the bound)."""
        if self.abandoned:
            return
        self.items.append(item)
        reader = self.reader
        if reader is not None:
            self.reader = None
            reader.set()

    async def put(self, item: Any) -> None:
        """Append once there is room (loop thread)."""
        while len(self.items) >= self.capacity and not self.abandoned:
            room = self.room
            if room is None:
                room = self.room = anyio.Event()
            await room.wait()
        self.put_nowait(item)

    def put_from_thread(self, item: Any) -> None:
        """Append from a worker thread, blocking it while the buffer is full.

        Lock-free while there is room: the reader publishes its wake-up event before
        it looks at :attr:`items` one last time, and this appends before it looks for
        that event, so one of the two always sees the other (the GIL orders them).
        """
        items = self.items
        if len(items) >= self.capacity:
            with self._cond:
                self._thread_waiters += 1  # counted before the check: no lost wake-up
                try:
                    while len(items) >= self.capacity and not self.abandoned:
                        self._cond.wait()
                finally:
                    self._thread_waiters -= 1
        if self.abandoned:
            return
        items.append(item)
        reader = self.reader
        if reader is not None and reader not in self._woken:
            self._woken.append(reader)  # wake it once, however many threads write
            try:
                self._schedule(reader.set)
            except RuntimeError:  # the loop is gone: nobody reads any more
                pass

    def close(self) -> None:
        """The writers are done (loop thread)."""
        self.closed = True
        reader = self.reader
        if reader is not None:
            self.reader = None
            reader.set()

    def abandon(self) -> None:
        """The reader is done: drop later writes and release every waiting writer.
        (What already waits stays: a reader woken for it still gets it.)"""
        self.abandoned = True
        room = self.room
        if room is not None:
            self.room = None
            if threading.get_ident() == self._loop_thread:
                room.set()
            else:  # e.g. a stream collected by another thread
                try:
                    self._schedule(room.set)
                except RuntimeError:
                    pass
        if self._thread_waiters:
            with self._cond:
                self._cond.notify_all()

    # -- the reader -------------------------------------------------------------------

    def took(self) -> None:
        """Call after taking items off :attr:`items`: wakes writers waiting for room."""
        if len(self.items) < self.capacity:
            room = self.room
            if room is not None:
                self.room = None
                room.set()
            if self._thread_waiters:
                with self._cond:
                    self._cond.notify_all()

    async def wait(self) -> None:
        """Wait until there is an item or the writers are done."""
        reader = self.reader = anyio.Event()  # published before the last look
        if self.items or self.closed:
            self.reader = None
            return
        try:
            await reader.wait()
        finally:
            if self.reader is reader:
                self.reader = None
            self._woken.clear()

    @property
    def writers_wait(self) -> bool:
        """Whether a writer waits for room (the reader then calls :meth:`took`)."""
        return self.room is not None or self._thread_waiters > 0
