"""The ``prompt_cache_key`` a conversation gets when its caller sends none, pure.

The gateway caches a prompt's prefix only for a request that carries ``prompt_cache_key`` (one measurement: an
8k-token prefix billed 0.34 credits without a key and 0.02 with one). Claude Code and Codex send keys of their
own, which are forwarded as they are; the SDK, LangChain, Aider and most apps send none, and then a coding agent
pays for its whole history on every turn. So when a request has no key, one is derived for its conversation:

- the same on every turn of one conversation: it is made of what does not change from turn to turn, the model,
  the system prompt, the tools and the first message after the system prompt (a text's cache marks are left
  out, since clients move them from turn to turn);
- different for different conversations (another system prompt, tools or opening message) and for different API
  keys (it is an HMAC keyed by the API key, so nobody can tell from it which key sent it);
- no prompt text and no part of the key: ``cb-`` and 32 hex digits of the HMAC-SHA256.

The same derivation names the conversation to the gateway: :func:`conversation_id` turns the request's cache key
(the caller's, else the derived one) into the ``X-Conversation-ID`` the official client sends, a UUID stable for
the conversation (docs/gateway.md#correlation-headers).

Turn it off with ``auto_prompt_cache_key=False`` per call or in a deployment's ``litellm_params``, or with
``CODEBUDDY_AUTO_PROMPT_CACHE_KEY=0`` for the process (a per-call or deployment value wins).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from ..endpoint import switch as _switch

__all__ = ["AUTO_CACHE_KEY_ENV", "auto_cache_key", "conversation_id", "derive_cache_key"]

logger = logging.getLogger(__name__)

AUTO_CACHE_KEY_ENV = "CODEBUDDY_AUTO_PROMPT_CACHE_KEY"
_PREFIX = "cb-"


def auto_cache_key(call_value: Any = None, deployment_value: Any = None) -> bool:
    """Whether to derive a key: ``auto_prompt_cache_key`` of the call, else of the deployment, else
    ``CODEBUDDY_AUTO_PROMPT_CACHE_KEY``, else on. A value that is not a switch is ignored, with a warning."""
    for value, where in ((call_value, "auto_prompt_cache_key"), (deployment_value, "auto_prompt_cache_key")):
        if value is None:
            continue
        switch = _switch(value)
        if switch is not None:
            return switch
        logger.warning("CodeBuddy: %s=%r is not true or false; ignored", where, value)
    raw = os.environ.get(AUTO_CACHE_KEY_ENV, "")
    if raw.strip():
        switch = _switch(raw)
        if switch is not None:
            return switch
        logger.warning("CodeBuddy: %s=%r is not true or false; ignored", AUTO_CACHE_KEY_ENV, raw[:20])
    return True


def _stable(message: Mapping[str, Any]) -> Any:
    """What identifies a message across turns: its role, texts and image URLs, whatever their form (a string or
    text parts; clients add and move cache marks from turn to turn)."""
    content = message.get("content")
    parts: list[Any] = []
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, Mapping):
            image = part.get("image_url")
            part = part.get("text") if part.get("type") == "text" else image if image is not None else part
        if part not in (None, ""):
            parts.append(part)
    return [message.get("role"), parts, message.get("tool_calls")]


def derive_cache_key(api_key: str, body: Mapping[str, Any], tools_json: bytes | memoryview | None = None) -> str:
    """The key for the conversation of a built request ``body`` (its ``model``, ``messages`` with the system
    message first, ``tools``), sent with ``api_key``. ``tools_json``: the tools as they are sent (compact JSON, the
    encoded body's bytes), when the caller has them; the same key, without serialising the tools again (an agent's
    tools are tens of KB)."""
    messages = body.get("messages") or []
    opening = [_stable(m) for m in messages[:2] if isinstance(m, Mapping)]
    head = json.dumps([body.get("model"), opening], sort_keys=True, ensure_ascii=False, default=str)
    mac = hmac.new(api_key.encode(), head.encode("utf-8", "surrogatepass"), hashlib.sha256)
    tools = body.get("tools")
    if tools:
        if tools_json is None:
            tools_json = json.dumps(tools, separators=(",", ":"), default=str).encode()
        mac.update(b"\n")
        mac.update(tools_json)
    return _PREFIX + mac.hexdigest()[:32]


def conversation_id(api_key: str, cache_key: str) -> str:
    """The ``X-Conversation-ID`` of the conversation whose prompt-cache key is ``cache_key`` (the caller's, or the
    derived one), sent with ``api_key``: UUID-shaped (the version-4 layout), from an HMAC keyed by the API key, so
    the same for every turn of one conversation and different across conversations and keys, and it shows neither
    the key nor the cache key."""
    mac = hmac.new(
        api_key.encode(), b"x-conversation-id\n" + cache_key.encode("utf-8", "surrogatepass"), hashlib.sha256
    )
    return str(uuid.UUID(bytes=mac.digest()[:16], version=4))
