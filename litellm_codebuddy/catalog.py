"""The CodeBuddy models this package knows, in one table, and their registration with LiteLLM.

Context windows are the seed capture's (see ``codebuddy-wire.md``); other clients disagree and the live
account decides. CodeBuddy bills in credits and publishes no per-token prices: the catalog registers a
price of 0.0 so that LiteLLM's cost tracking returns a number (0.0) instead of None. Set your own prices
with ``litellm.register_model`` or the proxy's ``model_info`` if you want a figure.
"""

from __future__ import annotations

from typing import Any

PROVIDER = "codebuddy"

#: model id -> context window (input tokens)
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5.5": 128_000,
    "gpt-5.4": 128_000,
    "claude-sonnet-4.6": 200_000,
    "gemini-3.1-pro": 1_000_000,
}

_CAPABILITIES: dict[str, Any] = {
    "litellm_provider": PROVIDER,
    "mode": "chat",
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_read_input_token_cost": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "supports_function_calling": True,
    "supports_parallel_function_calling": True,
    "supports_tool_choice": True,
    "supports_vision": True,
    "supports_reasoning": True,
    "supports_system_messages": True,
    "supports_response_schema": False,
}


def model_info(model_id: str) -> dict[str, Any]:
    """The ``model_info`` LiteLLM is given for one catalog model."""
    window = CONTEXT_WINDOWS[model_id]
    return {**_CAPABILITIES, "max_input_tokens": window, "max_tokens": window}


def cost_map() -> dict[str, dict[str, Any]]:
    """The catalog as a ``litellm.register_model`` argument, keyed ``codebuddy/<id>``."""
    return {f"{PROVIDER}/{model_id}": model_info(model_id) for model_id in CONTEXT_WINDOWS}


def register_catalog() -> None:
    import litellm

    litellm.register_model(cost_map())
