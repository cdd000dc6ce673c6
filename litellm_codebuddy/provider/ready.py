"""The response body as "everything that is ready": each piece is one read plus every further read that can be
handed over without waiting for the network (an optimisation; see the package docstring for the whole path).

Why: servers that write one HTTP chunk per SSE event (aiohttp, uvicorn, nginx) make httpx, through h11, hand over
one chunk per iteration even when hundreds are buffered, and LiteLLM pays its per-chunk cost for each. Here, once
``armed()`` (a first chunk was handed on: the first event goes out alone), a piece keeps taking the next read while
some layer between the network and h11 already holds the bytes for it (:func:`probe`, reading from the top):

1. h11's receive buffer can produce body data without any I/O (:func:`_buffered`);
2. the TLS layer holds decrypted bytes (``SSLSocket.pending()`` on the sync path, ``SSLObject.pending()`` on the
   async one) or, async, TLS records received and not yet decrypted (anyio's ``TLSStream`` incoming ``MemoryBIO``);
3. async, anyio's socket stream holds bytes the event loop already read from the socket (its protocol's queue);
4. the socket is readable now (httpcore's public ``network_stream`` extension, ``is_readable``).

No timer and no hold-back: a piece ends as soon as the next read could wait for the network. Closing the source
closes the response (and the connection, mid-stream) at once. Where the h11 connection is not found or looks
different (HTTP/2, a custom transport, respx mocks, another httpcore or h11 layout), or the body is compressed (a
piece could decode to nothing and make httpx read on), :func:`probe` returns None and the body goes on one read per
piece. Where only a lower layer looks different (another anyio, the trio backend), that layer is left out: its
bytes are not seen, the piece ends early, nothing waits.

:class:`Gather` is the merging decision, written once; :class:`ReadyBody` and :class:`AsyncReadyBody` only pull.
"""

from __future__ import annotations

import collections
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import h11
import httpx

__all__ = ["AsyncReadyBody", "Gather", "ReadyBody", "probe"]

_MAX_PIECE = 1 << 20  # bytes per piece: a far-behind consumer gets several pieces, never the whole answer at once
_HOPS = ("stream", "_httpcore_stream", "_stream", "_connection")  # _Counted, httpx, httpcore pool, httpcore h11

Check = Callable[[], bool]


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


def _below_h11(network: Any) -> dict[str, Check]:
    """Checks for bytes held between the socket and h11 (TLS, anyio), by name, each only where its layout is
    recognised (a layer that looks different is left out: its bytes are not seen)."""
    checks: dict[str, Check] = {}
    sock = network.get_extra_info("socket")
    if isinstance(sock, ssl.SSLSocket):  # sync: OpenSSL reads records from the socket only as it needs them
        checks["tls decrypted"] = lambda: sock.pending() > 0
        return checks
    ssl_object = network.get_extra_info("ssl_object")
    stream = getattr(network, "_stream", None)  # httpcore's AnyIOStream: the anyio byte stream
    if isinstance(ssl_object, ssl.SSLObject):
        checks["tls decrypted"] = lambda: ssl_object.pending() > 0
        incoming = getattr(stream, "_read_bio", None)  # anyio's TLSStream: records received, not yet decrypted
        if isinstance(incoming, ssl.MemoryBIO) and getattr(stream, "_ssl_object", None) is ssl_object:
            checks["tls received"] = lambda: incoming.pending > 0
        stream = getattr(stream, "transport_stream", None)
    queue = getattr(getattr(stream, "_protocol", None), "read_queue", None)  # anyio's asyncio SocketStream
    if isinstance(queue, collections.deque):
        checks["event loop read"] = lambda: bool(queue)
    return checks


def probe(resp: httpx.Response) -> Check | None:
    """A function telling whether the next body piece of ``resp`` is ready now, or None where that cannot be known."""
    if resp.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return None
    conn = _h11_of(resp)
    network = resp.extensions.get("network_stream")
    if conn is None or network is None or _buffered(conn) is None:
        return None
    extra = network.get_extra_info
    below = tuple(_below_h11(network).values())

    def ready() -> bool:
        return bool(_buffered(conn)) or any(check() for check in below) or bool(extra("is_readable"))

    return ready


def _never() -> bool:
    return False


class Gather:
    """The merging decision, pure: :meth:`take` adds one read and says whether the piece should take the next read
    too (once ``armed()``, while ``ready()``, up to ``_MAX_PIECE`` bytes); :meth:`piece` hands the reads on as one."""

    __slots__ = ("armed", "parts", "ready", "size")

    def __init__(self, ready: Check, armed: Check) -> None:
        self.ready, self.armed = ready, armed
        self.parts: list[bytes] = []
        self.size = 0

    def take(self, raw: bytes) -> bool:
        self.parts.append(raw)
        self.size += len(raw)
        return self.size < _MAX_PIECE and self.armed() and self.ready()

    def piece(self) -> bytes:
        parts = self.parts
        self.parts, self.size = [], 0
        return parts[0] if len(parts) == 1 else b"".join(parts)


class ReadyBody:
    """The body of ``resp`` in pieces of everything ready; with ``ready`` None, one read per piece (as httpx gives
    it). A read that fails after others were gathered hands those on first, then raises."""

    def __init__(self, resp: httpx.Response, ready: Check | None, armed: Check) -> None:
        self.resp, self.ready, self.armed = resp, ready or _never, armed

    def __iter__(self) -> Iterator[bytes]:
        pull = iter(self.resp.iter_bytes()).__next__
        gather = Gather(self.ready, self.armed)
        while True:
            try:
                while gather.take(pull()):
                    pass
            except StopIteration:
                if gather.parts:
                    yield gather.piece()
                return
            except Exception:
                if gather.parts:
                    yield gather.piece()
                raise
            yield gather.piece()

    def close(self) -> None:
        self.resp.close()


class AsyncReadyBody:
    """:class:`ReadyBody` on an async response: the same :class:`Gather`, awaited reads."""

    def __init__(self, resp: httpx.Response, ready: Check | None, armed: Check) -> None:
        self.resp, self.ready, self.armed = resp, ready or _never, armed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pull = aiter(self.resp.aiter_bytes()).__anext__
        gather = Gather(self.ready, self.armed)
        while True:
            try:
                while gather.take(await pull()):
                    pass
            except StopAsyncIteration:
                if gather.parts:
                    yield gather.piece()
                return
            except Exception:
                if gather.parts:
                    yield gather.piece()
                raise
            yield gather.piece()

    async def aclose(self) -> None:
        await self.resp.aclose()
