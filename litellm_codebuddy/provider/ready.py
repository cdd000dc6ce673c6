"""The response body as "everything that is ready": each piece is one read plus every further piece that is
already received and can be handed over without waiting for the network.

Why: servers that write one HTTP chunk per SSE event (aiohttp, uvicorn, nginx) make httpx, through h11, hand over
one chunk per iteration even when hundreds are buffered, and LiteLLM pays its per-chunk cost for each. Here, once
``armed()`` (a first chunk was handed on; the first event goes out alone), a piece keeps taking the next one while

* h11's receive buffer can produce body data without any I/O (a complete chunk header and at least one byte of
  data, or data of a chunk already begun), or
* the connection's socket is readable now (httpcore's public ``network_stream`` extension, ``is_readable``).

No timer and no hold-back: a piece ends as soon as the next read could wait for the network. Closing the source
closes the response (and the connection, mid-stream) at once, as before. The h11 connection is found through
httpcore's objects behind ``response.stream`` and checked field by field; where it is not found or looks different
(HTTP/2, a custom transport, respx mocks, another httpcore or h11 layout), or the body is compressed (a piece
could decode to nothing and make httpx read on), :func:`probe` returns None and the body is handed on as httpx
gives it, as before. Socket data that a TLS layer or anyio has already buffered is not seen: the piece ends early,
nothing waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import h11
import httpx

__all__ = ["AsyncReadyBody", "ReadyBody", "probe"]

_MAX_PIECE = 1 << 20  # bytes per piece: a far-behind consumer gets several pieces, never the whole answer at once
_HOPS = ("stream", "_httpcore_stream", "_stream", "_connection")  # _Counted, httpx, httpcore pool, httpcore h11


def _h11_of(resp: httpx.Response) -> h11.Connection | None:
    """The h11 connection behind ``resp``'s body, when the body is httpcore's HTTP/1.1 stream on that connection."""
    network = resp.extensions.get("network_stream")
    obj: Any = resp.stream
    for _ in range(8):
        conn = getattr(obj, "_h11_state", None)
        if conn is not None:
            ok = isinstance(conn, h11.Connection) and getattr(obj, "_network_stream", None) is network
            return conn if ok else None
        obj = next((getattr(obj, hop) for hop in _HOPS if getattr(obj, hop, None) is not None), None)
        if obj is None:
            return None
    return None


def _buffered(conn: h11.Connection) -> bool | None:
    """Whether h11 holds body data it can hand over without I/O; None when its internals are not as expected."""
    buf = getattr(getattr(conn, "_receive_buffer", None), "_data", None)
    reader = getattr(conn, "_reader", None)
    if not isinstance(buf, bytearray) or reader is None:
        return None
    if hasattr(reader, "_bytes_in_chunk"):  # ChunkedReader
        if reader._reading_trailer:
            return False  # the end of the message: the next step takes it
        discard = reader._bytes_to_discard  # the CRLF after a chunk: bytes (h11 >= 0.15) or a count (older)
        start = discard if isinstance(discard, int) else len(discard)
        if reader._bytes_in_chunk:
            return len(buf) > start
        eol = buf.find(b"\r\n", start)
        if eol < 0 or len(buf) <= eol + 2:
            return False  # no complete chunk header, or no data after it yet
        return buf[start:eol].split(b";", 1)[0].strip() not in (b"0", b"")  # the last chunk: h11 wants the trailer
    if hasattr(reader, "_remaining"):  # ContentLengthReader
        return bool(buf) and reader._remaining > 0
    return None


def probe(resp: httpx.Response) -> Callable[[], bool] | None:
    """A function telling whether the next body piece of ``resp`` is ready now, or None where that cannot be known."""
    if resp.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return None
    conn = _h11_of(resp)
    network = resp.extensions.get("network_stream")
    if conn is None or network is None or _buffered(conn) is None:
        return None
    extra = network.get_extra_info

    def ready() -> bool:
        return bool(_buffered(conn)) or bool(extra("is_readable"))

    return ready


class ReadyBody:
    """The body of ``resp`` in pieces of everything ready (see the module docstring)."""

    def __init__(self, resp: httpx.Response, ready: Callable[[], bool], armed: Callable[[], bool]) -> None:
        self.resp, self.ready, self.armed = resp, ready, armed

    def __iter__(self) -> Iterator[bytes]:
        pull = iter(self.resp.iter_bytes()).__next__
        ready, armed = self.ready, self.armed
        while True:
            try:
                raw = pull()
            except StopIteration:
                return
            if not (armed() and ready()):
                yield raw
                continue
            parts, size, failure, ended = [raw], len(raw), None, False
            while size < _MAX_PIECE and ready():
                try:
                    raw = pull()
                except StopIteration:
                    ended = True
                    break
                except Exception as exc:  # hand on what arrived before the failure first
                    failure = exc
                    break
                parts.append(raw)
                size += len(raw)
            yield b"".join(parts)
            if failure is not None:
                raise failure
            if ended:
                return

    def close(self) -> None:
        self.resp.close()


class AsyncReadyBody:
    """The async twin of :class:`ReadyBody`."""

    def __init__(self, resp: httpx.Response, ready: Callable[[], bool], armed: Callable[[], bool]) -> None:
        self.resp, self.ready, self.armed = resp, ready, armed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pull = aiter(self.resp.aiter_bytes()).__anext__
        ready, armed = self.ready, self.armed
        while True:
            try:
                raw = await pull()
            except StopAsyncIteration:
                return
            if not (armed() and ready()):
                yield raw
                continue
            parts, size, failure, ended = [raw], len(raw), None, False
            while size < _MAX_PIECE and ready():
                try:
                    raw = await pull()
                except StopAsyncIteration:
                    ended = True
                    break
                except Exception as exc:
                    failure = exc
                    break
                parts.append(raw)
                size += len(raw)
            yield b"".join(parts)
            if failure is not None:
                raise failure
            if ended:
                return

    async def aclose(self) -> None:
        await self.resp.aclose()
