"""The CodeBuddy models this package knows, in one table, and what LiteLLM is told about a model.

The chat models are the official client's (CodeBuddy Code 2.163.0, October 2026): the models of its built-in
configuration for the international site, in its picker order (:data:`OFFICIAL_IDS`), each with its input and
output limits, the reasoning efforts it accepts and the one the official client sends by default, vision and tools
(docs/gateway.md#catalog-limits). Two of the seed's four models, ``claude-sonnet-4.6`` and ``gemini-3.1-pro``, are
no longer in that list; they stay registered (``official=False``) because the live account may still offer them.
The live account is the authority: its figures (:mod:`litellm_codebuddy.account.discovery`) win wherever it gives
them. CodeBuddy bills in credits and publishes no per-token prices: models are registered at a price of 0.0 so that
LiteLLM's cost tracking returns a number (0.0) instead of None. To count credits as cost, set
``CODEBUDDY_CREDIT_COST`` (the cost of one credit; :mod:`litellm_codebuddy.provider.stream`), or set your own token
prices with ``litellm.register_model`` or the proxy's ``model_info``.

Capability flags: every model registered here states every ``supports_*`` flag LiteLLM asks about
(:func:`capability_flags`). A flag left out is answered by LiteLLM from another provider's entry of the same bare
name (OpenAI's ``gpt-5.5`` says it takes PDF input and web search; the gateway takes neither).

Reasoning efforts: the official client's ladder is ``minimal, low, medium, high, xhigh, max``
(:data:`EFFORT_LADDER`); a model without a list of its own gets :data:`GATEWAY_EFFORTS`. A model that names one
fixed effort (``reasoning.effort`` in the official configuration) accepts that effort alone: the official client
always sends it. :func:`supported_efforts` answers for one model from, in this order, the account's own list (what
discovery found, :func:`remember_account_efforts`; every word it lists is kept, ``no_think`` too), the model's
``reasoning_effort_levels`` in LiteLLM's model map (a proxy deployment's ``model_info`` puts it there), and
:data:`EFFORTS`; None when nobody knows. :func:`default_effort` and :func:`max_output_tokens` answer the same way.

Image models (:data:`IMAGE_MODELS`, :func:`is_image_model`) are registered with ``mode: image_generation`` and never
as chat models: the gateway refuses chat with them (11103).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .endpoint import PROVIDER

__all__ = [
    "CATALOG",
    "CONTEXT_WINDOWS",
    "DEFAULT_EFFORTS",
    "EFFORTS",
    "EFFORT_LADDER",
    "GATEWAY_EFFORTS",
    "GATEWAY_FLAGS",
    "IMAGE_MODELS",
    "IMAGE_TAGS",
    "LIMITS",
    "MAX_OUTPUT_TOKENS",
    "OFFICIAL_IDS",
    "REPORTED_EFFORTS",
    "SEED_IDS",
    "CatalogModel",
    "Figure",
    "ImageModel",
    "Limits",
    "capability_flags",
    "catalog_supports_vision",
    "cost_map",
    "default_effort",
    "effort_words",
    "image_model_info",
    "is_image_model",
    "max_output_tokens",
    "model_info",
    "register_catalog",
    "remember_account_efforts",
    "supported_efforts",
]


class Figure(NamedTuple):
    """A limit and where it comes from."""

    tokens: int
    source: str


class Limits(NamedTuple):
    """A model's context window (input tokens) and longest answer (output tokens), each with its source."""

    window: Figure
    output: Figure


#: the official client's effort ladder, weakest first (its model settings offer these words and no others)
EFFORT_LADDER: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")
#: the efforts a model without a list of its own is taken to accept, weakest first (the gateway's words)
GATEWAY_EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")

_OFFICIAL = "official client 2.163.0's built-in configuration"


@dataclass(frozen=True)
class CatalogModel:
    """One chat model of the catalog."""

    id: str
    limits: Limits
    efforts: tuple[str, ...] | None
    """the efforts it accepts, weakest first; ``()``: none (no reasoning effort is sent); None: not known"""
    default_effort: str | None
    """the effort the official client sends when the user picks none (None: it sends none)"""
    vision: bool = True
    tools: bool = True
    reasoning: bool = True
    official: bool = True
    """in the official client's model list (False: one of the seed's models it no longer carries)"""
    prompt_cache: bool = True
    """the gateway reports prompt-cache hits for it (field reports: about none on hy3 and hy4-preview)"""
    context_lengths: tuple[int, ...] = ()
    """the context budgets the official client lets a user choose (``contextWindow.supportedLengths``)"""
    default_context: int | None = None
    """the budget it uses unless the user chooses another (``contextWindow.defaultLength``)"""


