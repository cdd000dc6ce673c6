"""Where a stream's bytes come from (the package docstring describes the whole path): the body as httpx's public
iterator hands it over (by default: on the async path, through LiteLLM's aiohttp transport where LiteLLM uses it,
each piece is everything the connection holds), or the opt-in coalescing window.

All have one shape, :class:`ByteSource` (sync) and :class:`AsyncByteSource`: iterate for byte pieces, then
``close()`` / ``aclose()`` (which also closes the response). :func:`sync_source` and :func:`async_source` pick one.

The coalescing window (:mod:`.window`: fixed, or following how busy the process is; see
docs/performance.md#the-coalescing-window): once a first chunk has been handed on, network reads that arrive within
the window of the oldest one still waiting are merged into one piece, so LiteLLM's per-chunk cost is paid once per
window instead of once per event.
Nothing is held longer than the window, order is kept, the end of the stream goes at once, and closing the stream
closes the upstream connection at once. A reader thread (sync) or task (async) reads while the consumer waits;
:class:`Backlog` is what both share.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import httpx

from .window import COALESCE_ENV, METER, Window

__all__ = [
    "COALESCE_ENV",
    "AsyncBody",
    "AsyncByteSource",
    "AsyncCoalescer",
    "Backlog",
    "Body",
    "ByteSource",
    "SyncCoalescer",
    "async_source",
    "sync_source",
]

_BACKLOG = 4 << 20  # bytes a coalescing reader may read ahead of its consumer
_END = object()


class ByteSource(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class AsyncByteSource(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


def sync_source(resp: httpx.Response, window: Window, armed: Callable[[], bool]) -> ByteSource:
    """The body of ``resp``: through the coalescing window when ``window`` > 0, else one piece per read of httpx's
    public iterator."""
    if window:
        return SyncCoalescer(resp, window, armed)
    return Body(resp)


def async_source(resp: httpx.Response, window: Window, armed: Callable[[], bool]) -> AsyncByteSource:
    if window:
        return AsyncCoalescer(resp, window, armed)
    return AsyncBody(resp)


class Body:
    """The body of ``resp`` as ``iter_bytes()`` hands it over; ``close()`` closes the response (and, mid-body, its
    connection)."""

    __slots__ = ("resp",)

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp

    def __iter__(self) -> Iterator[bytes]:
        return self.resp.iter_bytes()

    def close(self) -> None:
        self.resp.close()


class AsyncBody:
    """:class:`Body` on an async response: ``aiter_bytes()``, then ``aclose()``."""

    __slots__ = ("resp",)

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.resp.aiter_bytes()

    async def aclose(self) -> None:
        await self.resp.aclose()


class Backlog:
    """What a coalescing reader has read and its consumer not yet taken, and when the oldest of it arrived: the
    bookkeeping both coalescers share (pure; the sync one guards it with its lock, the async one with its loop)."""

    __slots__ = ("end", "first", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.first = 0.0  # when the oldest waiting read arrived (the clock of the reader's choice)
        self.end: Any = None  # None while the body goes on; then _END, or the exception the read raised

    def add(self, raw: bytes, now: float) -> None:
        if not self.parts:
            self.first = now
        self.parts.append(raw)
        self.size += len(raw)

    def full(self) -> bool:
        """The reader is ``_BACKLOG`` bytes ahead of its consumer: it waits for room."""
        return self.size > _BACKLOG

    def deadline(self, window: Window, armed: Callable[[], bool], now: float) -> float | None:
        """Until when the consumer should wait before taking (the oldest read's arrival plus the window as it is
        now), or None to take at once: nothing to take, the body ended, or no chunk was handed on yet (the first
        is never held)."""
        if not self.parts or self.end is not None or not armed():
            return None
        deadline = self.first + window.seconds(now)
        return deadline if deadline > now else None

    def take(self) -> bytes | None:
        """Everything waiting, as one piece (None when nothing is)."""
        parts = self.parts
        if not parts:
            return None
        self.parts, self.size = [], 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def finish(self) -> None:
        """Nothing waits: the body ended (return) or failed (raise what the read raised)."""
        if self.end is not _END:
            raise self.end


class SyncCoalescer:
    """The body of ``resp`` as byte pieces; once ``armed()`` (a first chunk was handed on), pieces that arrive
    within ``window`` seconds of the first one still waiting are merged into one. A reader thread owns the
    response while it runs and wakes the consumer only when it waits for a first piece or the stream ends;
    nothing that arrived is held longer than the window."""

    def __init__(self, resp: httpx.Response, window: Window, armed: Callable[[], bool]) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.cond = threading.Condition(threading.Lock())
        self.backlog = Backlog()
        self.want = True  # the consumer waits for any piece (not only for its deadline)
        self.stop = False
        self.thread = threading.Thread(target=self._read, name="codebuddy-stream-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        cond, backlog = self.cond, self.backlog
        end: Any = _END
        try:
            for raw in self.resp.iter_bytes():
                now = time.monotonic()
                METER.tick(now)
                with cond:
                    if self.stop:
                        return
                    backlog.add(raw, now)
                    if self.want:
                        cond.notify()
                    while backlog.full() and not self.stop:
                        cond.wait(0.1)
        except BaseException as exc:
            end = exc
        finally:
            with cond:
                backlog.end = end
                cond.notify()

    def __iter__(self) -> Iterator[bytes]:
        cond, window, backlog = self.cond, self.window, self.backlog
        while True:
            with cond:
                while not backlog.parts and backlog.end is None:
                    self.want = True
                    cond.wait()
                deadline = backlog.deadline(window, self.armed, time.monotonic())
                if deadline is not None:
                    self.want = False  # only the deadline or the end of the stream wakes us
                    while backlog.end is None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        cond.wait(remaining)
                piece = backlog.take()
                if piece is not None:
                    cond.notify()  # room for a reader waiting on the backlog
            if piece is None:
                backlog.finish()
                return
            yield piece

    def close(self) -> None:
        """Stop the reader at once: shut the socket down when it is still reading (that wakes a blocked read)."""
        with self.cond:
            self.stop = True
            self.cond.notify_all()
        if self.thread.is_alive():
            stream = self.resp.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.thread.join(timeout=2.0)
        self.resp.close()


class AsyncCoalescer:
    """:class:`SyncCoalescer` on an async response: a reader task adds to the same :class:`Backlog`, the consumer
    takes what is there, waiting at most until the first waiting piece is ``window`` old. An in-flight read is never
    cancelled except when the stream is closed."""

    def __init__(self, resp: httpx.Response, window: Window, armed: Callable[[], bool]) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.backlog = Backlog()
        self.waiter: asyncio.Future[None] | None = None
        self.wake_on_data = True
        self.space: asyncio.Future[None] | None = None
        self._pieces: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._pieces is None:
            self._pieces = self.pieces()
        return self._pieces

    async def aclose(self) -> None:
        """Stop the reader task (cancelling its read), then close the response."""
        pieces, self._pieces = self._pieces, None
        try:
            if pieces is not None:
                await pieces.aclose()  # type: ignore[attr-defined]
        finally:
            await self.resp.aclose()

    def _wake(self, data: bool) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done() and (self.wake_on_data or not data):
            waiter.set_result(None)

    async def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        backlog = self.backlog
        try:
            async for raw in self.resp.aiter_bytes():
                now = loop.time()
                METER.tick(now)
                backlog.add(raw, now)
                self._wake(True)
                if backlog.full():
                    self.space = loop.create_future()
                    await self.space
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            backlog.end = exc
        else:
            backlog.end = _END
        self._wake(False)

    async def pieces(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        backlog = self.backlog
        task = loop.create_task(self._read(loop))
        try:
            while True:
                if not backlog.parts and backlog.end is None:
                    self.wake_on_data = True
                    self.waiter = loop.create_future()
                    await self.waiter
                deadline = backlog.deadline(self.window, self.armed, loop.time())
                if deadline is not None:
                    self.wake_on_data = False  # only the deadline or the end of the stream wakes us
                    self.waiter = waiter = loop.create_future()
                    timer = loop.call_at(deadline, _resolve, waiter)
                    try:
                        await waiter
                    finally:
                        timer.cancel()
                piece = backlog.take()
                if piece is None:
                    backlog.finish()
                    return
                space, self.space = self.space, None
                if space is not None and not space.done():
                    space.set_result(None)
                yield piece
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
