"""The CodeBuddy models this package knows, in one table, and what LiteLLM is told about a model.

Context windows are the seed capture's (see ``codebuddy-wire.md``); other clients disagree and the live account
decides (:mod:`litellm_codebuddy.account.discovery`). CodeBuddy bills in credits and publishes no per-token prices:
models are registered at a price of 0.0 so that LiteLLM's cost tracking returns a number (0.0) instead of None.
Set your own prices with ``litellm.register_model`` or the proxy's ``model_info`` if you want a figure.
"""

from __future__ import annotations

from typing import Any

from .endpoint import PROVIDER

__all__ = ["CONTEXT_WINDOWS", "catalog_supports_vision", "cost_map", "model_info", "register_catalog"]

#: model id -> context window (input tokens)
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5.5": 128_000,
    "gpt-5.4": 128_000,
    "claude-sonnet-4.6": 200_000,
    "gemini-3.1-pro": 1_000_000,
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
) -> dict[str, Any]:
    """The ``model_info`` LiteLLM is given for a model: the catalog's facts for its own models, figures given
    here (from the live account) winning over them; for other models only what is known."""
    info: dict[str, Any] = dict(_BASE)
    if model_id in CONTEXT_WINDOWS:
        info.update(_CATALOG_CAPABILITIES)
    window = max_input_tokens or CONTEXT_WINDOWS.get(model_id)
    if window:
        info["max_input_tokens"] = window
        info["max_tokens"] = max_output_tokens or window
    if max_output_tokens:
        info["max_output_tokens"] = max_output_tokens
    if supports_vision is not None:
        info["supports_vision"] = supports_vision
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
