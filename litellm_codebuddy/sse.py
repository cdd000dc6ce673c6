"""An incremental, byte-level Server-Sent Events decoder.

Feed it the bytes of a response as they arrive; it returns the ``data`` of every event completed so far.
It follows the WHATWG rules that matter for a chat stream: lines end in CR, LF or CRLF (a CR at the end of
one chunk and an LF at the start of the next are one line end), lines starting with ``:`` are comments,
several ``data:`` lines make one event joined with ``\\n``, one space after the colon is removed and nothing
else is stripped. Lines are decoded as UTF-8 only once complete, so a character split between chunks is
fine; bytes that are not UTF-8 raise :class:`SSEDecodeError`.
"""

from __future__ import annotations

__all__ = ["SSEDecodeError", "SSEDecoder"]


class SSEDecodeError(ValueError):
    """A data line that is not valid UTF-8."""


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_skip_lf")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[str]:
        """Consume ``chunk``; return the data of each event it completes, in order."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            tail = b""
            if buf[-1:] == b"\r":
                # a CR at the end may be the first half of a CRLF: end the line now, skip a leading LF later
                buf, tail, self._skip_lf = buf[:-1], b"\n", True
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        lines = buf.split(b"\n")
        self._buf = lines.pop()
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
                data.append(value.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise SSEDecodeError(f"a data line of the stream is not valid UTF-8 ({exc.reason})") from None
        return events

    def flush(self) -> list[str]:
        """End of stream: dispatch an event whose blank line never came (a lenient reading)."""
        events = self.feed(b"\n\n") if (self._buf or self._data) else []
        self._buf, self._data, self._skip_lf = b"", [], False
        return events
