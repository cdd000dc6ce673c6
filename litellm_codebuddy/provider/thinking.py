"""Anthropic ``thinking`` as the gateway's ``reasoning_effort``, pure.

The gateway knows only OpenAI's ``reasoning_effort``; Anthropic clients (Claude
Code, the ``anthropic`` SDK through the proxy's ``/v1/messages``) send ``thinking`` instead, and LiteLLM passes it
through unchanged for model names containing "claude". An enabled budget maps by :data:`LOW_BELOW` and
:data:`MEDIUM_BELOW`, adaptive thinking by ``output_config.effort``. The whole table, made by calling
:func:`effort_from_thinking` on representative inputs, is in docs/sdk.md#anthropic-thinking.

The thresholds follow Anthropic's own guidance (1024 is the minimum budget, a few thousand tokens is light
thinking, 16k and more is for hard problems). ``output_config.effort`` is taken as it is, ``max`` included:
whether the model accepts it is decided with every other effort (:func:`.params.nearest_effort` lowers an effort
the model does not take). ``thinking`` itself is never sent upstream; an explicit ``reasoning_effort`` from the
caller always wins.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOW_BELOW", "MEDIUM_BELOW", "effort_from_thinking"]

#: ``budget_tokens`` below this is ``low``
LOW_BELOW = 4096
#: ``budget_tokens`` below this (and at least LOW_BELOW) is ``medium``; from here on ``high``
MEDIUM_BELOW = 16384
# every effort word output_config.effort may carry that the gateway's ladder knows
_EFFORTS = frozenset({"minimal", "low", "medium", "high", "xhigh", "max"})


def _effort_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    return name if name in _EFFORTS else None


def effort_from_thinking(thinking: Any, output_config: Any = None) -> str | None:
    """The ``reasoning_effort`` for an Anthropic ``thinking`` value (and ``output_config``), or None for none."""
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
            return "medium"
        if budget < LOW_BELOW:
            return "low"
        return "medium" if budget < MEDIUM_BELOW else "high"
    if kind == "adaptive":
        effort = _effort_name(output_config.get("effort")) if isinstance(output_config, dict) else None
        return effort or "medium"
    return None
