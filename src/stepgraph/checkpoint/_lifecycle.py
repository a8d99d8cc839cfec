"""``from_conn_string(...)`` results: usable with both ``with`` and ``async with``."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, TypeVar

__all__ = ["SaverContext"]


class _Managed(Protocol):
    def setup(self) -> None: ...
    async def asetup(self) -> None: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=_Managed)


class SaverContext(Generic[S]):
    """Creates the saver on entry (and prepares its schema), closes it on exit."""

    def __init__(self, factory: Callable[[], S]) -> None:
        self._factory = factory
        self._saver: S | None = None

    def _open(self) -> S:
        if self._saver is not None:
            raise RuntimeError("this from_conn_string() context is already in use; call it again")
        self._saver = self._factory()
        return self._saver

    def _take(self) -> S:
        saver, self._saver = self._saver, None
        assert saver is not None
        return saver

    def __enter__(self) -> S:
        saver = self._open()
        try:
            saver.setup()
        except BaseException:
            self._take().close()
            raise
        return saver

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._take().close()

    async def __aenter__(self) -> S:
        saver = self._open()
        try:
            await saver.asetup()
        except BaseException:
            await self._take().aclose()
            raise
        return saver

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._take().aclose()
