"""The steps every stream goes through, written once: bytes in, LiteLLM chunks out.

A :class:`Pump` owns the SSE decoder, the :class:`~.stream.StreamState` and the drain budget. The handler's sync
and async loops only move bytes and drive it::

    for raw in pieces:
        yield from pump.feed(raw)   # every event completed by these bytes, folded into chunks
        if pump.done():             # [DONE] seen (raises an error that arrived after content, once handed on)
            for rest in pieces:     # read a little more, so the connection can go back to the pool
                if not pump.drain(rest):
                    break
            break
    else:
        yield from pump.flush()     # the body ended without [DONE]: an event with no blank line after it
    yield from pump.close()         # the finishing chunk, or an error when the answer was cut short

Pure: no I/O, no clock.
"""

from __future__ import annotations

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

    def feed(self, raw: bytes) -> list[Any]:
        """The chunks for one piece of the body (often none: an event is not complete yet)."""
        datas = self._feed(raw)
        return self.state.feed(datas) if datas else []

    def done(self) -> bool:
        """True once ``[DONE]`` has been seen; raises an error that arrived after content handed on before it."""
        state = self.state
        state.check()
        return state.done

    def drain(self, raw: bytes) -> bool:
        """Count bytes read after ``[DONE]``; False once the budget is spent (then the connection is dropped)."""
        self.drained += len(raw)
        return self.drained <= DRAIN_LIMIT

    def flush(self) -> list[Any]:
        return self.state.feed(self.decoder.flush())

    def close(self) -> list[Any]:
        return self.state.close()