def _official(
    model_id: str,
    window: int,
    output: int,
    efforts: tuple[str, ...],
    default: str | None,
    *,
    lengths: tuple[int, ...] = (),
    default_length: int | None = None,
    reasoning: bool = True,
    prompt_cache: bool = True,
) -> CatalogModel:
    return CatalogModel(
        model_id,
        Limits(Figure(window, _OFFICIAL), Figure(output, _OFFICIAL)),
        efforts,
        default,
        reasoning=reasoning,
        prompt_cache=prompt_cache,
        context_lengths=lengths,
        default_context=default_length,
    )


_UP_TO_XHIGH = ("low", "medium", "high", "xhigh")
_UP_TO_MAX = ("low", "medium", "high", "xhigh", "max")
_LOW_HIGH_MAX = ("low", "high", "max")

#: the chat models, the official client's in its picker order, then the seed's two it no longer carries
CATALOG: dict[str, CatalogModel] = {
    m.id: m
    for m in (
        # the official client's picker ids: the gateway picks the model that answers
        _official("default-model", 176_000, 24_000, (), None, reasoning=False),
        _official("fast-model", 200_000, 32_000, ("medium",), "medium"),
        _official("balanced-model", 256_000, 32_000, ("medium",), "medium"),
        _official("primary-model", 272_000, 72_000, ("high",), "high"),
        _official("deep-model", 176_000, 24_000, (), None, reasoning=False),
        _official(
            "hy4-preview",
            1_000_000,
            64_000,
            ("high",),
            "high",
            lengths=(200_000, 1_000_000),
            default_length=200_000,
            prompt_cache=False,
        ),
        _official("hy3", 192_000, 64_000, ("low", "high"), "high", prompt_cache=False),
        _official(
            "deepseek-v4.1-flash",
            1_000_000,
            128_000,
            ("high",),
            "high",
            lengths=(300_000, 1_000_000),
            default_length=300_000,
        ),
        _official(
            "gpt-6-astra", 1_000_000, 128_000, _UP_TO_MAX, "high", lengths=(400_000, 1_000_000), default_length=400_000
        ),
        _official("gpt-5.6-sol", 1_000_000, 128_000, _UP_TO_MAX, "high"),
        _official("gpt-5.6-terra", 1_000_000, 128_000, _UP_TO_MAX, "high"),
        _official("gpt-5.6-luna", 1_000_000, 128_000, _UP_TO_MAX, "high"),
        _official("gpt-5.5", 1_000_000, 128_000, _UP_TO_XHIGH, "high"),
        _official("gpt-5.4", 272_000, 72_000, _UP_TO_XHIGH, "high"),
        _official("gemini-3.5-flash", 1_000_000, 65_536, ("medium",), "medium"),
        _official(
            "glm-5.3-flash",
            1_000_000,
            32_000,
            _LOW_HIGH_MAX,
            "high",
            lengths=(300_000, 1_000_000),
            default_length=300_000,
        ),
        _official("glm-5.3", 1_000_000, 48_000, _LOW_HIGH_MAX, "high"),
        _official("glm-5.2", 1_000_000, 48_000, ("high", "xhigh"), "high"),
        _official("kimi-k3", 1_000_000, 32_000, ("medium",), "medium"),
        _official("kimi-k2.6", 256_000, 32_000, ("medium",), "medium"),
        _official(
            "kimi-k2.8-preview",
            1_000_000,
            32_000,
            _LOW_HIGH_MAX,
            "high",
            lengths=(300_000, 1_000_000),
            default_length=300_000,
        ),
        # the seed's (June 2026), no longer in the official list; the live account may still offer them
        CatalogModel(
            "claude-sonnet-4.6",
            Limits(
                Figure(200_000, "seed capture (9router #1845); cloviela-router agrees"),
                Figure(64_000, "Anthropic's published output limit for Claude Sonnet 4.x (no CodeBuddy client says)"),
            ),
            None,
            None,
            official=False,
        ),
        CatalogModel(
            "gemini-3.1-pro",
            Limits(
                Figure(1_000_000, "seed capture (9router #1845); openproxy says 400k, cloviela-router 1.05M"),
                Figure(64_000, "soyelmismo/openproxy"),
            ),
            None,
            None,
            official=False,
        ),
    )
}

