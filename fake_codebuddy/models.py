"""The models the fake knows, the efforts each accepts, and what its discovery endpoints list for them.

``CONFIG_ROWS`` are the rows of ``/v3/config``'s ``data.models`` in the shape the official client reads (CodeBuddy
Code 2.163.0's built-in configuration): ``id``, ``name``, ``maxInputTokens``, ``maxOutputTokens``,
``supportsToolCall``, ``supportsImages``, ``supportsReasoning``, ``reasoning`` (``defaultEffort`` with
``supportedEfforts`` and ``canDisableThinking``, or one fixed ``effort``), ``contextWindow`` as an object
``{defaultLength, supportedLengths}`` where the model has context budgets, and ``tags``. They are the provider's
catalog (``litellm_codebuddy.catalog``, which the fake does not import: a test ties the two): the official
client's 21 chat models, the seed's ``claude-sonnet-4.6`` and ``gemini-3.1-pro``, the two image models (tagged
``text-to-image`` / ``image-to-image``) and one disabled row. ``CLI_MODELS`` is ``data.agents[name="cli"].models``:
the chat models' bare ids, in the official picker order (:data:`KNOWN_MODELS` is the same set).

``ACCOUNT_MODELS`` are the rows ``/v2/enterprises/personal/models`` lists (the shape peers report: ``id``, ``name``,
``maxInputTokens``, ``maxOutputTokens``, ``supportsToolCall``, ``supportsReasoning``, ``supportsImages``): the chat
models above with the same figures, and ids other clients report on live accounts (claude-opus-5, gpt-5.3-codex,
hy4-preview-f, minimax-m3, ...; their limits and flags are plausible, not confirmed). The chat endpoint accepts every
id of ``ACCOUNT_MODELS``, the picker ids of :data:`PICKERS` and any ``fake-...`` id.

Reasoning efforts: the gateway's words are ``low``, ``medium``, ``high``, ``xhigh``, ``max``. A model whose row lists
``supportedEfforts`` accepts those alone (another word: 11133, as ``max`` on gpt-5.5, gpt-5.4 and gpt-5.3-codex is
reported); every other model takes all five (:func:`efforts_of`).

The window a prompt must fit (:func:`input_window`) is the model's ``maxInputTokens``.

Picker ids (``default-model``, ``fast-model``, ``balanced-model``, ``primary-model``, ``deep-model``) are the
official client's model picker: the fake answers them with the model each one picks (:data:`PICKERS`), and the
answer's chunks name that model, as the gateway is reported to name another model than the one asked for.
"""

from __future__ import annotations

from typing import Any

#: every effort the gateway knows, weakest first
ALL_EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")

_XHIGH = ["low", "medium", "high", "xhigh"]
_MAX = ["low", "medium", "high", "xhigh", "max"]
_LHM = ["low", "high", "max"]


