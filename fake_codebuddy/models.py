"""The models the fake knows, the efforts each accepts, and the rows its discovery endpoints list for them.

``KNOWN_MODELS`` are the seed's four (the provider's catalog, ``litellm_codebuddy.catalog.CONTEXT_WINDOWS``, with
the same input windows here).  ``ACCOUNT_MODELS`` adds ids other clients report on live accounts (9router,
soyelmismo/openproxy, cloviela-router, and the later field reports: claude-opus-5, gpt-5.3-codex, gpt-5.6-*,
gpt-6-astra, hy4-preview, glm-5.x, kimi-k3, minimax-m3, ...; limits and flags are plausible, not confirmed).  The
chat endpoint accepts every id of ``ACCOUNT_MODELS``, the picker ids of :data:`PICKERS` and any ``fake-...`` id.

Reasoning efforts (field reports): the gateway's words are ``low``, ``medium``, ``high``, ``xhigh``, ``max``;
``max`` is rejected (11133) on gpt-5.5, gpt-5.4 and gpt-5.3-codex (:data:`EFFORTS`); every other model takes all
five here.  ``/v3/config`` lists them per model as ``reasoning.supportedEfforts``.

Picker ids (``default-model``, ``fast-model``, ``balanced-model``, ``primary-model``, ``deep-model``) are the
official client's model picker: the fake answers them with the model each one picks (:data:`PICKERS`), and the
answer's chunks name that model, as the gateway is reported to name another model than the one asked for.
"""

from __future__ import annotations

from typing import Any

#: the seed's four models
KNOWN_MODELS: frozenset[str] = frozenset({"gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro"})

#: every effort the gateway knows, weakest first
ALL_EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")
#: model id -> the efforts it accepts, where it is not all of them (``max``: 11133 on these, field reports)
EFFORTS: dict[str, tuple[str, ...]] = {m: ALL_EFFORTS[:-1] for m in ("gpt-5.5", "gpt-5.4", "gpt-5.3-codex")}

#: picker id -> the model it picks
PICKERS: dict[str, str] = {
    "default-model": "gpt-5.5",
    "fast-model": "glm-5.3-flash",
    "balanced-model": "claude-sonnet-4.6",
    "primary-model": "claude-opus-4.6",
    "deep-model": "gpt-5.5",
}


def picked(model: str) -> str:
    """The model that answers for ``model`` (a picker id's pick, else the model itself)."""
    return PICKERS.get(model, model)


def efforts_of(model: str) -> tuple[str, ...]:
    """The efforts ``model`` (or a picker id's pick) accepts."""
    return EFFORTS.get(picked(model), ALL_EFFORTS)


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
        _row("gpt-5.4", 272_000, 128_000, images=True),
        _row("claude-sonnet-4.6", 200_000, 64_000, images=True),
        _row("gemini-3.1-pro", 1_000_000, 64_000, images=True),
        _row("hy3", 128_000, 16_000),
        _row("glm-5.2", 200_000, 128_000),
        _row("kimi-k2.6", 256_000, 32_000),
        _row("minimax-m2", 200_000, 128_000),
        _row("deepseek-v4.1-flash", 128_000, 64_000),
        # reported since (field reports, July to September 2026)
        _row("claude-opus-5", 200_000, 64_000, images=True),
        _row("claude-opus-4.7-1m", 1_000_000, 64_000, images=True),
        _row("claude-opus-4.6", 200_000, 64_000, images=True),
        _row("gpt-5.3-codex", 272_000, 128_000),
        _row("gpt-5.6-sol", 272_000, 128_000, images=True),
        _row("gpt-5.6-terra", 272_000, 128_000, images=True),
        _row("gpt-5.6-luna", 272_000, 128_000, images=True),
        _row("gpt-6-astra", 400_000, 128_000, images=True),
        _row("hy4-preview", 128_000, 32_000),
        _row("hy4-preview-f", 128_000, 32_000),
        _row("minimax-m3", 200_000, 128_000),
        _row("glm-5.3", 200_000, 128_000),
        _row("glm-5.3-flash", 200_000, 64_000),
        _row("kimi-k3", 256_000, 32_000),
        _row("kimi-k2.8-preview", 256_000, 32_000),
    )
}


def config_row(model_id: str) -> dict[str, Any]:
    """The row ``/v3/config`` lists for a model: its id, name and ``reasoning`` (``supportedEfforts``,
    ``canDisableThinking``)."""
    return {
        "id": model_id,
        "name": model_id,
        "reasoning": {"supportedEfforts": list(efforts_of(model_id)), "canDisableThinking": True},
    }


def input_window(model: str) -> int | None:
    """The model's input window in tokens (its row's ``maxInputTokens``), or None for a model without one (``fake-``
    ids and the constructor's extra models)."""
    row = ACCOUNT_MODELS.get(model)
    return int(row["maxInputTokens"]) if row is not None else None
