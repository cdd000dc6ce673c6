"""Writing an answer as a server-sent-events stream, with the stream faults of the directives.

``data: {json}\\n\\n`` events, then ``data: [DONE]\\n\\n``, in a chunked HTTP body.  By default every SSE event is
its own HTTP chunk, written and drained on its own, the way servers on aiohttp, uvicorn or behind nginx send
them (a ``comments`` block goes in its event's chunk).  The directive ``burst`` buffers instead: events go out
together, one HTTP chunk per flush, when paced (``pace=``, ``jitter=``: see ``pacing``), around a stall, and
whenever 64 KB are pending.  Over TLS each HTTP chunk is its own TLS write (its own record).  The other faults
(``stall``, ``cut``, ``midstream``, ``nofinish``, ``nodone``, ``garbage``, ``crlf``, ``comments``, ``multiline``)
are described in the table of ``directives``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .answer import Answer, events, finish_chunk
from .codes import business_message, request_id
from .directives import Faults
from .http import ChunkedBody, abort, sleep_watching
from .pacing import Schedule

FLUSH_BYTES = 64 << 10


class SSEWriter:
    """Frames SSE events (line endings, comments, split data lines as the directives say) and writes them: each
    as its own HTTP chunk, or, with ``burst``, buffered until :meth:`flush`."""

    __slots__ = ("body", "burst", "comments", "multiline", "nl", "pending", "size")

    def __init__(self, body: ChunkedBody, f: Faults) -> None:
        self.body = body
        self.nl = b"\r\n" if f.crlf else b"\n"
        self.comments = f.comments
        self.multiline = f.multiline
        self.burst = f.burst
        self.pending: list[bytes] = []
        self.size = 0

    async def event(self, payload: str) -> None:
        nl = self.nl
        comment = b": keep-alive" + nl + nl if self.comments else b""
        if self.multiline and payload.startswith("{"):
            cut = payload.find(",") + 1
            data = b"data: " + payload[:cut].encode() + nl + b"data: " + payload[cut:].encode() + nl + nl
        else:
            data = b"data: " + payload.encode() + nl + nl
        await self.raw(comment + data)

    async def raw(self, data: bytes) -> None:
        self.pending.append(data)
        self.size += len(data)
        if not self.burst:
            await self.flush()

    async def flush(self, last: bool = False) -> None:
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        self.size = 0
        await self.body.write(data, last=last)


async def write_stream(
    ans: Answer, text: str, images: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool
) -> bool:
    """Stream the answer; returns whether the connection stays open.  Raises ``Gone`` when the client left."""
    f = ans.faults
    body = ChunkedBody(reader, writer)
    body.start("text/event-stream", keep)
    out = SSEWriter(body, f)
    paced = f.paced
    schedule = Schedule(f.pace or 0.0, f.jitter or 0.0, ans.seed)
    cut, midstream = f.cut, f.midstream
    limit: int | None = None
    if cut is not None:
        limit = 3 if cut == "reset" else int(cut)
    elif midstream is not None:
        limit = 3
    count = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    for payload in events(ans, text, images):
        if limit is not None and count >= limit:
            break
        if count and paced:
            # absolute schedule: event k goes out at start + its offset, no drift from our own overhead
            await asyncio.sleep(max(0.0, start + schedule.next() - loop.time()))
        await out.event(payload)
        count += 1
        if count == 1:
            if f.garbage:
                await out.raw(b"data: {not json" + out.nl + out.nl + b"data: \xff\xfe" + out.nl + out.nl)
            if f.stall:
                await out.flush()
                await sleep_watching(f.stall, reader, writer)
                start += f.stall
        if paced or out.size >= FLUSH_BYTES:
            await out.flush()
    if cut is not None:
        if cut == "reset":
            await out.flush()
            await asyncio.sleep(0.05)
            abort(writer)
            return False
        await out.flush(last=True)
        return keep
    if midstream is not None:
        if isinstance(midstream, int):
            err: dict[str, Any] = {"code": midstream, "msg": business_message(midstream)[0], "requestId": request_id()}
        else:
            err = {"error": {"message": "upstream model error", "type": "server_error"}}
        await out.event(json.dumps(err, ensure_ascii=False))
        await out.flush(last=True)
        return keep
    if paced and count:
        await out.flush()
        await asyncio.sleep(max(0.0, start + schedule.next() - loop.time()))
    if not f.nofinish:
        await out.event(finish_chunk(ans))
    if not f.nodone:
        await out.raw(b"data: [DONE]" + out.nl + out.nl)
    await out.flush(last=True)
    return keep
