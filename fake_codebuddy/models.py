"""The models the fake knows, and the rows its discovery endpoints list for them.

``KNOWN_MODELS`` are the seed's four (the provider's catalog, ``litellm_codebuddy.catalog.CONTEXT_WINDOWS``, with
the same input windows here).  ``ACCOUNT_MODELS`` adds ids other clients report on live accounts (9router,
soyelmismo/openproxy, cloviela-router; limits and flags are plausible, not confirmed).  The chat endpoint accepts
every id of ``ACCOUNT_MODELS`` (and any ``fake-...`` id).
"""

from __future__ import annotations

from typing import Any

#: the seed's four models
KNOWN_MODELS: frozenset[str] = frozenset({"gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro"})


def _row(model_id: str, max_in: int, max_out: int, *, tools: bool = True, images: bool = False) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": model_id,
        "maxInputTokens": max_in,
        "maxOutputTokens": max_out,
        "supportsToolCall": tools,
        "supportsReasoning": True,
        "supportsImages": images,
    }


#: id -> the row ``/v2/enterprises/personal/models`` lists for it (reported shape)
ACCOUNT_MODELS: dict[str, dict[str, Any]] = {
    row["id"]: row
    for row in (
        _row("gpt-5.5", 128_000, 72_000, images=True),
        _row("gpt-5.4", 128_000, 128_000, images=True),
        _row("claude-sonnet-4.6", 200_000, 64_000, images=True),
        _row("gemini-3.1-pro", 1_000_000, 64_000, images=True),
        _row("hy3", 128_000, 16_000),
        _row("glm-5.2", 200_000, 128_000),
        _row("kimi-k2.6", 256_000, 32_000),
        _row("minimax-m2", 200_000, 128_000),
        _row("deepseek-v4.1-flash", 128_000, 64_000),
    )
}


def input_window(model: str) -> int | None:
    """The model's input window in tokens (its row's ``maxInputTokens``), or None for a model without one (``fake-``
    ids and the constructor's extra models)."""
    row = ACCOUNT_MODELS.get(model)
    return int(row["maxInputTokens"]) if row is not None else None
