"""An incremental, byte-level Server-Sent Events decoder.

Feed it the bytes of a response as they arrive; it returns the ``data`` of every event completed so far.
It follows the WHATWG rules that matter for a chat stream: lines end in CR, LF or CRLF (a CR at the end of
one chunk and an LF at the start of the next are one line end), lines starting with ``:`` are comments,
several ``data:`` lines make one event joined with ``\\n``, one space after the colon is removed and nothing
else is stripped. Lines are decoded as UTF-8 only once complete, so a character split between chunks is
fine; a data line that is not UTF-8 raises :class:`SSEDecodeError`, once the events completed before it were
returned: from the next ``feed`` or ``flush`` (so a reader that stops at ``[DONE]`` never sees bytes after it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["SSEDecodeError", "SSEDecoder"]


class SSEDecodeError(ValueError):
    """A data line that is not valid UTF-8."""


_LONG = 1 << 20  # an unfinished line longer than this is grown in place and decoded without copies


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_error", "_long", "_skip_lf")

    def __init__(self) -> None:
        self._error: SSEDecodeError | None = None
        self._buf = b""
        self._data: list[str] = []
        self._long: bytearray | None = None
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[str]:
        """Consume ``chunk``; return the data of each event it completes, in order. Raises the decoding error of
        an earlier chunk (whose events before the bad line were returned)."""
        self._raise_pending()
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if self._long is not None or len(self._buf) + len(chunk) > _LONG:
            return self._feed_long(chunk)
        return self._feed(self._buf + chunk if self._buf else chunk)

    def _feed(self, buf: bytes) -> list[str]:
        if b"\r" in buf:
            tail = b""
            if buf[-1:] == b"\r":
                # a CR at the end may be the first half of a CRLF: end the line now, skip a leading LF later
                buf, tail, self._skip_lf = buf[:-1], b"\n", True
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        return self._dispatch(lines)

    def _feed_long(self, chunk: bytes) -> list[str]:
        """A very long line (a multi-megabyte event): grow one buffer in place instead of re-joining it on
        every read, and decode its lines from views of it, so it is never held more than once as bytes."""
        long = self._long
        if long is None:
            long = self._long = bytearray(self._buf)
            self._buf = b""
        long += chunk
        if b"\n" not in chunk and b"\r" not in chunk:
            return []
        self._long = None
        if b"\r" in long:  # CR line ends: rare, take the general path (it copies)
            return self._feed(bytes(long))
        end = long.rfind(b"\n")
        with memoryview(long) as view:
            self._buf = bytes(view[end + 1 :])
            return self._dispatch(view[:end].tobytes().split(b"\n") if end < _LONG else _views(long, view, end))

    def _dispatch(self, lines: Any) -> list[str]:
        events: list[str] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else "\n".join(data))
                    data = self._data = []
                continue
            if line[0] == 0x3A:  # ":" comment / keep-alive
                continue
            if line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
            elif line == b"data":
                value = b""
            else:
                continue  # event:, id:, retry: and unknown fields carry nothing we use
            try:
                data.append(str(value, "utf-8"))
            except UnicodeDecodeError as exc:
                error = SSEDecodeError(f"a data line of the stream is not valid UTF-8 ({exc.reason})")
                if not events:
                    raise error from None
                self._error = error  # the events before it first; raised by the next feed or flush
                self._buf = b""
                return events
        return events

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            self._buf, self._data, self._long, self._skip_lf = b"", [], None, False
            raise error

    def flush(self) -> list[str]:
        """End of stream: dispatch an event whose blank line never came (a lenient reading); raises a decoding
        error still pending."""
        self._raise_pending()
        events = self.feed(b"\n\n") if (self._buf or self._data or self._long) else []
        self._buf, self._data, self._long, self._skip_lf = b"", [], None, False
        return events


def _views(buf: bytearray, view: memoryview, end: int) -> Iterator[memoryview]:
    """The lines of ``buf[:end]`` as views (no copies); ``end`` is the position of the last LF."""
    start = 0
    find = buf.find
    while start <= end:
        stop = find(b"\n", start, end + 1)
        if stop < 0:
            return
        yield view[start:stop]
        start = stop + 1
