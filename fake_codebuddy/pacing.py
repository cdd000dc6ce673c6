"""When each event of a paced stream goes out (``pace=`` and ``jitter=``), without I/O.

Event 0 goes out at once; event k (k >= 1, the finish chunk counting as the event after the last content event) at
``k * pace`` seconds after it, shifted by a pseudo-random amount in ``[-jitter, +jitter]`` and never before the
event before it (the schedule is absolute: the writer's own delays do not add up).  The shifts come from
``random.Random(seed)``; the fake seeds it with the request body, so the same request gets the same schedule in
every run.
"""

from __future__ import annotations

import random


class Schedule:
    """Offsets (seconds after event 0) of events 1, 2, ... in order: call :meth:`next` once per event."""

    __slots__ = ("_jitter", "_k", "_last", "_pace", "_rng")

    def __init__(self, pace: float, jitter: float = 0.0, seed: bytes | str = b"") -> None:
        self._pace = pace
        self._jitter = jitter
        self._rng = random.Random(seed) if jitter else None
        self._k = 0
        self._last = 0.0

    def next(self) -> float:
        """The offset of the next event (1, 2, ...): monotone, within ``jitter`` of ``k * pace``."""
        self._k += 1
        at = self._k * self._pace
        if self._rng is not None:
            at += self._rng.uniform(-self._jitter, self._jitter)
        self._last = max(self._last, at)
        return self._last
