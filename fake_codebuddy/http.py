"""The fake's HTTP/1.1: request parser, response writer, chunked bodies, keep-alive.

Only what the fake needs, on asyncio streams. :func:`read_request` reads one request (``Content-Length`` or
chunked body, ``Content-Encoding: gzip`` as the official client sends it, ``Expect: 100-continue``, leading blank
lines tolerated) and answers malformed ones itself (400, 413, 415 or 431, then the connection closes). A request
keeps the connection alive when it is HTTP/1.1 without ``Connection: close``; every response says
``Connection: keep-alive`` or ``close`` accordingly. Fixed-length
answers go through :func:`send`/:func:`send_json`; streams through :class:`ChunkedBody`
(``Transfer-Encoding: chunked``, so the connection can be reused after the stream).

A client that went away is noticed on the next write (:class:`Gone`) or, while the fake sleeps on purpose, within
``POLL`` seconds (:func:`sleep_watching`).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import socket
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HEADER_LIMIT = 1 << 20
MAX_BODY = 64 << 20
POLL = 0.1


class Gone(Exception):
    """The client went away."""


@dataclass
class Request:
    method: str
    target: str
    path: str
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ``", "``."""
    body: bytes
    keep_alive: bool

    @property
    def query(self) -> dict[str, str]:
        """The query string as a dict (no percent-decoding: the fake's own values need none)."""
        query = self.target.partition("?")[2]
        return dict(p.partition("=")[::2] for p in query.split("&") if p)


def phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def is_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    return writer.transport.is_closing() or reader.at_eof()


def abort(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0, so the peer sees an RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def sleep_watching(seconds: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sleep, watching for the client going away (checked every ``POLL`` seconds)."""
    if seconds <= POLL:
        await asyncio.sleep(seconds)
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        if is_gone(reader, writer):
            raise Gone
        left = end - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(POLL, left))


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    while head == b"\r\n\r\n" or head.startswith(b"\r\n"):
        head = head.lstrip(b"\r\n")
        if not head:
            head = await reader.readuntil(b"\r\n\r\n")
        elif not head.endswith(b"\r\n\r\n"):
            head += await reader.readuntil(b"\r\n\r\n")
    return head


async def _read_chunked(reader: asyncio.StreamReader) -> bytes | int:
    """The body, or the HTTP status to refuse it with."""
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            return 400
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            return 413
        chunks.append((await reader.readexactly(size + 2))[:-2])


def _decoded(body: bytes, encoding: str) -> bytes | int:
    """The body without its ``Content-Encoding`` (``gzip``, ``identity`` or none), or the HTTP status to refuse it
    with: 415 for another encoding, 400 for a broken gzip stream, 413 past :data:`MAX_BODY` once inflated."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        return 415
    inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
    try:
        out = inflate.decompress(body, MAX_BODY + 1)
    except zlib.error:
        return 400
    if len(out) > MAX_BODY or inflate.unconsumed_tail:
        return 413
    if not inflate.eof:
        return 400
    return out


async def _refuse(writer: asyncio.StreamWriter, status: int, msg: str) -> None:
    body = json.dumps({"code": status, "msg": msg}, separators=(",", ":")).encode()
    await send(writer, status, body, keep_alive=False)


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """The next request on the connection; None when the client is done or the request was refused."""
    try:
        head = await _read_head(reader)
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        await _refuse(writer, 431, "request header too large")
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        await _refuse(writer, 400, "bad request line")
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            await _refuse(writer, 400, "bad header line")
            return None
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    connection = headers.get("connection", "").lower()
    keep_alive = version == "HTTP/1.1" and "close" not in connection
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
        if isinstance(body, int):
            await _refuse(writer, body, "bad chunk" if body == 400 else "body too large")
            return None
    else:
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            await _refuse(writer, 413, "bad or too large body")
            return None
        body = await reader.readexactly(length) if length else b""
    decoded = _decoded(body, headers.get("content-encoding", ""))
    if isinstance(decoded, int):
        why = {400: "bad gzip body", 413: "body too large", 415: "unsupported content encoding"}[decoded]
        await _refuse(writer, decoded, why)
        return None
    body = decoded
    path = target.split("?", 1)[0]
    return Request(method.upper(), target, path, headers, body, keep_alive)


def _connection(keep_alive: bool) -> str:
    return "keep-alive" if keep_alive else "close"


async def send(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    keep_alive: bool,
    content_type: str = "application/json",
    extra: Iterable[tuple[str, str]] = (),
    head_only: bool = False,
) -> bool:
    """Write a whole response; returns ``keep_alive`` (whether the connection serves another request)."""
    lines = [
        f"HTTP/1.1 {status} {phrase(status)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        f"Connection: {_connection(keep_alive)}",
        "Server: fake-codebuddy",
    ]
    lines.extend(f"{k}: {v}" for k, v in extra)
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if not head_only:
        data += body
    if writer.transport.is_closing():
        raise Gone
    writer.write(data)
    await writer.drain()
    return keep_alive


async def send_json(
    writer: asyncio.StreamWriter,
    status: int,
    obj: Any,
    *,
    keep_alive: bool,
    extra: Iterable[tuple[str, str]] = (),
) -> bool:
    body = json.dumps(obj, ensure_ascii=False).encode()
    return await send(writer, status, body, keep_alive=keep_alive, extra=extra)


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` response: :meth:`start` writes the head, :meth:`write` one chunk each."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def start(self, content_type: str, keep_alive: bool) -> None:
        self.writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\n"
            f"Transfer-Encoding: chunked\r\nServer: fake-codebuddy\r\nConnection: {_connection(keep_alive)}"
            "\r\n\r\n".encode("latin-1")
        )

    async def write(self, data: bytes, last: bool = False) -> None:
        """``data`` as one chunk (none when empty), then the terminating chunk when ``last``; drains."""
        frame = b"%x\r\n%b\r\n" % (len(data), data) if data else b""
        if last:
            frame += b"0\r\n\r\n"
        if not frame:
            return
        if is_gone(self.reader, self.writer):
            raise Gone
        transport = self.writer.transport
        transport.write(frame)
        if transport.get_write_buffer_size():  # only wait when the kernel did not take it all
            try:
                await self.writer.drain()
            except ConnectionError as exc:
                raise Gone from exc