#: the official client's model ids, in its picker order (``data.agents[name="cli"].models`` of its configuration)
OFFICIAL_IDS: tuple[str, ...] = tuple(m.id for m in CATALOG.values() if m.official)
#: the seed's four models (``codebuddy/gpt-5.5`` is the design card's example); the shipped proxy configs deploy them
SEED_IDS: tuple[str, ...] = ("gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro")

#: model id -> its limits
LIMITS: dict[str, Limits] = {mid: m.limits for mid, m in CATALOG.items()}
#: model id -> the context window (input tokens)
CONTEXT_WINDOWS: dict[str, int] = {mid: limits.window.tokens for mid, limits in LIMITS.items()}
#: model id -> the longest answer (output tokens)
MAX_OUTPUT_TOKENS: dict[str, int] = {mid: limits.output.tokens for mid, limits in LIMITS.items()}
#: efforts of models outside the catalog, from field reports: ``max`` is rejected with 11133 (9router)
REPORTED_EFFORTS: dict[str, tuple[str, ...]] = {"gpt-5.3-codex": _UP_TO_XHIGH}
#: model id -> the efforts it accepts, where the catalog or a report says (a model not listed takes what the
#: gateway knows)
EFFORTS: dict[str, tuple[str, ...]] = {
    **REPORTED_EFFORTS,
    **{mid: m.efforts for mid, m in CATALOG.items() if m.efforts is not None},
}
#: model id -> the effort the official client sends by default
DEFAULT_EFFORTS: dict[str, str] = {mid: m.default_effort for mid, m in CATALOG.items() if m.default_effort}


@dataclass(frozen=True)
class ImageModel:
    """An image-generation model: ``kind`` is its tag, ``text-to-image`` or ``image-to-image`` (an edit model)."""

    id: str
    kind: str
    source: str


#: the image models the official client defaults to (its image tools; chat with them fails with 11103)
IMAGE_MODELS: dict[str, ImageModel] = {
    m.id: m
    for m in (
        ImageModel("hunyuan-image-v3.0", "text-to-image", "official client 2.163.0's default text-to-image model"),
        ImageModel(
            "hunyuan-image-v2.0-general-edit", "image-to-image", "official client 2.163.0's default image-edit model"
        ),
    )
}
#: the tags that make a model an image model (in ``/v3/config``'s rows)
IMAGE_TAGS: frozenset[str] = frozenset({"text-to-image", "image-to-image"})


def is_image_model(model_id: str) -> bool:
    """Whether ``model_id`` (bare or ``codebuddy/``-prefixed) is one of :data:`IMAGE_MODELS`."""
    return _bare(model_id) in IMAGE_MODELS


# the account's own answers (discovery), which win over everything else
_account_efforts: dict[str, tuple[str, ...]] = {}
_account_defaults: dict[str, str] = {}

# what every model gets, known or not: the provider, chat mode, a 0.0 price
_BASE: dict[str, Any] = {
    "litellm_provider": PROVIDER,
    "mode": "chat",
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_read_input_token_cost": 0.0,
    "cache_creation_input_token_cost": 0.0,
}

#: what is true of every model behind the gateway, whatever the model: LiteLLM's ``supports_*`` flags that do not
#: depend on the model. The gateway takes text and images only (no PDF, file, audio or video parts: the provider
#: refuses them), answers by streaming, has no web search, URL context, computer use or tool search of its own,
#: does not enforce ``response_format`` (the provider refuses it unless dropped), keeps no prompt-cache breakpoints
#: (caching is automatic) and no Anthropic thinking payloads.
GATEWAY_FLAGS: dict[str, bool] = {
    "supports_system_messages": True,
    "supports_native_streaming": True,
    "supports_response_schema": False,
    "supports_native_structured_output": False,
    "supports_bedrock_native_structured_output": False,
    "supports_output_config": False,
    "supports_regex_lookaround": False,
    "supports_assistant_prefill": False,
    "supports_mid_conversation_system": False,
    "supports_pdf_input": False,
    "supports_audio_input": False,
    "supports_audio_output": False,
    "supports_video_input": False,
    "supports_embedding_image_input": False,
    "supports_box_questions": False,
    "supports_image_size": False,
    "supports_web_search": False,
    "supports_url_context": False,
    "supports_computer_use": False,
    "supports_tool_search": False,
    "supports_prompt_cache_breakpoint": False,
    "supports_thinking_cache_preservation": False,
    "supports_adaptive_thinking": False,
    "supports_legacy_thinking": False,
    "supports_anthropic_thinking_payload": False,
    "supports_anthropic_compaction": False,
    "supports_per_turn_control": False,
    "supports_none_reasoning_effort": False,
    "supports_sampling_params": True,  # temperature and top_p are read (the official client sends temperature)
    "supports_continuation": False,
    "supports_bedrock_native_structured_output_by_default": False,
}
# LiteLLM's per-level effort flags (the levels a list can name)
_EFFORT_FLAGS = {
    "minimal": "supports_minimal_reasoning_effort",
    "low": "supports_low_reasoning_effort",
    "xhigh": "supports_xhigh_reasoning_effort",
    "max": "supports_max_reasoning_effort",
}


