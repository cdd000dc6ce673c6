"""The CodeBuddy models this package knows, in one table, and what LiteLLM is told about a model.

Each figure names its source. Public sources disagree on the limits of the same ids (docs/gateway.md#catalog-limits);
the catalog keeps, per model, figures that agree with each other (an answer always fits inside the context window)
and says where each comes from, and the live account is the authority: its figures
(:mod:`litellm_codebuddy.account.discovery`) win wherever it gives them. CodeBuddy bills in credits and publishes
no per-token prices: models are registered at a price of 0.0 so that LiteLLM's cost tracking returns a number (0.0)
instead of None. To count credits as cost, set ``CODEBUDDY_CREDIT_COST`` (the cost of one credit;
:mod:`litellm_codebuddy.provider.stream`), or set your own token prices with ``litellm.register_model`` or the
proxy's ``model_info``.

Reasoning efforts: the gateway's words are ``low``, ``medium``, ``high``, ``xhigh`` and ``max``
(:data:`GATEWAY_EFFORTS`); some models take fewer. :func:`supported_efforts` answers for one model from, in this
order, the account's own list (what discovery found, :func:`remember_account_efforts`), the model's
``reasoning_effort_levels`` in LiteLLM's model map (a proxy deployment's ``model_info`` puts it there), and
:data:`EFFORTS`; None when nobody knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .endpoint import PROVIDER

__all__ = [
    "CONTEXT_WINDOWS",
    "EFFORTS",
    "GATEWAY_EFFORTS",
    "LIMITS",
    "MAX_OUTPUT_TOKENS",
    "Figure",
    "Limits",
    "catalog_supports_vision",
    "cost_map",
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


#: model id -> its limits. Sources: the seed capture (9router #1845's registry), soyelmismo/openproxy's catalog,
#: clovieflow/cloviela-router's discovery defaults (``codebuddy-wire.md``)
LIMITS: dict[str, Limits] = {
    "gpt-5.5": Limits(
        Figure(128_000, "seed capture (9router #1845); openproxy says 1M, cloviela-router 1.05M"),
        Figure(72_000, "soyelmismo/openproxy; cloviela-router says 128k: the lower figure is kept"),
    ),
    "gpt-5.4": Limits(
        Figure(272_000, "soyelmismo/openproxy; the seed says 128k (no room for its 128k answers), cloviela 1.05M"),
        Figure(128_000, "soyelmismo/openproxy and cloviela-router agree"),
    ),
    "claude-sonnet-4.6": Limits(
        Figure(200_000, "seed capture (9router #1845); cloviela-router agrees"),
        Figure(64_000, "Anthropic's published output limit for Claude Sonnet 4.x (no CodeBuddy client reports one)"),
    ),
    "gemini-3.1-pro": Limits(
        Figure(1_000_000, "seed capture (9router #1845); openproxy says 400k, cloviela-router 1.05M"),
        Figure(64_000, "soyelmismo/openproxy"),
    ),
}

#: model id -> the context window (input tokens)
CONTEXT_WINDOWS: dict[str, int] = {mid: limits.window.tokens for mid, limits in LIMITS.items()}
#: model id -> the longest answer (output tokens)
MAX_OUTPUT_TOKENS: dict[str, int] = {mid: limits.output.tokens for mid, limits in LIMITS.items()}

#: every reasoning effort the gateway knows, weakest first (field reports: 9router's executor)
GATEWAY_EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")
_NO_MAX = ("low", "medium", "high", "xhigh")
#: model id -> the efforts it accepts, where a report says (a model not listed takes what the gateway knows).
#: ``max`` is rejected with 11133 on these three (9router's field report).
EFFORTS: dict[str, tuple[str, ...]] = {"gpt-5.5": _NO_MAX, "gpt-5.4": _NO_MAX, "gpt-5.3-codex": _NO_MAX}

# the account's own answers (discovery), which win over everything else
_account_efforts: dict[str, tuple[str, ...]] = {}

# what every model gets, known or not: the provider, chat mode, a 0.0 price
_BASE: dict[str, Any] = {
    "litellm_provider": PROVIDER,
    "mode": "chat",
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_read_input_token_cost": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "supports_system_messages": True,
}
# what the catalog's own models are known to support. The gateway does not enforce response_format and returns
# no logprobs: LiteLLM is told there is no response schema (provider/params.py refuses both unless dropped)
_CATALOG_CAPABILITIES: dict[str, Any] = {
    "supports_function_calling": True,
    "supports_parallel_function_calling": True,
    "supports_tool_choice": True,
    "supports_vision": True,
    "supports_reasoning": True,
    "supports_response_schema": False,
}


def _efforts(values: Iterable[Any]) -> tuple[str, ...]:
    """The gateway's efforts among ``values``, weakest first (unknown words are left out)."""
    given = {str(v).strip().lower() for v in values if isinstance(v, str)}
    return tuple(e for e in GATEWAY_EFFORTS if e in given)


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
    """The ``model_info`` LiteLLM is given for a model: the catalog's facts for its own models, figures and flags
    given here (from the live account) winning over them; for other models only what is known. The accepted
    efforts go in LiteLLM's own ``reasoning_effort_levels``."""
    info: dict[str, Any] = dict(_BASE)
    if model_id in LIMITS:
        info.update(_CATALOG_CAPABILITIES)
    window = max_input_tokens or CONTEXT_WINDOWS.get(model_id)
    out = max_output_tokens or MAX_OUTPUT_TOKENS.get(model_id)
    if window:
        info["max_input_tokens"] = window
    if out:
        info["max_output_tokens"] = out
    if out or window:
        info["max_tokens"] = out or window  # LiteLLM's older name: the output limit when known
    if supports_vision is not None:
        info["supports_vision"] = supports_vision
    if supports_tools is not None:
        info["supports_function_calling"] = info["supports_tool_choice"] = supports_tools
        info["supports_parallel_function_calling"] = supports_tools
    if supports_reasoning is not None:
        info["supports_reasoning"] = supports_reasoning
    levels = _efforts(efforts) if efforts is not None else EFFORTS.get(model_id)
    if levels is not None and info.get("supports_reasoning") is not False:
        info["reasoning_effort_levels"] = list(levels)
    return info


