"""The steps every stream goes through, written once: bytes in, LiteLLM chunks out.

A :class:`Pump` owns the SSE decoder, the :class:`~.stream.StreamState` and the drain budget, and decides when to
stop reading. The handler's sync and async loops only move bytes and drive it, the same three calls each::

    for raw in pieces:
        yield from pump.push(raw)   # the chunks these bytes complete (after [DONE]: nothing, the bytes are counted)
        if not pump.reading():      # [DONE] seen and the drain budget spent (raises an error that arrived after
            break                   # content, once that content was handed on)
    yield from pump.end()           # flush an event left without a blank line (no [DONE]), then the finishing
                                    # chunk, or an error when the answer was cut short

After ``[DONE]`` the loop reads on a little (up to :data:`DRAIN_LIMIT` bytes) so the body's end is read and the
connection can go back to the pool; a body that goes on longer is dropped with its connection.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .sse import SSEDecoder
from .stream import StreamState

__all__ = ["DRAIN_LIMIT", "Pump"]

DRAIN_LIMIT = 65536  # bytes read after [DONE] so the connection can go back to the pool


class Pump:
    __slots__ = ("_feed", "decoder", "drained", "state")

    def __init__(self, state: StreamState) -> None:
        self.state = state
        self.decoder = SSEDecoder()
        self._feed = self.decoder.feed
        self.drained = 0

    def push(self, raw: bytes) -> list[Any]:
        """The chunks for one piece of the body (often none: an event is not complete yet); after ``[DONE]`` the
        piece is only counted against the drain budget."""
        state = self.state
        if state.done:
            self.drained += len(raw)
            return []
        datas = self._feed(raw)
        return state.feed(datas) if datas else []

    def armed(self) -> bool:
        """Whether a source may merge reads now: once a first chunk was handed on (a stream's first event goes out
        alone, at once), or from the start when the answer is built whole (nobody sees the pieces)."""
        state = self.state
        return state.delivered or state.accumulate

    def reading(self) -> bool:
        """Whether to read on: until ``[DONE]``, then while the drain budget lasts. Raises the error that arrived
        after content in the last piece (the content was handed on first)."""
        state = self.state
        state.check()
        return not state.done or self.drained <= DRAIN_LIMIT

    def end(self) -> Iterator[Any]:
        """The body ended, or reading stopped: an event the body ended on without a blank line (only when no
        ``[DONE]`` came), then the finishing chunk; raises when the answer was cut short (after what came)."""
        state = self.state
        if not state.done:
            yield from state.feed(self.decoder.flush())
        yield from state.close()