def _bare(model_id: str) -> str:
    return model_id.removeprefix(f"{PROVIDER}/")


def effort_words(values: Iterable[Any]) -> tuple[str, ...]:
    """Effort words as lower-case words, each once: the ladder's weakest first, then any other word (``no_think``)
    in the order given. Nothing is left out but what is not a non-empty string."""
    given = list(dict.fromkeys(v.strip().lower() for v in values if isinstance(v, str) and v.strip()))
    return (*(e for e in EFFORT_LADDER if e in given), *(e for e in given if e not in EFFORT_LADDER))


def capability_flags(
    *, tools: bool, vision: bool, reasoning: bool, efforts: Sequence[str] | None, prompt_cache: bool = True
) -> dict[str, bool]:
    """Every ``supports_*`` flag LiteLLM asks about, for a model with these facts (:data:`GATEWAY_FLAGS` and the
    model's own). Effort flags come from ``efforts`` (None: not known, the gateway's :data:`GATEWAY_EFFORTS`)."""
    flags = dict(GATEWAY_FLAGS)
    flags.update(
        {
            "supports_function_calling": tools,
            "supports_parallel_function_calling": tools,
            "supports_tool_choice": tools,
            "supports_vision": vision,
            "supports_reasoning": reasoning,
            "supports_prompt_caching": prompt_cache,
        }
    )
    levels = GATEWAY_EFFORTS if efforts is None else efforts
    flags.update({flag: reasoning and level in levels for level, flag in _EFFORT_FLAGS.items()})
    # a flag a newer LiteLLM asks about that this table does not know yet: False rather than the answer of another
    # provider's entry of the same bare name
    flags.update({flag: False for flag in _litellm_flags() if flag not in flags})
    return flags


@functools.lru_cache(maxsize=1)
def _litellm_flags() -> tuple[str, ...]:
    """Every ``supports_*`` key of LiteLLM's model info (``litellm.types.utils.ModelInfoBase``); none without
    LiteLLM."""
    try:
        from litellm.types.utils import ModelInfoBase
    except ImportError:
        return ()
    return tuple(k for k in typing.get_type_hints(ModelInfoBase) if k.startswith("supports_"))