def catalog_supports_vision(model_id: str) -> bool | None:
    """The catalog's answer for one of its models, None for a model it does not know."""
    return bool(_CATALOG_CAPABILITIES["supports_vision"]) if model_id in LIMITS else None


def cost_map() -> dict[str, dict[str, Any]]:
    """The catalog as a ``litellm.register_model`` argument, keyed ``codebuddy/<id>``."""
    return {f"{PROVIDER}/{model_id}": model_info(model_id) for model_id in LIMITS}


def register_catalog() -> None:
    """Register the catalog with LiteLLM: its prices and capabilities (``register_model``), and its ids in
    ``litellm.models_by_provider`` (a dict of sets), where LiteLLM picks a model to health-check a wildcard
    deployment (``codebuddy/*`` in the proxy's ``/health``) and lists a provider's models."""
    import litellm

    models = cost_map()
    litellm.register_model(models)
    known = litellm.models_by_provider.get(PROVIDER)
    if isinstance(known, set):
        known.update(models)
    else:
        litellm.models_by_provider[PROVIDER] = set(known or ()) | set(models)


def remember_account_efforts(efforts: Mapping[str, Sequence[str] | None]) -> None:
    """Keep what the account says each model accepts (discovery's answer; None: the account does not say)."""
    for model_id, values in efforts.items():
        if values is not None:
            _account_efforts[model_id] = _efforts(values)


def supported_efforts(model_id: str) -> tuple[str, ...] | None:
    """The efforts ``model_id`` accepts, weakest first: the account's list, else the model map's
    ``reasoning_effort_levels``, else :data:`EFFORTS`; None when nobody knows. Reads memory only."""
    if model_id in _account_efforts:
        return _account_efforts[model_id]
    import litellm

    entry = litellm.model_cost.get(f"{PROVIDER}/{model_id}")
    levels = entry.get("reasoning_effort_levels") if isinstance(entry, dict) else None
    if isinstance(levels, (list, tuple)):
        return _efforts(levels)
    return EFFORTS.get(model_id)
