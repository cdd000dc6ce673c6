"""Where a stream's bytes come from: everything that is ready at each step (:mod:`.ready`, by default), the body
as httpx hands it over (where readiness cannot be known), or the opt-in coalescing window.

All have one shape, :class:`ByteSource` (sync) and :class:`AsyncByteSource`: iterate for byte pieces, then
``close()`` / ``aclose()`` (which also closes the response). :func:`sync_source` and :func:`async_source` pick one.

The coalescing window is off by default (docs/performance.md#the-coalescing-window).

Once a first chunk has been handed on, network reads that arrive within ``window`` seconds of the oldest one still
waiting are merged into one piece, so LiteLLM's per-chunk cost is paid once per window instead of once per event.
Nothing is held longer than the window, order is kept, the end of the stream goes at once, and closing the stream
closes the upstream connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import httpx
import litellm

from ..endpoint import PROVIDER
from .ready import AsyncReadyBody, ReadyBody, probe

__all__ = [
    "COALESCE_ENV",
    "AsyncByteSource",
    "AsyncCoalescer",
    "ByteSource",
    "SyncCoalescer",
    "async_source",
    "coalesce_window",
    "sync_source",
]

logger = logging.getLogger(__name__)

COALESCE_ENV = "CODEBUDDY_STREAM_COALESCE_MS"
_MAX_WINDOW_MS = 10_000.0
_BACKLOG = 4 << 20  # bytes a coalescing reader may read ahead of its consumer
_END = object()


def coalesce_window(call_value: Any = None, deployment_value: Any = None, model: str = "") -> float:
    """The window in seconds (0 = off): ``coalesce_ms`` of the call, else of the deployment, else
    ``CODEBUDDY_STREAM_COALESCE_MS``. A bad value given to the call is a BadRequestError; a bad environment value
    is logged and ignored."""
    value, source = call_value, "coalesce_ms"
    if value is None:
        value = deployment_value
    if value is None:
        value, source = os.environ.get(COALESCE_ENV), COALESCE_ENV
    if value is None or value == "":
        return 0.0
    try:
        ms = float(value)
        if not 0 <= ms <= _MAX_WINDOW_MS:
            raise ValueError
    except (TypeError, ValueError):
        if source == COALESCE_ENV:
            logger.warning("%s=%r is not a number of milliseconds in [0, 10000]: coalescing stays off", source, value)
            return 0.0
        raise litellm.BadRequestError(
            message=f"coalesce_ms must be a number of milliseconds in [0, 10000], got {value!r}",
            model=str(model),
            llm_provider=PROVIDER,
        ) from None
    return ms / 1000.0


class ByteSource(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class AsyncByteSource(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class _Body:
    """The response body as httpx hands it over."""

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp

    def __iter__(self) -> Iterator[bytes]:
        return self.resp.iter_bytes()

    def close(self) -> None:
        self.resp.close()


class _AsyncBody:
    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.resp.aiter_bytes()

    async def aclose(self) -> None:
        await self.resp.aclose()


def sync_source(resp: httpx.Response, window: float, armed: Callable[[], bool]) -> ByteSource:
    """The body of ``resp``: through the coalescing window when ``window`` > 0, else in ready pieces where
    :func:`.ready.probe` can tell what is ready, else as httpx hands it over."""
    if window:
        return SyncCoalescer(resp, window, armed)
    ready = probe(resp)
    return ReadyBody(resp, ready, armed) if ready is not None else _Body(resp)


def async_source(resp: httpx.Response, window: float, armed: Callable[[], bool]) -> AsyncByteSource:
    if window:
        return AsyncCoalescer(resp, window, armed)
    ready = probe(resp)
    return AsyncReadyBody(resp, ready, armed) if ready is not None else _AsyncBody(resp)


class SyncCoalescer:
    """The body of ``resp`` as byte pieces; once ``armed()`` (a first chunk was handed on), pieces that arrive
    within ``window`` seconds of the first one still waiting are merged into one. A reader thread owns the
    response while it runs and wakes the consumer only when it waits for a first piece or the stream ends;
    nothing that arrived is held longer than the window."""

    def __init__(self, resp: httpx.Response, window: float, armed: Callable[[], bool]) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.cond = threading.Condition(threading.Lock())
        self.pending: list[bytes] = []
        self.size = 0
        self.first = 0.0
        self.end: Any = None
        self.want = True  # the consumer waits for any piece (not only for its deadline)
        self.stop = False
        self.thread = threading.Thread(target=self._read, name="codebuddy-stream-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        cond = self.cond
        end: Any = _END
        try:
            for raw in self.resp.iter_bytes():
                with cond:
                    if self.stop:
                        return
                    if not self.pending:
                        self.first = time.monotonic()
                    self.pending.append(raw)
                    self.size += len(raw)
                    if self.want:
                        cond.notify()
                    while self.size > _BACKLOG and not self.stop:
                        cond.wait(0.1)
        except BaseException as exc:
            end = exc
        finally:
            with cond:
                self.end = end
                cond.notify()

    def __iter__(self) -> Iterator[bytes]:
        cond, window = self.cond, self.window
        while True:
            with cond:
                while not self.pending and self.end is None:
                    self.want = True
                    cond.wait()
                if self.pending and self.end is None and self.armed():
                    self.want = False  # only the deadline or the end of the stream wakes us
                    deadline = self.first + window
                    while self.end is None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        cond.wait(remaining)
                pending, end = self.pending, self.end
                if pending:
                    self.pending = []
                    self.size = 0
                    cond.notify()  # room for a reader waiting on the backlog
            if pending:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                continue
            if end is _END:
                return
            raise end

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
    """The async twin of :class:`SyncCoalescer`: a reader task appends pieces, the consumer takes what is
    ready, waiting at most until the first waiting piece is ``window`` old. An in-flight read is never
    cancelled except when the stream is closed."""

    def __init__(self, resp: httpx.Response, window: float, armed: Callable[[], bool]) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.pending: list[bytes] = []
        self.size = 0
        self.first = 0.0
        self.end: Any = None
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
        try:
            async for raw in self.resp.aiter_bytes():
                if not self.pending:
                    self.first = loop.time()
                self.pending.append(raw)
                self.size += len(raw)
                self._wake(True)
                if self.size > _BACKLOG:
                    self.space = loop.create_future()
                    await self.space
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.end = exc
        else:
            self.end = _END
        self._wake(False)

    async def pieces(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._read(loop))
        try:
            while True:
                if not self.pending and self.end is None:
                    self.wake_on_data = True
                    self.waiter = loop.create_future()
                    await self.waiter
                if self.pending and self.end is None and self.armed():
                    deadline = self.first + self.window
                    if deadline > loop.time():
                        self.wake_on_data = False  # only the deadline or the end of the stream wakes us
                        self.waiter = waiter = loop.create_future()
                        timer = loop.call_at(deadline, _resolve, waiter)
                        try:
                            await waiter
                        finally:
                            timer.cancel()
                if self.pending:
                    pending, self.pending, self.size = self.pending, [], 0
                    space, self.space = self.space, None
                    if space is not None and not space.done():
                        space.set_result(None)
                    yield pending[0] if len(pending) == 1 else b"".join(pending)
                    continue
                if self.end is _END:
                    return
                raise self.end
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
