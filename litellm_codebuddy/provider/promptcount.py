"""The local prompt-token count: exactly what ``litellm.token_counter`` gives, paid for by what is new.

The gateway's usage may hold only ``total_tokens``; then the prompt is counted here and completion = total -
prompt (:func:`~.stream.normalise_usage`). Coding agents send the whole conversation on every turn, so counting it
all again costs more CPU than the rest of the call. :class:`PromptCounter` gives the same number as
``litellm.token_counter(messages=..., tools=..., tool_choice=...)`` while counting only the messages it has not seen:

- ``token_counter`` is a sum (read in ``litellm/litellm_core_utils/token_counter.py``): per message, 3 tokens plus
  its strings, parts, tool-call arguments and 1 per ``name``; then 3 for the reply, plus, with tools, the tools
  block (their TypeScript-like rendering, + 9, - 4 when a system message is present) and 1 for ``tool_choice:
  "none"`` (7 + the name for a named choice). So each message's share depends on that message alone, and the
  tools' share on the tools, the choice and whether a system message is present.
- Each share is kept under a keyed hash (BLAKE2b with a per-process random key) of the message's or the tools'
  JSON as sent (equal JSON, equal share), in a bounded LRU table (:data:`MAX_ENTRIES` entries of a 16-byte digest
  and a count, about 11 MB at most): no prompt text, no API key, nothing that grows without limit. A follow-up turn
  (the same history and tools plus a few messages) counts only the new messages; a message changed anywhere (an
  agent moving its ``cache_control`` marks) is simply counted again.
- Tools are counted (the caller passes the tools and tool choice as sent): the gateway bills tool definitions as
  prompt, and with only a total, leaving them out would move every tool token (thousands for an agent's 20-30
  tools) into the completion figure.
- No network I/O: LiteLLM downloads an image to size it only for an ``image_url`` part with ``detail: "high"`` and
  an http(s) URL (``calculate_img_tokens`` -> ``get_image_dimensions``); a message holding one is counted with
  LiteLLM's own ``use_default_image_token_count`` (its default image price, no download). Every other part
  (``auto``/``low`` images, data URLs, documents, files) is priced locally. The provider sends image parts without
  ``detail``, so that case does not arise for its requests.

The shares come from LiteLLM's public ``token_counter`` only: a message's share is ``token_counter([m]) -
token_counter([])``, the tools' and choice's share a difference of two calls on a one-message probe. Nothing of
LiteLLM's internals is read, so a LiteLLM that changes them changes nothing here; one whose ``token_counter``
stopped being a sum per message would make the count drift from a whole-prompt count
(``tests/unit/test_promptcount.py`` compares the two on agent-shaped prompts and fails then).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import litellm

__all__ = ["MAX_ENTRIES", "PromptCounter", "remote_sized_image"]

MAX_ENTRIES = 65_536
"""Shares kept per :class:`PromptCounter`: about 11 MB when full. A 300-message agent conversation takes about 300,
so some 200 such conversations stay counted at once; beyond that the least recently used are forgotten, and a turn
of a forgotten conversation is counted in full again (the same number, more CPU)."""

Buffer = bytes | bytearray | memoryview
_encode = json.JSONEncoder(separators=(",", ":")).encode


def remote_sized_image(message: Mapping[str, Any]) -> bool:
    """Whether ``token_counter`` would download an image of this message to size it (``detail: "high"`` and an
    http(s) URL)."""
    content = message.get("content")
    if not isinstance(content, list):
        return False
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "image_url":
            image = part.get("image_url")
            if isinstance(image, Mapping) and image.get("detail") == "high":
                url = image.get("url")
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    return True
    return False


class _Shares:
    """The pieces ``token_counter``'s sum is made of, through its public entry point."""

    def message(self, message: Mapping[str, Any], empty: int) -> int:
        """A message's own share: what it adds to a prompt (``empty``: :meth:`empty`, counted once per prompt)."""
        sized = remote_sized_image(message)
        alone = litellm.token_counter(messages=[message], use_default_image_token_count=sized)
        return int(alone) - empty

    def empty(self) -> int:
        """What ``token_counter`` gives for no messages (the reply's tokens)."""
        return int(litellm.token_counter(messages=[]))

    def extras(self, tools: Any, tool_choice: Any, has_system: bool, empty: int) -> int:
        """The reply, the tools block and the choice: everything but the messages' own shares."""
        probe = [{"role": "system" if has_system else "user", "content": ""}]
        with_tools = litellm.token_counter(messages=probe, tools=tools, tool_choice=tool_choice)
        return int(with_tools) - int(litellm.token_counter(messages=probe)) + empty


