"""The coalescing window: how long a stream may hold events back to hand them to LiteLLM together, and how busy
the process is (an optimisation; the package docstring describes the whole path).

``coalesce_ms``, of the call, else of the deployment, else ``CODEBUDDY_STREAM_COALESCE_MS``:

* unset or ``0``: no window. Streams go as the body is read (async, one chunk per read of what arrived together).
* a number ``N`` (milliseconds, up to 10000): a fixed window. After the first chunk, events that arrive within
  ``N`` ms of the oldest one waiting go out as one chunk.
* ``auto`` or ``auto:N``: a window that follows how busy the process is, up to ``N`` ms (``auto``: 40, so that with
  the proxy's own processing an event picks up at most about 50 ms on the way). It is 0 while this process's
  coalescing streams receive fewer than :data:`IDLE_RATE` network reads per second (each event goes out alone,
  nothing waits), grows in proportion above that, and is ``N`` from :data:`BUSY_RATE` reads per second on. The rate
  is measured over about a second (:class:`Meter`), before any merging, so merging does not feed back into it.

Every window keeps the same promises: the first chunk is never held, no event waits longer than the window's
limit, the end of the stream goes at once.

Pure: the clock is the caller's (``time.monotonic`` / ``loop.time()``, one clock).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

from .params import bad_request

__all__ = ["AUTO_LIMIT_MS", "BUSY_RATE", "COALESCE_ENV", "IDLE_RATE", "METER", "Meter", "Window", "coalesce_window"]

logger = logging.getLogger(__name__)

COALESCE_ENV = "CODEBUDDY_STREAM_COALESCE_MS"
AUTO_LIMIT_MS = 40.0  # the limit of ``auto``
IDLE_RATE = 200.0  # reads per second (all coalescing streams of the process) below which ``auto`` holds nothing
BUSY_RATE = 1000.0  # reads per second from which ``auto`` holds for its whole limit
_MAX_WINDOW_MS = 10_000.0
_TAU = 1.0  # seconds: the meter's time constant


class Meter:
    """Network reads per second, as an exponentially decaying average with a time constant of about a second.
    One per process (:data:`METER`), shared by every coalescing stream; a lost update between threads only
    blurs an estimate."""

    __slots__ = ("last", "rate")

    def __init__(self) -> None:
        self.rate = 0.0
        self.last = 0.0

    def tick(self, now: float) -> None:
        """One read arrived at ``now``."""
        self.rate = self.at(now) + 1.0 / _TAU
        self.last = now

    def at(self, now: float) -> float:
        """The rate at ``now``."""
        elapsed = now - self.last
        return self.rate * math.exp(-elapsed / _TAU) if elapsed > 0 else self.rate


METER = Meter()


@dataclass(frozen=True)
class Window:
    """A coalescing window: ``limit`` seconds (0 = none), fixed or (``adaptive``) following the process's read
    rate, 0 below :data:`IDLE_RATE` and ``limit`` from :data:`BUSY_RATE` on."""

    limit: float = 0.0
    adaptive: bool = False

    def __bool__(self) -> bool:
        return self.limit > 0

    def seconds(self, now: float, meter: Meter = METER) -> float:
        """How long events may wait now."""
        if not self.adaptive:
            return self.limit
        busy = (meter.at(now) - IDLE_RATE) / (BUSY_RATE - IDLE_RATE)
        return self.limit * min(1.0, busy) if busy > 0 else 0.0

    def __str__(self) -> str:
        ms = f"{self.limit * 1000:g}"
        return f"auto:{ms}" if self.adaptive else ms


def _parse(value: Any) -> Window:
    """``value`` as a window; ValueError when it is none."""
    adaptive = isinstance(value, str) and value.strip().lower().startswith("auto")
    if adaptive:
        rest = str(value).strip()[4:]
        if rest and not rest.startswith(":"):
            raise ValueError
        value = rest[1:] if rest else AUTO_LIMIT_MS
    ms = float(value)
    if not 0 <= ms <= _MAX_WINDOW_MS:
        raise ValueError
    return Window(ms / 1000.0, adaptive and ms > 0)


def coalesce_window(call_value: Any = None, deployment_value: Any = None, model: str = "") -> Window:
    """The window: ``coalesce_ms`` of the call, else of the deployment, else ``CODEBUDDY_STREAM_COALESCE_MS``
    (none when all are unset). A bad value given to the call or the deployment is a BadRequestError; a bad
    environment value is logged and ignored."""
    value, source = call_value, "coalesce_ms"
    if value is None:
        value = deployment_value
    if value is None:
        value, source = os.environ.get(COALESCE_ENV), COALESCE_ENV
    if value is None or value == "":
        return Window()
    try:
        return _parse(value)
    except (TypeError, ValueError):
        expected = 'a number of milliseconds in [0, 10000], or "auto" / "auto:<ms>"'
        if source == COALESCE_ENV:
            logger.warning("%s=%r is not %s: coalescing stays off", source, value, expected)
            return Window()
        raise bad_request(f"coalesce_ms must be {expected}, got {value!r}", str(model)) from None
