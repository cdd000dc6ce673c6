"""The models the fake knows: the chat endpoint accepts these ids (and any ``fake-...`` id)."""

from __future__ import annotations

#: the seed's four models (the provider's catalog, ``litellm_codebuddy.catalog.CONTEXT_WINDOWS``)
KNOWN_MODELS: frozenset[str] = frozenset({"gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro"})