class PromptCounter:
    """``litellm.token_counter(messages=..., tools=..., tool_choice=...)``, counting only what it has not seen.

    Thread-safe; the table is bounded (:data:`MAX_ENTRIES`, least recently used first out). ``message_keys``, when
    given, are the messages' JSON as sent (one bytes-like per message, e.g. slices of the request body): equal keys
    must mean equal messages. ``tools_key`` likewise for the tools. Without them the JSON is made here.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES, shares: _Shares | None = None) -> None:
        self.max_entries = max_entries
        self._shares = shares or _Shares()
        salt = os.urandom(16)
        self._hashers = {
            kind: hashlib.blake2b(key=salt, digest_size=16, person=kind) for kind in (b"message", b"extras")
        }
        self._table: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()
        self.counted = 0
        """messages counted (not found in the table) so far: for tests and benchmarks"""

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self._table)}, max_entries={self.max_entries})"

    def count(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        *,
        message_keys: Sequence[Buffer] | None = None,
        tools_key: Buffer | None = None,
    ) -> int:
        if litellm.disable_token_counter is True:  # token_counter's own off switch
            return 0
        shares = self._shares
        if message_keys is None:
            message_keys = [_encode(m).encode() for m in messages]
        elif len(message_keys) != len(messages):
            raise ValueError("one key per message")
        if not tools:
            tools, tools_key = None, b"null"
        elif tools_key is None:
            tools_key = _encode(tools).encode()
        has_system = any(m.get("role") == "system" for m in messages)
        digests = [self._digest(b"message", key) for key in message_keys]
        digests.append(self._digest(b"extras", repr((tool_choice, has_system)).encode(), b"\0", tools_key))
        found = self._lookup(digests)
        new: dict[bytes, int] = {}
        total = 0
        empty: int | None = None  # token_counter of no messages: counted once, only when something is new
        for digest, share, message in zip(digests, found, messages, strict=False):
            if share is None:
                share = new.get(digest)
                if share is None:
                    if empty is None:
                        empty = shares.empty()
                    share = new[digest] = shares.message(message, empty)
            total += share
        counted = len(new)
        extras = found[-1]
        if extras is None:
            if empty is None:
                empty = shares.empty()
            extras = new[digests[-1]] = shares.extras(tools, tool_choice, has_system, empty)
        if new:
            self._store(new, counted)
        return total + extras

    def _digest(self, kind: bytes, *data: Buffer) -> bytes:
        hasher = self._hashers[kind].copy()  # keyed once: a copy is cheaper than a new keyed hash
        for piece in data:
            hasher.update(piece)
        return hasher.digest()

    def _lookup(self, digests: Sequence[bytes]) -> list[int | None]:
        """The share kept for each digest, or None; what is found becomes the most recently used."""
        table = self._table
        found: list[int | None] = []
        with self._lock:
            for digest in digests:
                share = table.get(digest)
                if share is not None:
                    table.move_to_end(digest)
                found.append(share)
        return found

    def _store(self, new: Mapping[bytes, int], counted: int) -> None:
        with self._lock:
            self.counted += counted
            table = self._table
            table.update(new)
            while len(table) > self.max_entries:
                table.popitem(last=False)
