"""Request parameters as the gateway reads them, pure: token limits, reasoning, and what it does not do.

The gateway reads several OpenAI parameters its own way (field reports in ``codebuddy-wire.md``):

- **Token limits.** Only ``max_tokens`` limits the answer; ``max_completion_tokens`` is ignored, and a
  ``max_tokens`` below 16 is rejected (11133). So one ``max_tokens`` is sent: the smallest of ``max_tokens``,
  ``max_completion_tokens`` and ``max_output_tokens`` given, raised to :data:`MIN_MAX_TOKENS` when below it (so
  LiteLLM's health check and quota probes work). With no limit the gateway stops at
  :data:`GATEWAY_DEFAULT_MAX_TOKENS` with ``finish_reason`` "length", reasoning included; so, as the official
  client does, a call without a limit is sent the model's longest answer (:func:`default_max_tokens`).
- **Reasoning.** The gateway shows reasoning when a request carries both ``reasoning_effort`` and
  ``reasoning_summary``, and forcing either onto a plain request trips its content filter: so
  ``reasoning_summary`` (``"auto"`` unless the caller chose ``concise`` or ``detailed``) goes with every effort
  that is sent, and never without one. The effort comes from ``reasoning_effort`` (a string, or LiteLLM's
  ``{"effort", "summary"}`` form), else ``reasoning.effort``, else Anthropic ``thinking`` (:mod:`.thinking`); an
  effort the model does not accept is lowered to the nearest one it does (:func:`nearest_effort`).
- **No pretence.** The gateway does not enforce ``response_format`` (``json_object``, ``json_schema``) and
  returns no ``logprobs``. Asking for them raises LiteLLM's ``UnsupportedParamsError`` unless the caller lets
  them go (``drop_params``; or, for a ``json_schema`` on a call that is not streamed, LiteLLM's own
  ``litellm.enable_json_schema_validation``, which checks the answer against the schema: the per-call flag of
  that name does not reach a custom provider, so with it, pass ``drop_params=True`` too). They are never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import litellm

from ..catalog import GATEWAY_EFFORTS, MAX_OUTPUT_TOKENS
from ..endpoint import PROVIDER
from .thinking import effort_from_thinking

__all__ = [
    "DEFAULT_POLICY",
    "EFFORT_LADDER",
    "GATEWAY_DEFAULT_MAX_TOKENS",
    "MIN_MAX_TOKENS",
    "UNKNOWN_MODEL_MAX_TOKENS",
    "Policy",
    "default_max_tokens",
    "gateway_params",
    "nearest_effort",
    "reasoning_fields",
    "refuse_unsupported",
    "smaller_limit",
    "token_limit",
]

logger = logging.getLogger(__name__)

#: the smallest ``max_tokens`` the gateway takes (below it: 11133); smaller limits are raised to it
MIN_MAX_TOKENS = 16
#: where the gateway stops an answer when no limit is sent (``finish_reason`` "length")
GATEWAY_DEFAULT_MAX_TOKENS = 32_000
#: the ``max_tokens`` the official client sends for a model it has no figure for
UNKNOWN_MODEL_MAX_TOKENS = 32_000
#: the names a token limit comes under (LiteLLM already turns ``max_completion_tokens`` into ``max_tokens``)
LIMIT_NAMES = ("max_tokens", "max_completion_tokens", "max_output_tokens")
#: every effort word a caller may use, weakest first (``minimal`` is OpenAI's; the gateway's start at ``low``)
EFFORT_LADDER: tuple[str, ...] = ("minimal", *GATEWAY_EFFORTS)
_RANK = {effort: rank for rank, effort in enumerate(EFFORT_LADDER)}
_OFF = frozenset({"none", "off", "disabled", "disable"})
SUMMARIES = ("auto", "concise", "detailed")
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Policy:
    """The caller's switches that decide what is sent (read from LiteLLM's arguments by :class:`~.call.Call`)."""

    auto_cache_key: bool = True
    """derive a ``prompt_cache_key`` when the caller gives none (:mod:`.cache_key`)"""
    drop_params: bool = False
    """LiteLLM's ``drop_params``: parameters the gateway cannot honour are left out instead of refused"""
    validates_json: bool = False
    """LiteLLM checks the answer against a ``json_schema`` (``enable_json_schema_validation``, not streamed)"""
    private_data: bool = False
    """opt out of the use of the requests to improve models: ``X-Private-Data: true``
    (docs/gateway.md#privacy-header)"""


