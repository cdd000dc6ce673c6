"""Credits and the prompt cache, billed the way the field reports describe the gateway.

* **The cache is keyed.** A prompt's prefix is cached only under the request's ``prompt_cache_key`` (and model):
  a request without a key reads and writes nothing.  A prompt is a chain of blocks, the tools first, then each
  message (its role, text, images, tool calls and tool result id: cache marks, reasoning and other decorations do
  not count); a request reads the longest chain of blocks that an earlier request with the same key and model
  sent, and writes the rest.  A hit is reported, as the field reports show it, in whole cache blocks of
  :data:`BLOCK` tokens and never as the whole prompt: the cached prefix's tokens rounded down to a block, below the
  prompt's own count (an 8,000-token prompt that repeats a 7,900-token prefix reads 7,808).  Per key the cache
  keeps the last :data:`PREFIXES_PER_KEY` block chains, over at most :data:`KEYS` keys (least recently used
  dropped), like a real cache with a bounded memory.
* **Tokens.** The prompt's tokens are the fake's own count (``tokens.prompt_tokens``: messages only); the hit
  tokens are the tokens of the messages read from the cache (in whole blocks), the written ones the rest.
* **Credits.** An uncached prompt token costs :data:`INPUT`, a cached one :data:`CACHED` (1/28 of it), a
  completion token :data:`OUTPUT` (4 times an input token).  The rates are set so that the one public measurement
  comes out: an 8,000-token prefix and a short answer bill about 0.34 credits without a key, and about 0.02 with
  one once the prefix is cached (7,808 hit tokens in the report).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .messages import images_in, text_of
from .tokens import PER_REPLY, message_tokens, tools_tokens

__all__ = ["BLOCK", "CACHED", "INPUT", "KEYS", "OUTPUT", "PREFIXES_PER_KEY", "CacheUse", "PromptCache", "credits"]

#: credits per uncached prompt token
INPUT = 4.2e-5
#: credits per prompt token read from the cache
CACHED = INPUT / 28
#: credits per completion token (reasoning included)
OUTPUT = 4 * INPUT
#: block chains kept per key, and keys kept
PREFIXES_PER_KEY = 256
KEYS = 4096
#: the cache's block, in prompt tokens: a hit is a whole number of blocks
BLOCK = 128


def credits(prompt: int, hit: int, completion: int) -> float:
    """What an answer costs: ``prompt`` tokens of which ``hit`` came from the cache, and ``completion`` tokens."""
    return round((prompt - hit) * INPUT + hit * CACHED + completion * OUTPUT, 6)


@dataclass(frozen=True)
class CacheUse:
    """What one request read from the cache and wrote to it, in prompt tokens."""

    hit: int = 0
    written: int = 0


def _block(message: Any) -> str:
    """What identifies a message in the cache."""
    if not isinstance(message, dict):
        return json.dumps(message, sort_keys=True, default=str)
    content = message.get("content")
    ident = [message.get("role"), text_of(content), images_in(content), message.get("tool_calls")]
    ident.append(message.get("tool_call_id"))
    return json.dumps(ident, sort_keys=True, default=str)


def _chain(model: Any, tools: Any, messages: Iterable[Any]) -> list[tuple[str, int]]:
    """(digest of the prefix up to this message, prompt tokens up to it) for every message."""
    digest = hashlib.sha256(json.dumps([model, tools], sort_keys=True, default=str).encode())
    total = PER_REPLY + tools_tokens(tools)  # the tools come first in the prompt, so in every cached prefix
    out = []
    for message in messages:
        digest.update(_block(message).encode())
        total += message_tokens(message) if isinstance(message, dict) else 0
        out.append((digest.copy().hexdigest(), total))
    return out


@dataclass
class PromptCache:
    """The cached prefixes, per ``prompt_cache_key``; safe to use from several threads."""

    keys: OrderedDict[str, OrderedDict[str, None]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def use(self, body: dict[str, Any]) -> CacheUse:
        """Read the request's cached prefix and write the rest of its prompt (nothing without a key)."""
        key = body.get("prompt_cache_key")
        if not isinstance(key, str) or not key:
            return CacheUse()
        chain = _chain(body.get("model"), body.get("tools"), body.get("messages") or [])
        with self._lock:
            stored = self.keys.pop(key, None)
            if stored is None:
                stored = OrderedDict()
            self.keys[key] = stored
            while len(self.keys) > KEYS:
                self.keys.popitem(last=False)
            hit = next((tokens for digest, tokens in reversed(chain) if digest in stored), 0)
            for digest, _ in chain:
                stored[digest] = None
                stored.move_to_end(digest)
            while len(stored) > PREFIXES_PER_KEY:
                stored.popitem(last=False)
        total = chain[-1][1] if chain else 0
        hit = max(0, min(hit, total - 1)) // BLOCK * BLOCK  # whole blocks, never the whole prompt
        return CacheUse(hit=hit, written=total - hit)

    def clear(self) -> None:
        with self._lock:
            self.keys.clear()
