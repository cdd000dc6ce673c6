"""The CodeBuddy models this package knows, in one table, and what LiteLLM is told about a model.

Each figure names its source. Public sources disagree on the limits of the same ids (docs/gateway.md#catalog-limits);
the catalog keeps the seed capture's context windows and the reported output limits, and the live account is the
authority: its figures (:mod:`litellm_codebuddy.account.discovery`) win wherever it gives them. CodeBuddy bills in
credits and publishes no per-token prices: models are registered at a price of 0.0 so that LiteLLM's cost tracking
returns a number (0.0) instead of None. To count credits as cost, set ``CODEBUDDY_CREDIT_COST`` (the cost of one
credit; :mod:`litellm_codebuddy.provider.stream`), or set your own token prices with ``litellm.register_model`` or
the proxy's ``model_info``.
"""

from __future__ import annotations

from typing import Any

from .endpoint import PROVIDER

__all__ = [
    "CONTEXT_WINDOWS",
    "MAX_OUTPUT_TOKENS",
    "catalog_supports_vision",
    "cost_map",
    "model_info",
    "register_catalog",
]

#: model id -> context window (input tokens)
CONTEXT_WINDOWS: dict[str, int] = {
    # seed (9router #1845's registry). Disagreeing: soyelmismo/openproxy 1M, cloviela-router 1.05M
    "gpt-5.5": 128_000,
    # seed. Disagreeing: soyelmismo/openproxy 272k, cloviela-router 1.05M
    "gpt-5.4": 128_000,
    # seed; cloviela-router agrees (200k)
    "claude-sonnet-4.6": 200_000,
    # seed. Disagreeing: soyelmismo/openproxy 400k, cloviela-router 1.05M (gemini-3.x)
    "gemini-3.1-pro": 1_000_000,
}

#: model id -> the longest answer (output tokens)
MAX_OUTPUT_TOKENS: dict[str, int] = {
    # soyelmismo/openproxy 72k; cloviela-router says 128k: the lower figure is kept
    "gpt-5.5": 72_000,
    # soyelmismo/openproxy and cloviela-router agree (128k)
    "gpt-5.4": 128_000,
    # no CodeBuddy client reports one: Anthropic's published output limit for Claude Sonnet 4.x (64k)
    "claude-sonnet-4.6": 64_000,
    # soyelmismo/openproxy (64k)
    "gemini-3.1-pro": 64_000,
}

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
# what the catalog's own models are known to support
_CATALOG_CAPABILITIES: dict[str, Any] = {
    "supports_function_calling": True,
    "supports_parallel_function_calling": True,
    "supports_tool_choice": True,
    "supports_vision": True,
    "supports_reasoning": True,
    "supports_response_schema": False,
}


def model_info(
    model_id: str,
    max_input_tokens: int | None = None,
    max_output_tokens: int | None = None,
    supports_vision: bool | None = None,
    *,
    supports_tools: bool | None = None,
    supports_reasoning: bool | None = None,
) -> dict[str, Any]:
    """The ``model_info`` LiteLLM is given for a model: the catalog's facts for its own models, figures and flags
    given here (from the live account) winning over them; for other models only what is known."""
    info: dict[str, Any] = dict(_BASE)
    if model_id in CONTEXT_WINDOWS:
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
    return info


def catalog_supports_vision(model_id: str) -> bool | None:
    """The catalog's answer for one of its models, None for a model it does not know."""
    return bool(_CATALOG_CAPABILITIES["supports_vision"]) if model_id in CONTEXT_WINDOWS else None


def cost_map() -> dict[str, dict[str, Any]]:
    """The catalog as a ``litellm.register_model`` argument, keyed ``codebuddy/<id>``."""
    return {f"{PROVIDER}/{model_id}": model_info(model_id) for model_id in CONTEXT_WINDOWS}


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