def model_info(
    model_id: str,
    max_input_tokens: int | None = None,
    max_output_tokens: int | None = None,
    supports_vision: bool | None = None,
    *,
    supports_tools: bool | None = None,
    supports_reasoning: bool | None = None,
    efforts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ``model_info`` LiteLLM is given for a chat model: the catalog's facts for its own models, figures and
    flags given here (from the live account) winning over them; for other models what is known, and the
    gateway's own flags (:data:`GATEWAY_FLAGS`). The accepted efforts go in LiteLLM's own
    ``reasoning_effort_levels``."""
    info: dict[str, Any] = {**_BASE, **GATEWAY_FLAGS}
    known = CATALOG.get(model_id)
    window = max_input_tokens or CONTEXT_WINDOWS.get(model_id)
    out = max_output_tokens or MAX_OUTPUT_TOKENS.get(model_id)
    if window:
        info["max_input_tokens"] = window
    if out:
        info["max_output_tokens"] = out
    if out or window:
        info["max_tokens"] = out or window  # LiteLLM's older name: the output limit when known
    levels = effort_words(efforts) if efforts is not None else EFFORTS.get(model_id)
    tools = supports_tools if supports_tools is not None else (known.tools if known else None)
    vision = supports_vision if supports_vision is not None else (known.vision if known else None)
    reasoning = supports_reasoning if supports_reasoning is not None else (known.reasoning if known else None)
    if known is not None:
        info.update(
            capability_flags(
                tools=bool(tools),
                vision=bool(vision),
                reasoning=bool(reasoning),
                efforts=levels,
                prompt_cache=known.prompt_cache,
            )
        )
    else:  # what the account says, the rest left unsaid
        if tools is not None:
            info["supports_function_calling"] = info["supports_tool_choice"] = tools
            info["supports_parallel_function_calling"] = tools
        if vision is not None:
            info["supports_vision"] = vision
        if reasoning is not None:
            info["supports_reasoning"] = reasoning
        if levels is not None:
            info.update({flag: reasoning is not False and lvl in levels for lvl, flag in _EFFORT_FLAGS.items()})
    if levels is not None and info.get("supports_reasoning") is not False:
        info["reasoning_effort_levels"] = list(levels)
    return info


def image_model_info() -> dict[str, Any]:
    """The ``model_info`` LiteLLM is given for an image model: ``mode: image_generation``, a 0.0 price, and no
    chat capability (every ``supports_*`` flag stated)."""
    flags = capability_flags(tools=False, vision=False, reasoning=False, efforts=(), prompt_cache=False)
    return {
        **flags,
        "supports_system_messages": False,
        "supports_native_streaming": False,
        "litellm_provider": PROVIDER,
        "mode": "image_generation",
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_read_input_token_cost": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "input_cost_per_image": 0.0,
        "output_cost_per_image": 0.0,
    }


def catalog_supports_vision(model_id: str) -> bool | None:
    """The catalog's answer for one of its models, None for a model it does not know."""
    known = CATALOG.get(model_id)
    return known.vision if known is not None else None


def cost_map() -> dict[str, dict[str, Any]]:
    """The catalog as a ``litellm.register_model`` argument, keyed ``codebuddy/<id>``: its chat models, and its
    image models with ``mode: image_generation``."""
    chat = {f"{PROVIDER}/{model_id}": model_info(model_id) for model_id in CATALOG}
    return {**chat, **{f"{PROVIDER}/{model_id}": image_model_info() for model_id in IMAGE_MODELS}}


def register_catalog() -> None:
    """Register the catalog with LiteLLM: its prices and capabilities (``register_model``), and its chat models'
    ids in ``litellm.models_by_provider`` (a dict of sets), where LiteLLM picks a model to health-check a wildcard
    deployment (``codebuddy/*`` in the proxy's ``/health``) and lists a provider's models."""
    import litellm

    models = cost_map()
    litellm.register_model(models)
    chat = {name for name, info in models.items() if info["mode"] == "chat"}
    known = litellm.models_by_provider.get(PROVIDER)
    if isinstance(known, set):
        known.update(chat)
    else:
        litellm.models_by_provider[PROVIDER] = set(known or ()) | chat


def remember_account_efforts(
    efforts: Mapping[str, Sequence[str] | None], defaults: Mapping[str, str | None] | None = None
) -> None:
    """Keep what the account says each model accepts, and its default effort (discovery's answer; None: the
    account does not say)."""
    for model_id, values in efforts.items():
        if values is not None:
            _account_efforts[model_id] = effort_words(values)
    for model_id, default in (defaults or {}).items():
        if default:
            _account_defaults[model_id] = default


def _model_map_entry(model_id: str) -> dict[str, Any] | None:
    import litellm

    entry = litellm.model_cost.get(f"{PROVIDER}/{model_id}")
    return entry if isinstance(entry, dict) else None


def supported_efforts(model_id: str) -> tuple[str, ...] | None:
    """The efforts ``model_id`` accepts, weakest first: the account's list, else the model map's
    ``reasoning_effort_levels``, else :data:`EFFORTS`; None when nobody knows. Reads memory only."""
    model_id = _bare(model_id)
    if model_id in _account_efforts:
        return _account_efforts[model_id]
    entry = _model_map_entry(model_id)
    levels = entry.get("reasoning_effort_levels") if entry is not None else None
    if isinstance(levels, (list, tuple)):
        return effort_words(levels)
    return EFFORTS.get(model_id)


def default_effort(model_id: str) -> str | None:
    """The effort the official client sends to ``model_id`` when its user picks none: the account's, else the
    catalog's (None: it sends none, or nobody knows). Reads memory only."""
    model_id = _bare(model_id)
    return _account_defaults.get(model_id) or DEFAULT_EFFORTS.get(model_id)


def max_output_tokens(model_id: str) -> int | None:
    """The longest answer ``model_id`` (bare or ``codebuddy/``-prefixed) may give, in tokens: LiteLLM's model map
    (what discovery or a proxy's ``model_info`` registered), else the catalog; None for a model nobody knows (an
    image model too). The official client sends it as ``max_tokens`` on every request. Reads memory only."""
    model_id = _bare(model_id)
    if model_id in IMAGE_MODELS:
        return None
    entry = _model_map_entry(model_id)
    value = entry.get("max_output_tokens") if entry is not None else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return MAX_OUTPUT_TOKENS.get(model_id)