def _chat(
    model_id: str,
    max_in: int,
    max_out: int,
    efforts: list[str] | str | None,
    *,
    can_disable: bool = True,
    lengths: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A chat model's row: ``efforts`` a list (with ``defaultEffort`` high), one fixed word, or None (no reasoning)."""
    row: dict[str, Any] = {
        "id": model_id,
        "name": model_id,
        "maxInputTokens": max_in,
        "maxOutputTokens": max_out,
        "supportsToolCall": True,
        "supportsImages": True,
    }
    if isinstance(efforts, list):
        row["supportsReasoning"] = True
        row["reasoning"] = {
            "defaultEffort": "high",
            "supportedEfforts": efforts,
            "canDisableThinking": can_disable,
            "summary": "auto",
        }
    elif isinstance(efforts, str):
        row["supportsReasoning"] = True
        row["reasoning"] = {"effort": efforts, "summary": "auto"}
    if lengths is not None:
        row["contextWindow"] = {"supportedLengths": list(lengths), "defaultLength": lengths[0]}
    row["tags"] = []
    return row


_CHAT_ROWS: list[dict[str, Any]] = [
    _chat("default-model", 176_000, 24_000, None),
    _chat("fast-model", 200_000, 32_000, "medium"),
    _chat("balanced-model", 256_000, 32_000, "medium"),
    _chat("primary-model", 272_000, 72_000, "high"),
    _chat("deep-model", 176_000, 24_000, None),
    _chat("hy4-preview", 1_000_000, 64_000, ["high"], can_disable=False, lengths=(200_000, 1_000_000)),
    _chat("hy3", 192_000, 64_000, ["low", "high"], can_disable=False),
    _chat("deepseek-v4.1-flash", 1_000_000, 128_000, "high", lengths=(300_000, 1_000_000)),
    _chat("gpt-6-astra", 1_000_000, 128_000, _MAX, lengths=(400_000, 1_000_000)),
    _chat("gpt-5.6-sol", 1_000_000, 128_000, _MAX),
    _chat("gpt-5.6-terra", 1_000_000, 128_000, _MAX),
    _chat("gpt-5.6-luna", 1_000_000, 128_000, _MAX),
    _chat("gpt-5.5", 1_000_000, 128_000, _XHIGH, can_disable=False),
    _chat("gpt-5.4", 272_000, 72_000, _XHIGH, can_disable=False),
    _chat("gemini-3.5-flash", 1_000_000, 65_536, "medium"),
    _chat("glm-5.3-flash", 1_000_000, 32_000, _LHM, lengths=(300_000, 1_000_000)),
    _chat("glm-5.3", 1_000_000, 48_000, _LHM),
    _chat("glm-5.2", 1_000_000, 48_000, ["high", "xhigh"]),
    _chat("kimi-k3", 1_000_000, 32_000, "medium"),
    _chat("kimi-k2.6", 256_000, 32_000, "medium"),
    _chat("kimi-k2.8-preview", 1_000_000, 32_000, _LHM, lengths=(300_000, 1_000_000)),
    # the seed's, no longer in the official list (their efforts are not reported: none listed)
    {**_chat("claude-sonnet-4.6", 200_000, 64_000, None), "supportsReasoning": True},
    {**_chat("gemini-3.1-pro", 1_000_000, 64_000, None), "supportsReasoning": True},
]

#: ``data.agents[name="cli"].models``: the chat models' bare ids, the official picker order first
CLI_MODELS: list[str] = [row["id"] for row in _CHAT_ROWS]

#: ``data.models``: the chat rows, the image models and a disabled row (discovery leaves the last three out)
CONFIG_ROWS: list[dict[str, Any]] = [
    *_CHAT_ROWS,
    {"id": "hunyuan-image-v3.0", "name": "Hunyuan Image V3", "tags": ["text-to-image"]},
    {"id": "hunyuan-image-v2.0-general-edit", "name": "Hunyuan Image V2 Edit", "tags": ["image-to-image"]},
    {**_chat("hy4-preview-x", 128_000, 32_000, None), "disabled": True},
]
_CONFIG_BY_ID: dict[str, dict[str, Any]] = {row["id"]: row for row in CONFIG_ROWS}

#: the chat models the fake serves and lists by default (the provider's catalog)
KNOWN_MODELS: frozenset[str] = frozenset(CLI_MODELS)

#: model id -> the efforts it accepts, where it is not all of them (the rows' lists; gpt-5.3-codex: reported)
EFFORTS: dict[str, tuple[str, ...]] = {
    "gpt-5.3-codex": tuple(_XHIGH),
    **{
        row["id"]: tuple(row["reasoning"]["supportedEfforts"])
        for row in _CHAT_ROWS
        if "supportedEfforts" in row.get("reasoning", {})
    },
}

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


def _account_row(
    model_id: str, max_in: int, max_out: int, *, tools: bool = True, images: bool = False
) -> dict[str, Any]:
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
        *(
            _account_row(r["id"], r["maxInputTokens"], r["maxOutputTokens"], images=r["supportsImages"])
            for r in _CHAT_ROWS
        ),
        # reported on live accounts (field reports, July to October 2026)
        _account_row("minimax-m2", 200_000, 128_000),
        _account_row("claude-opus-5", 200_000, 64_000, images=True),
        _account_row("claude-opus-4.7-1m", 1_000_000, 64_000, images=True),
        _account_row("claude-opus-4.6", 200_000, 64_000, images=True),
        _account_row("gpt-5.3-codex", 272_000, 128_000),
        _account_row("hy4-preview-f", 128_000, 32_000),
        _account_row("minimax-m3", 200_000, 128_000),
    )
}


def config_row(model_id: str) -> dict[str, Any]:
    """The row ``/v3/config`` lists for a model: its own for a model of :data:`CONFIG_ROWS`, else its id, name and
    ``reasoning`` (the efforts the fake accepts for it)."""
    row = _CONFIG_BY_ID.get(model_id)
    if row is not None:
        return {**row, "reasoning": dict(row["reasoning"])} if "reasoning" in row else dict(row)
    return {
        "id": model_id,
        "name": model_id,
        "reasoning": {"supportedEfforts": list(efforts_of(model_id)), "canDisableThinking": True},
    }


def input_window(model: str) -> int | None:
    """The window a prompt to ``model`` must fit, in tokens: its row's ``maxInputTokens``; None for a model without
    a row (``fake-`` ids and the constructor's extra models)."""
    row = ACCOUNT_MODELS.get(model)
    return int(row["maxInputTokens"]) if row is not None else None