#: the switches when the caller sets none
DEFAULT_POLICY = Policy()


def bad_request(message: str, model: str = "") -> litellm.BadRequestError:
    """The provider's one answer to input it cannot send: a ``BadRequestError`` raised before any network."""
    return litellm.BadRequestError(message=f"CodeBuddy: {message}", model=model, llm_provider=PROVIDER)


# ---------------------------------------------------------------- token limits


def smaller_limit(optional_params: Mapping[str, Any], asked: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``optional_params`` with ``max_tokens`` set to the smaller of the caller's ``max_tokens`` and
    ``max_completion_tokens`` when the caller gave both.

    LiteLLM merges the two into one ``max_tokens`` before a custom provider sees them, the later one winning
    (``max_tokens=3, max_completion_tokens=9`` arrives as ``max_tokens=9``). What the caller asked for is still
    on LiteLLM's logging object (``model_call_details["optional_params"]``): ``asked`` is that mapping, or None
    when it is not there (then ``optional_params`` is returned as it is)."""
    if not isinstance(asked, Mapping):
        return optional_params
    limits = [asked.get(name) for name in ("max_tokens", "max_completion_tokens")]
    numbers = [v for v in limits if isinstance(v, int) and not isinstance(v, bool)]
    if len(numbers) < 2:
        return optional_params
    return {**optional_params, "max_tokens": min(numbers)}


def default_max_tokens(model: str) -> int:
    """The ``max_tokens`` sent when the caller gives none: the model's longest answer, as the official client sends
    it (docs/gateway.md#max-tokens-default). From LiteLLM's model map entry ``codebuddy/<model>`` (the catalog,
    discovered models and a proxy deployment's ``model_info`` are registered there), else the catalog, else
    :data:`UNKNOWN_MODEL_MAX_TOKENS`; never below :data:`MIN_MAX_TOKENS`. Reads memory only."""
    entry = litellm.model_cost.get(f"{PROVIDER}/{model}")
    figure = entry.get("max_output_tokens") if isinstance(entry, Mapping) else None
    if isinstance(figure, bool) or not isinstance(figure, int) or figure < 1:
        figure = MAX_OUTPUT_TOKENS.get(model, UNKNOWN_MODEL_MAX_TOKENS)
    return max(figure, MIN_MAX_TOKENS)


def token_limit(params: dict[str, Any], model: str = "") -> int | None:
    """Remove every token-limit name from ``params``; the one ``max_tokens`` to send (None: send none).

    The smallest limit given wins; a limit below :data:`MIN_MAX_TOKENS` becomes that. A limit that is not a
    positive integer is a BadRequestError."""
    given: list[int] = []
    for name in LIMIT_NAMES:
        value = params.pop(name, None)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_request(f"{name} must be a positive integer, got {value!r}", model)
        given.append(value)
    if not given:
        return None
    limit = min(given)
    if limit < MIN_MAX_TOKENS:
        logger.debug("CodeBuddy: max_tokens %d raised to the gateway's minimum %d", limit, MIN_MAX_TOKENS)
    return max(limit, MIN_MAX_TOKENS)


# ---------------------------------------------------------------- reasoning


def nearest_effort(asked: str, supported: Sequence[str] | None) -> str | None:
    """The effort to send for ``asked`` (a word of :data:`EFFORT_LADDER`) on a model that accepts ``supported``
    (None: unknown, the gateway's whole set).

    An accepted effort is sent as it is; another is lowered to the nearest accepted one below it, never raised.
    Only when the model accepts nothing at or below it (``minimal``, or ``low`` on a model that starts at
    ``medium``) is the model's weakest effort sent. A model that accepts no effort at all gets none."""
    accepted = [e for e in EFFORT_LADDER if e in (GATEWAY_EFFORTS if supported is None else supported)]
    if asked in accepted:
        return asked
    below = [e for e in accepted if _RANK[e] < _RANK[asked]]
    return below[-1] if below else (accepted[0] if accepted else None)


def _say_if_raised(model: str, asked: str, chosen: str | None) -> None:
    """A warning (once per model and effort) when the effort sent is not the one asked or below it."""
    if chosen is not None and _RANK[chosen] <= _RANK[asked]:
        return
    if (model, asked) in _warned:
        return
    _warned.add((model, asked))
    if chosen is None:
        logger.warning("CodeBuddy: %s accepts no reasoning effort; reasoning_effort %r is not sent", model, asked)
    else:
        logger.warning(
            "CodeBuddy: %s accepts no reasoning effort at or below %r; its weakest, %r, is sent", model, asked, chosen
        )


def _effort_word(value: Any, model: str) -> str | None:
    """A caller's effort as a ladder word, None for "off"; a BadRequestError for anything else."""
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _OFF:
        return None
    if word not in _RANK:
        accepted = ", ".join(("none", *EFFORT_LADDER))
        raise bad_request(f"reasoning_effort must be one of {accepted}; got {value!r}", model)
    return word


def reasoning_fields(params: dict[str, Any], model: str, supported: Sequence[str] | None) -> dict[str, Any]:
    """Remove every reasoning parameter from ``params``; the ``reasoning_effort`` and ``reasoning_summary`` to send
    (both or neither). ``supported``: the efforts the model accepts (None: unknown)."""
    effort: Any = params.pop("reasoning_effort", None)
    reasoning = params.pop("reasoning", None)
    summary = params.pop("reasoning_summary", None)
    thinking, output_config = params.pop("thinking", None), params.pop("output_config", None)
    if isinstance(effort, Mapping):  # LiteLLM's Anthropic bridge sends {"effort": ..., "summary": ...}
        summary = summary or effort.get("summary")
        effort = effort.get("effort")
    if isinstance(reasoning, Mapping):
        summary = summary or reasoning.get("summary")
        if effort is None:
            effort = reasoning.get("effort")  # only the top-level field is honoured by the gateway
    if effort is None:  # Anthropic's thinking (and output_config) are never sent: they become an effort
        effort = effort_from_thinking(thinking, output_config)
    if effort is None:
        return {}
    word = _effort_word(effort, model)
    if word is None:
        return {}
    chosen = nearest_effort(word, supported)
    _say_if_raised(model, word, chosen)
    if chosen is None:
        return {}
    if not (isinstance(summary, str) and summary.strip().lower() in SUMMARIES):
        summary = "auto"
    return {"reasoning_effort": chosen, "reasoning_summary": summary.strip().lower()}


# ---------------------------------------------------------------- what the gateway does not do


def refuse_unsupported(params: dict[str, Any], model: str, policy: Policy) -> None:
    """Remove ``response_format``, ``logprobs`` and ``top_logprobs`` from ``params``; raise LiteLLM's
    ``UnsupportedParamsError`` for a use of them the gateway would silently ignore, unless the policy lets it go."""
    response_format = params.pop("response_format", None)
    logprobs, top_logprobs = params.pop("logprobs", None), params.pop("top_logprobs", None)
    refused: list[str] = []
    kind = response_format.get("type") if isinstance(response_format, Mapping) else response_format
    if response_format is not None and kind != "text":
        if not (kind == "json_schema" and policy.validates_json):
            refused.append("response_format")
    if logprobs not in (None, False) or top_logprobs not in (None, 0):
        refused += [name for name, v in (("logprobs", logprobs), ("top_logprobs", top_logprobs)) if v]
    if not refused or policy.drop_params:
        return
    hint = (
        " For a json_schema on calls that are not streamed, litellm.enable_json_schema_validation = True (the"
        " proxy: litellm_settings: enable_json_schema_validation: true) lets LiteLLM check the answer against the"
        " schema instead."
        if "response_format" in refused
        else ""
    )
    raise litellm.UnsupportedParamsError(
        message=(
            f"{PROVIDER} does not support parameters: {refused}, for model={model}: the CodeBuddy gateway does not"
            " enforce response_format and returns no logprobs. To send the request without them, set"
            " drop_params=True (per call or deployment, or litellm.drop_params; the proxy: litellm_settings:"
            f" drop_params: true).{hint}"
        ),
        llm_provider=PROVIDER,
        model=model,
    )


def gateway_params(
    model: str, params: dict[str, Any], policy: Policy, supported: Sequence[str] | None
) -> dict[str, Any]:
    """Remove the parameters the gateway reads its own way from ``params``; the body fields to send for them."""
    refuse_unsupported(params, model, policy)
    fields = reasoning_fields(params, model, supported)
    limit = token_limit(params, model)
    fields["max_tokens"] = limit if limit is not None else default_max_tokens(model)
    return fields
