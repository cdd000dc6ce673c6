"""Requests the gateway forbade retrying, remembered so that LiteLLM's own retries do not send them again.

The gateway may put ``retry_policy: {"retry": false}`` in an error body: the official client then neither retries
nor falls back (docs/gateway.md#retry-policy). LiteLLM has no exception class that all its retry paths leave alone:
the SDK's ``num_retries`` resends every error, and a Router with ``num_retries`` on the request resends to the
same deployment. So the answer is remembered here, by a digest of the API key and the messages (never the key or
the prompt themselves), for :data:`WINDOW` seconds (or the answer's ``Retry-After``, if longer): the same messages
on the same key within that time get the same error again, raised locally, and nothing is sent. A fallback to
another model on the same key is the same messages on the same key, so it is not sent either; another key (another
account) is another request. Bounded (:data:`LIMIT` entries, the oldest dropped first); pure apart from the clock.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LIMIT", "WINDOW", "Answer", "Forbidden"]

#: how long a forbidden request is not sent again without a ``Retry-After`` (seconds)
WINDOW = 60.0
#: how many forbidden requests are remembered at most
LIMIT = 256


@dataclass(frozen=True)
class Answer:
    """The gateway's error answer, as it came (the exception is rebuilt from it each time it is raised again)."""

    status: int
    headers: dict[str, str]
    content: bytes


def _digest(key: str, messages: Any) -> bytes:
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(key.encode() + b"\0" + text.encode()).digest()


class Forbidden:
    """The requests not to send again: digest of (key, messages) -> (until, the answer)."""

    def __init__(self, *, window: float = WINDOW, limit: int = LIMIT, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[float, Answer]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, key: str, messages: Any, answer: Answer) -> None:
        """Do not send these messages on this key again for the window."""
        until = self.clock() + self.window
        digest = _digest(key, messages)
        with self._lock:
            self._entries[digest] = (until, answer)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def answer_for(self, key: str, messages: Any) -> Answer | None:
        """The remembered answer when these messages on this key must not be sent (None: send them)."""
        if not self._entries:  # the usual case: nothing forbidden, nothing to digest
            return None
        digest = _digest(key, messages)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[digest]
                return None
            return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
